#!/usr/bin/env bash
# Proves that an app resolves only the packages of what it uses (issue: "a package that
# resolves only what an app uses"). For each combination it creates a throwaway consumer
# package that depends on this checkout with only the matching traits enabled, runs
# `swift package resolve`, and checks the resolved set against what must be absent.
#
#   scripts/check-consumer-resolution.sh
#
# Hummingbird and Vapor themselves depend on async-http-client (HummingbirdTesting, Vapor's
# `app.client`), so it is resolved for either framework; it is reported, not forbidden.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0

check() {
    local name="$1" traits="$2" products="$3" forbidden="$4"
    local dir="$work/$name"
    mkdir -p "$dir/Sources/App"
    local deps="" imports=""
    for product in $products; do
        deps+="                .product(name: \"$product\", package: \"main\"),"$'\n'
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
    "vapor fluent fluent-kit postgres-nio sqlite-nio"
check vapor-postgres '"Vapor", "PostgreSQL"' "SessionKitVapor SessionKitPostgres" \
    "hummingbird sqlite-nio"
[ "$status" -eq 0 ] && echo "consumer resolution: 2 passed, 0 failed" || echo "consumer resolution: failed"
exit "$status"
