import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SessionKit
import SessionKitPostgres
import SessionKitRedis
import SessionKitSQLite

/// The session engine for a `--store` choice, with the background services it needs
/// (connection pool, sweeper) and the migration to run before serving.
public struct DemoSessions: Sendable {
    /// The engine handlers use.
    public let engine: SessionEngine
    /// Services to run next to the server.
    public let services: [any Service]
    /// Work to do once the services run and before the server accepts requests (migrations).
    public let prepare: @Sendable () async throws -> Void

    /// Opens the store the options name.
    public static func make(
        _ options: DemoOptions,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> DemoSessions {
        let configuration = DemoApplication.sessionConfiguration(options)
        switch options.store {
        case .memory, .cookie:
            let engine = try DemoApplication.makeEngine(options, clock: clock, logger: logger, environment: environment)
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
            let pool = RedisConnectionPool(configuration: try RedisConfiguration(url: url))
            let store = RedisSessionStore(pool: pool, clock: clock)
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
            return DemoSessions(engine: engine, services: [], prepare: {})
        }
    }
}
