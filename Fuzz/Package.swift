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
        // The libFuzzer driver call every target ends with.
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "FuzzCookieHeader",
            dependencies: [
                "FuzzDriver",
                .product(name: "SessionKit", package: "SessionKit"),
                .product(name: "SessionKitTesting", package: "SessionKit"),
            ]
        ),
        .executableTarget(
            name: "FuzzToken",
            dependencies: ["FuzzDriver", .product(name: "SessionKit", package: "SessionKit")]
        ),
        .executableTarget(
            name: "FuzzSealedCookie",
            dependencies: ["FuzzDriver", .product(name: "SessionKit", package: "SessionKit")]
        ),
        .executableTarget(
            name: "FuzzRESPParser",
            dependencies: ["FuzzDriver", .product(name: "SessionKitRESP", package: "SessionKit")]
        ),
    ]
)
