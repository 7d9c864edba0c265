// swift-tools-version:6.2
// libFuzzer targets for SessionKit's parsers. Built with the fuzzer and address sanitizers,
// covering only the modules they exercise (never the web frameworks):
//   scripts/fuzz.sh [seconds-per-target]
import PackageDescription

let package = Package(
    name: "SessionKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SessionKit", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "FuzzCookieHeader",
            dependencies: [
                .product(name: "SessionKit", package: "SessionKit"),
                .product(name: "SessionKitTesting", package: "SessionKit"),
            ]
        ),
        .executableTarget(
            name: "FuzzToken",
            dependencies: [.product(name: "SessionKit", package: "SessionKit")]
        ),
        .executableTarget(
            name: "FuzzSealedCookie",
            dependencies: [.product(name: "SessionKit", package: "SessionKit")]
        ),
        .executableTarget(
            name: "FuzzRESPParser",
            dependencies: [.product(name: "SessionKitRESP", package: "SessionKit")]
        ),
    ]
)
