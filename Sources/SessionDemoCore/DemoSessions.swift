import Foundation
import Logging
import PostgresNIO
import Prometheus
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
    /// The engine's metrics with `--metrics`, for `GET /metrics`; `nil` without.
    public let metrics: PrometheusCollectorRegistry?
    /// The Redis store's client-side cache (`client_cache=on`), whose counters `GET /metrics`
    /// adds; `nil` for every other store.
    public let redisCache: RedisSessionCache?

    /// What `GET /metrics` answers (Prometheus' text exposition format), or `nil` without
    /// `--metrics` (then there is no such route). Each scrape first sets the active-sessions
    /// gauge, for a store that counts cheaply, and appends the client-side cache's counters.
    public var metricsEndpoint: (@Sendable () async -> String)? {
        guard let metrics else { return nil }
        let engine = engine
        let redisCache = redisCache
        return {
            await engine.recordActiveSessions()
            return metrics.emitToString() + (redisCache.map(Self.cacheMetrics) ?? "")
        }
    }

    init(
        engine: SessionEngine,
        services: [any Service],
        prepare: @escaping @Sendable () async throws -> Void,
        metrics: PrometheusCollectorRegistry?,
        redisCache: RedisSessionCache? = nil
    ) {
        self.engine = engine
        self.services = services
        self.prepare = prepare
        self.metrics = metrics
        self.redisCache = redisCache
    }

    /// The cache's counters in Prometheus' text format: loads answered from memory and sent to
    /// the server, invalidations received, and the sessions and bytes held now.
    static func cacheMetrics(_ cache: RedisSessionCache) -> String {
        """
        # TYPE sessionkit_redis_cache_hits_total counter
        sessionkit_redis_cache_hits_total \(cache.hits)
        # TYPE sessionkit_redis_cache_misses_total counter
        sessionkit_redis_cache_misses_total \(cache.misses)
        # TYPE sessionkit_redis_cache_invalidations_total counter
        sessionkit_redis_cache_invalidations_total \(cache.invalidations)
        # TYPE sessionkit_redis_cache_sessions gauge
        sessionkit_redis_cache_sessions \(cache.count)
        # TYPE sessionkit_redis_cache_bytes gauge
        sessionkit_redis_cache_bytes \(cache.bytes)

        """
    }

    /// The session settings the demos use with every store.
    public static func configuration(_ options: DemoOptions) -> SessionConfiguration {
        var configuration = SessionConfiguration()
        // Browsers drop `Secure` cookies on plain http://127.0.0.1, so the demo defaults to a
        // non-Secure cookie named `id`; `--secure-cookies` restores the production default.
        configuration.cookie = options.secureCookies ? SessionCookieOptions() : .insecureLocalDevelopment
        configuration.concurrentSessionLimit = .init(maxSessions: 10, policy: .evictOldest)
        if let touchInterval = options.touchInterval { configuration.touchInterval = touchInterval }
        return configuration
    }

    /// Creates the engine for the stores that need no connection (memory, sealed cookies).
    public static func makeEngine(
        _ options: DemoOptions,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        metrics: PrometheusCollectorRegistry? = nil
    ) throws -> SessionEngine {
        let configuration = configuration(options)
        let factory = metrics.map { PrometheusMetricsFactory(registry: $0) }
        switch options.store {
        case .sqlite, .postgres, .redis:
            throw SessionConfigurationError("\(options.store) needs DemoSessions.make (it opens connections)")
        case .memory:
            let store = MemorySessionStore(maxSessions: options.memoryCapacity, clock: clock)
            return try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger, metricsFactory: factory)
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
            return try SessionEngine(sealedCookies: backend, configuration: configuration, clock: clock, logger: logger, metricsFactory: factory)
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
        let metrics = options.metrics ? PrometheusCollectorRegistry() : nil
        let factory = metrics.map { PrometheusMetricsFactory(registry: $0) }
        switch options.store {
        case .memory, .cookie:
            let engine = try makeEngine(options, clock: clock, logger: logger, environment: environment, metrics: metrics)
            return DemoSessions(engine: engine, services: [], prepare: {}, metrics: metrics)
        case .sqlite(let path):
            let store = try await SQLiteSessionStore.open(path: path, clock: clock, logger: logger)
            try await store.migrate()
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger, metricsFactory: factory)
            return DemoSessions(engine: engine, services: [SessionSweeper(store: store, logger: logger)], prepare: {}, metrics: metrics)
        case .postgres(let url):
            // One host: a plain pool. Several (a primary and its standbys): a client that
            // follows the writable primary.
            let failover = try PostgresConnectionURL.failoverConfiguration(from: url)
            let touchCommit = try PostgresConnectionURL.touchCommit(from: url)
            let store: PostgresSessionStore
            let pool: any Service
            if failover.hosts.count == 1 {
                let client = PostgresClient(configuration: failover.clientConfiguration(for: failover.hosts[0]), backgroundLogger: logger)
                (store, pool) = (PostgresSessionStore(client: client, touchCommit: touchCommit, clock: clock, logger: logger), client)
            } else {
                let primaries = try PostgresPrimaryClient(configuration: failover, logger: logger)
                (store, pool) = (PostgresSessionStore(primaryClient: primaries, touchCommit: touchCommit, clock: clock, logger: logger), primaries)
            }
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger, metricsFactory: factory)
            return DemoSessions(
                engine: engine,
                services: [pool, SessionSweeper(store: store, logger: logger)],
                prepare: { try await store.migrate() },
                metrics: metrics
            )
        case .redis(let url):
            let store = try RedisSessionStore(url: url, clock: clock)
            let engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger, metricsFactory: factory)
            return DemoSessions(engine: engine, services: [], prepare: {}, metrics: metrics, redisCache: store.cache)
        }
    }
}
