// swift-tools-version:6.2
// Thread Sanitizer runs of SessionKit's engine and memory store. Kept out of the main package
// so the sanitizer build covers only the core modules, never the web frameworks:
//   cd Sanitizers && swift test --sanitize=thread --scratch-path ../.build-tsan
import PackageDescription

let package = Package(
    name: "SessionKitSanitizers",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SessionKit", path: "..")
    ],
    targets: [
        .testTarget(
            name: "ConcurrencyTests",
            dependencies: [
                .product(name: "SessionKit", package: "SessionKit"),
                .product(name: "SessionKitTesting", package: "SessionKit"),
            ]
        )
    ]
)
