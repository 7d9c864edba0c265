// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Package traits keep an app's dependency graph to what it uses: an app that enables only
// `traits: ["Hummingbird", "Redis"]` resolves no Vapor, PostgreSQL or SQLite package (checked by
// scripts/check-consumer-resolution.sh in .ci/run). All traits are on by default, so this
// package's own `swift build`, `swift test` and `swift run session-demo` need nothing extra.
let package = Package(
    name: "SessionKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SessionKit", targets: ["SessionKit"]),
        .library(name: "SessionKitHummingbird", targets: ["SessionKitHummingbird"]),
        .library(name: "SessionKitHummingbirdAuth", targets: ["SessionKitHummingbirdAuth"]),
        .library(name: "SessionKitTesting", targets: ["SessionKitTesting"]),
        .library(name: "SessionKitSQLite", targets: ["SessionKitSQLite"]),
        .library(name: "SessionKitPostgres", targets: ["SessionKitPostgres"]),
        .library(name: "SessionKitRedis", targets: ["SessionKitRedis"]),
        .library(name: "SessionKitRESP", targets: ["SessionKitRESP"]),
        .library(name: "SessionKitVapor", targets: ["SessionKitVapor"]),
        .executable(name: "session-demo-vapor", targets: ["session-demo-vapor"]),
        .executable(name: "session-demo", targets: ["session-demo"]),
    ],
    traits: [
        .trait(name: "Hummingbird", description: "The Hummingbird 2 adapter (SessionKitHummingbird)."),
        .trait(
            name: "HummingbirdAuth",
            description: "hummingbird-auth's identity on SessionKit sessions (SessionKitHummingbirdAuth).",
            enabledTraits: ["Hummingbird"]
        ),
        .trait(name: "Vapor", description: "The Vapor 4 adapter (SessionKitVapor)."),
        .trait(name: "PostgreSQL", description: "The PostgreSQL store (SessionKitPostgres)."),
        .trait(name: "SQLite", description: "The SQLite store (SessionKitSQLite)."),
        .trait(name: "Redis", description: "The Redis/Valkey store (SessionKitRedis)."),
        .trait(name: "Development", description: "The demos and the package's own HTTP test tools."),
        .default(enabledTraits: ["Hummingbird", "HummingbirdAuth", "Vapor", "PostgreSQL", "SQLite", "Redis", "Development"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "SessionKit",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitTesting",
            dependencies: ["SessionKit", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitSQLite",
            dependencies: [
                "SessionKit",
                .product(name: "SQLiteNIO", package: "sqlite-nio", condition: .when(traits: ["SQLite"])),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitPostgres",
            dependencies: [
                "SessionKit",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitRESP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitRedis",
            dependencies: [
                "SessionKit",
                "SessionKitRESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Redis"])),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitHummingbird",
            dependencies: [
                "SessionKit",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitHummingbirdAuth",
            dependencies: [
                "SessionKit",
                "SessionKitHummingbird",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth", condition: .when(traits: ["HummingbirdAuth"])),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionKitVapor",
            dependencies: [
                "SessionKit",
                .product(name: "Vapor", package: "vapor", condition: .when(traits: ["Vapor"])),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionDemoVapor",
            dependencies: [
                "SessionKit",
                "SessionDemoCore",
                "SessionKitVapor",
                .product(name: "Vapor", package: "vapor", condition: .when(traits: ["Vapor"])),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "session-demo-vapor",
            dependencies: ["SessionDemoVapor"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionDemoCore",
            dependencies: [
                "SessionKit",
                "SessionKitSQLite",
                "SessionKitPostgres",
                "SessionKitRedis",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus", condition: .when(traits: ["Development"])),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SessionDemoApp",
            dependencies: [
                "SessionKit",
                "SessionDemoCore",
                "SessionKitHummingbird",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "session-demo",
            dependencies: [
                "SessionDemoApp",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitTests",
            dependencies: [
                "SessionKit", "SessionKitTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitSQLiteTests",
            dependencies: ["SessionKit", "SessionKitTesting", "SessionKitSQLite"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitPostgresTests",
            dependencies: [
                "SessionKit", "SessionKitTesting", "SessionKitPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitRedisTests",
            dependencies: [
                "SessionKit", "SessionKitTesting", "SessionKitRedis", "SessionKitRESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionDemoProcessTests",
            dependencies: [
                "SessionKit", "SessionKitTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client", condition: .when(traits: ["Development"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the HTTP-level test targets share: the cookie jar and response helpers.
        .target(
            name: "HTTPTestSupport",
            dependencies: [
                "SessionKitTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/HTTPTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitHummingbirdTests",
            dependencies: [
                "SessionKit",
                "SessionKitTesting",
                "HTTPTestSupport",
                "SessionKitHummingbird",
                "SessionKitHummingbirdAuth",
                "SessionDemoApp",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth", condition: .when(traits: ["HummingbirdAuth"])),
                .product(name: "HummingbirdTesting", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitSecurityTests",
            dependencies: [
                "SessionKit",
                "SessionKitTesting",
                "HTTPTestSupport",
                "SessionKitHummingbird",
                "SessionDemoApp",
                "SessionKitSQLite",
                "SessionKitPostgres",
                "SessionKitRedis",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "HummingbirdTesting", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio", condition: .when(traits: ["SQLite"])),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionKitParityTests",
            dependencies: [
                "SessionKit",
                "SessionKitTesting",
                "SessionKitHummingbird",
                "SessionKitVapor",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "Vapor", package: "vapor", condition: .when(traits: ["Vapor"])),
                .product(name: "AsyncHTTPClient", package: "async-http-client", condition: .when(traits: ["Development"])),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// The DocC catalogs (Sources/*/*.docc) are built by swift-docc-plugin, which `.ci/run` adds by
// setting SESSIONKIT_DOCC=1 (`SESSIONKIT_DOCC=1 swift package generate-documentation --target
// SessionKit`). Only on request, so that an app that depends on SessionKit resolves no
// documentation tooling.
if Context.environment["SESSIONKIT_DOCC"] != nil {
    package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"))
}
