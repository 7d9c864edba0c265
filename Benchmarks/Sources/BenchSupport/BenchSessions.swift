import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SessionKit
import SessionKitPostgres
import SessionKitRedis
import SessionKitSQLite

/// The SessionKit engine for one benchmark store, with what it needs running beside it.
public struct BenchSessions: Sendable {
    /// The session key every route reads or increments.
    public static let counter = SessionKey<Int>("n")

    /// The engine the adapter middleware drives.
    public let engine: SessionEngine
    /// Background services (connection pools) to run for as long as the server runs.
    public let services: [any Service]
    /// Runs once the services run and before the server accepts requests (migrations).
    public let prepare: @Sendable () async throws -> Void

    /// Builds the engine for `store`: `memory`, `sqlite`, `postgres`, `redis`, `redis-cached`
    /// (Redis with the client-side cache), `redis-cluster` or `cookie`.
    ///
    /// PostgreSQL, Redis and the cluster come from `SESSIONKIT_POSTGRES_URL`,
    /// `SESSIONKIT_REDIS_URL` and `SESSIONKIT_REDIS_CLUSTER_URL`;
    /// SQLite uses `BENCH_SQLITE_PATH` (default: a fresh file in the temporary directory).
    /// The configuration is SessionKit's production default (`__Host-id`, idle and absolute
    /// timeouts), so the numbers are what an app gets without tuning.
    public static func make(store: String, logger: Logger) async throws -> BenchSessions {
        let environment = ProcessInfo.processInfo.environment
        switch store {
        case "memory":
            return BenchSessions(engine: try SessionEngine(store: MemorySessionStore(), logger: logger), services: [], prepare: {})
        case "cookie":
            let backend = SealedCookieBackend(keyRing: KeyRing.ephemeral())
            return BenchSessions(engine: try SessionEngine(sealedCookies: backend, logger: logger), services: [], prepare: {})
        case "sqlite":
            let path = environment["BENCH_SQLITE_PATH"] ?? NSTemporaryDirectory() + "sessionkit-bench-\(getpid()).sqlite"
            let store = try await SQLiteSessionStore.open(path: path, logger: logger)
            try await store.migrate()
            return BenchSessions(engine: try SessionEngine(store: store, logger: logger), services: [], prepare: {})
        case "postgres":
            let url = try required("SESSIONKIT_POSTGRES_URL", environment)
            let client = PostgresClient(configuration: try PostgresConnectionURL.configuration(from: url), backgroundLogger: logger)
            let store = PostgresSessionStore(client: client, logger: logger)
            return BenchSessions(
                engine: try SessionEngine(store: store, logger: logger),
                services: [client],
                prepare: { try await store.migrate() }
            )
        case "redis":
            let url = try required("SESSIONKIT_REDIS_URL", environment)
            let store = RedisSessionStore(pool: RESPConnectionPool(configuration: try RESPClientConfiguration(url: url)))
            return BenchSessions(engine: try SessionEngine(store: store, logger: logger), services: [], prepare: {})
        case "redis-cached":
            // The same server, with loads answered from the client-side cache (CLIENT TRACKING).
            let url = try required("SESSIONKIT_REDIS_URL", environment)
            let store = RedisSessionStore(configuration: try RESPClientConfiguration(url: url), cache: RedisSessionCache())
            return BenchSessions(engine: try SessionEngine(store: store, logger: logger), services: [], prepare: {})
        case "redis-cluster":
            let store = try RedisSessionStore(url: try required("SESSIONKIT_REDIS_CLUSTER_URL", environment))
            return BenchSessions(engine: try SessionEngine(store: store, logger: logger), services: [], prepare: {})
        default:
            throw SessionConfigurationError("unknown store \(store)")
        }
    }

    /// Reads a required environment variable or fails with a message naming it.
    public static func required(_ name: String, _ environment: [String: String]) throws -> String {
        guard let value = environment[name], !value.isEmpty else {
            throw SessionConfigurationError("\(name) is not set (scripts/services.sh start prints it)")
        }
        return value
    }
}
