#!/usr/bin/env bash
# Proves that an app resolves only the packages of what it uses (issue: "a package that
# resolves only what an app uses"). For each combination it creates a throwaway consumer
# package that depends on this checkout with only the matching traits enabled, runs
# `swift package resolve`, and checks the resolved set against what must be absent.
#
#   scripts/check-consumer-resolution.sh          # resolution checks only (about 40 s)
#   scripts/check-consumer-resolution.sh --build  # also builds an app that imports SessionKit's
#                                                 # Hummingbird adapter and hummingbird-auth together
#
# Hummingbird and Vapor themselves depend on async-http-client (HummingbirdTesting, Vapor's
# `app.client`), so it is resolved for either framework; it is reported, not forbidden.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# A path dependency's package identity is its folder's name (a fresh clone's folder differs).
identity="$(basename "$root")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0

check() {
    local name="$1" traits="$2" products="$3" forbidden="$4"
    local dir="$work/$name"
    mkdir -p "$dir/Sources/App"
    local deps="" imports=""
    for product in $products; do
        deps+="                .product(name: \"$product\", package: \"$identity\"),"$'\n'
        imports+="import $product"$'\n'
    done
    cat > "$dir/Package.swift" <<MANIFEST
// swift-tools-version:6.2
import PackageDescription
let package = Package(
    name: "Consumer",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "$root", traits: [$traits])],
    targets: [
        .executableTarget(
            name: "App",
            dependencies: [
$deps            ]
        )
    ]
)
MANIFEST
    printf '%s\nprint("ok")\n' "$imports" > "$dir/Sources/App/main.swift"
    (cd "$dir" && swift package resolve >/dev/null 2>"$dir/resolve.log") || { cat "$dir/resolve.log"; echo "FAIL $name: resolve failed"; status=1; return; }
    local resolved
    resolved="$(ls "$dir/.build/checkouts" | sort | tr '\n' ' ')"
    echo "$name resolves $(ls "$dir/.build/checkouts" | wc -l) packages: $resolved"
    for package in $forbidden; do
        if [ -d "$dir/.build/checkouts/$package" ]; then
            echo "FAIL $name: resolved $package"
            status=1
        fi
    done
}

check hummingbird-redis '"Hummingbird", "Redis"' "SessionKitHummingbird SessionKitRedis" \
    "vapor fluent fluent-kit postgres-nio sqlite-nio hummingbird-auth"
check vapor-postgres '"Vapor", "PostgreSQL"' "SessionKitVapor SessionKitPostgres" \
    "hummingbird sqlite-nio"
# An app that uses hummingbird-auth's sessions and SessionKit's adapter side by side must compile
# without module qualifiers: no public name of SessionKit's may clash with hummingbird-auth's.
coexistence() {
    local dir="$work/coexistence"
    mkdir -p "$dir/Sources/App"
    cat > "$dir/Package.swift" <<MANIFEST
// swift-tools-version:6.2
import PackageDescription
let package = Package(
    name: "Coexistence",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "$root", traits: ["Hummingbird"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "App",
            dependencies: [
                .product(name: "SessionKit", package: "$identity"),
                .product(name: "SessionKitHummingbird", package: "$identity"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        )
    ]
)
MANIFEST
    cat > "$dir/Sources/App/main.swift" <<'SWIFT'
import Hummingbird
import HummingbirdAuth
import SessionKit
import SessionKitHummingbird

/// A context for SessionKit's middleware and one for hummingbird-auth's, no qualifiers.
struct AppContext: SessionKitRequestContext {
    var coreContext: CoreRequestContextStorage
    var session: SessionHandle = .inactive
    init(source: Source) { coreContext = .init(source: source) }
}
typealias AuthContext = BasicSessionRequestContext<String, String>
let router = Router(context: AppContext.self)
router.add(middleware: SessionKitMiddleware(engine: try SessionEngine(store: MemorySessionStore())))
let authRouter = Router(context: AuthContext.self)
let basic = BasicSessionKitRequestContext.self
print("ok", basic, authRouter)
SWIFT
    if (cd "$dir" && swift build >"$dir/build.log" 2>&1 && "$(swift build --show-bin-path)/App" >/dev/null); then
        echo "coexistence with hummingbird-auth: builds and runs"
    else
        tail -30 "$dir/build.log"
        echo "FAIL coexistence: SessionKit and hummingbird-auth do not build side by side"
        status=1
    fi
}
if [ "${1:-}" = "--build" ]; then coexistence; fi

[ "$status" -eq 0 ] && echo "consumer checks passed" || echo "consumer checks failed"
exit "$status"
