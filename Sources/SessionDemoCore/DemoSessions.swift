import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SessionKit
import SessionKitPostgres
import SessionKitRedis
import SessionKitSQLite

/// The session engine for a `--store` choice — shared by the Hummingbird and Vapor demos, so
/// both read and write the same sessions — with the background services it needs
/// (connection pool, sweeper) and the migration to run before serving.
public struct DemoSessions: Sendable {
    /// The engine handlers use.
    public let engine: SessionEngine
    /// Services to run next to the server.
    public let services: [any Service]
    /// Work to do once the services run and before the server accepts requests (migrations).
    public let prepare: @Sendable () async throws -> Void

    /// The session settings the demos use with every store.
    public static func configuration(_ options: DemoOptions) -> SessionConfiguration {
        var configuration = SessionConfiguration()
        // Browsers drop `Secure` cookies on plain http://127.0.0.1, so the demo defaults to a
        // non-Secure cookie named `id`; `--secure-cookies` restores the production default.
        configuration.cookie = options.secureCookies ? SessionCookieOptions() : .insecureLocalDevelopment
        configuration.concurrentSessionLimit = .init(maxSessions: 10, policy: .evictOldest)
        return configuration
    }

    /// Creates the engine for the stores that need no connection (memory, sealed cookies).
    public static func makeEngine(
        _ options: DemoOptions,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SessionEngine {
        let configuration = configuration(options)
        switch options.store {
        case .sqlite, .postgres, .redis:
            throw SessionConfigurationError("\(options.store) needs DemoSessions.make (it opens connections)")
        case .memory:
            let store = MemorySessionStore(maxSessions: options.memoryCapacity, clock: clock)
            return try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
        case .cookie:
            let keyRing: KeyRing
            if let text = environment["SESSIONKIT_KEYS"], !text.isEmpty {
                keyRing = try KeyRing.parse(text)
            } else {
                keyRing = KeyRing.ephemeral()
                logger.warning(
                    "SESSIONKIT_KEYS is not set: sealing cookies with a throwaway key (sessions end when the process stops). For real use: export SESSIONKIT_KEYS=\"k1=$(openssl rand -base64 32)\""
                )
            }
            let backend = SealedCookieBackend(keyRing: keyRing, revocationStore: MemorySessionStore(clock: clock))
            return try SessionEngine(sealedCookies: backend, configuration: configuration, clock: clock, logger: logger)
        }
    }

    /// Opens the store the options name.
    public static func make(
        _ options: DemoOptions,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> DemoSessions {
        let configuration = Self.configuration(options)
        switch options.store {
        case .memory, .cookie:
            let engine = try makeEngine(options, clock: clock, logger: logger, environment: environment)
            return DemoSessions(engine: engine, services: [], prepare: {})
        case .sqlite(let path):
            let store = try await SQLiteSessionStore.open(path: path, clock: clock, logger: logger)
            try await store.migrate()
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
            return DemoSessions(engine: engine, services: [SessionSweeper(store: store, logger: logger)], prepare: {})
        case .postgres(let url):
            let client = PostgresClient(configuration: try PostgresConnectionURL.configuration(from: url), backgroundLogger: logger)
            let store = PostgresSessionStore(client: client, clock: clock, logger: logger)
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
            return DemoSessions(
                engine: engine,
                services: [client, SessionSweeper(store: store, logger: logger)],
                prepare: { try await store.migrate() }
            )
        case .redis(let url):
            let pool = RESPConnectionPool(configuration: try RESPClientConfiguration(url: url))
            let store = RedisSessionStore(pool: pool, clock: clock)
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
            return DemoSessions(engine: engine, services: [], prepare: {})
        }
    }
}
