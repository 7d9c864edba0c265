// swift-tools-version:6.2
// SessionKit's benchmarks, kept out of the main package so `swift build` and `swift test`
// stay lean for users (none of the frameworks compared here is built for them). Always
// measure release builds; `scripts/bench-http.sh` builds and runs everything:
//   cd Benchmarks && swift run -c release --scratch-path ../.build-bench MicroBenchmarks
//   bash scripts/bench-http.sh [--quick]
import PackageDescription

let package = Package(
    name: "SessionKitBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SessionKit", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/vapor/fluent.git", from: "4.13.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // Counts heap allocations by wrapping glibc's allocator (Linux only; a no-op elsewhere).
        .target(name: "AllocationCounter"),
        .executableTarget(
            name: "MicroBenchmarks",
            dependencies: [
                "AllocationCounter",
                .product(name: "SessionKit", package: "SessionKit"),
                .product(name: "SessionKitSQLite", package: "SessionKit"),
                .product(name: "SessionKitTesting", package: "SessionKit"),
            ]
        ),
        // What both framework servers share: the command line and the SessionKit engine per store.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "SessionKit", package: "SessionKit"),
                .product(name: "SessionKitSQLite", package: "SessionKit"),
                .product(name: "SessionKitPostgres", package: "SessionKit"),
                .product(name: "SessionKitRedis", package: "SessionKit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "BenchHummingbird",
            dependencies: [
                "BenchSupport",
                .product(name: "SessionKitHummingbird", package: "SessionKit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
            ]
        ),
        .executableTarget(
            name: "BenchVapor",
            dependencies: [
                "BenchSupport",
                .product(name: "SessionKitVapor", package: "SessionKit"),
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
            ]
        ),
    ]
)
