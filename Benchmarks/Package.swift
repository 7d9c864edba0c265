// swift-tools-version:6.2
// SessionKit's benchmarks, kept out of the main package so `swift build` and `swift test`
// stay lean for users. Always measure release builds:
//   cd Benchmarks && swift run -c release --scratch-path ../.build-bench MicroBenchmarks
import PackageDescription

let package = Package(
    name: "SessionKitBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SessionKit", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "MicroBenchmarks",
            dependencies: [
                .product(name: "SessionKit", package: "SessionKit"),
                .product(name: "SessionKitTesting", package: "SessionKit"),
            ]
        )
    ]
)
