import Foundation
import Hummingbird
import Logging
import SessionKit
import SessionKitHummingbird

/// Builds the demo web app: HTML pages for people, a JSON API for scripts, one session engine.
public enum DemoApplication {
    /// The password every demo user signs in with.
    public static let password = "demo"

    /// Creates the session engine the options describe.
    public static func makeEngine(
        _ options: DemoOptions,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SessionEngine {
        let configuration = sessionConfiguration(options)
        switch options.store {
        case .sqlite, .postgres, .redis:
            throw SessionConfigurationError("\(options.store) needs DemoSessions.make (it opens connections)")
        case .memory:
            return try SessionEngine(store: MemorySessionStore(clock: clock), configuration: configuration, clock: clock, logger: logger)
        case .cookie:
            let keyRing: KeyRing
            if let text = environment["SESSIONKIT_KEYS"], !text.isEmpty {
                keyRing = try KeyRing.parse(text)
            } else {
                keyRing = KeyRing.ephemeral()
                logger.warning("SESSIONKIT_KEYS is not set: sealing cookies with a throwaway key (sessions end when the process stops). For real use: export SESSIONKIT_KEYS=\"k1=$(openssl rand -base64 32)\"")
            }
            let backend = SealedCookieBackend(keyRing: keyRing, revocationStore: MemorySessionStore(clock: clock))
            return try SessionEngine(sealedCookies: backend, configuration: configuration, clock: clock, logger: logger)
        }
    }

    /// The session settings the demo uses with every store.
    static func sessionConfiguration(_ options: DemoOptions) -> SessionConfiguration {
        var configuration = SessionConfiguration()
        // Browsers drop `Secure` cookies on plain http://127.0.0.1, so the demo defaults to a
        // non-Secure cookie named `id`; `--secure-cookies` restores the production default.
        configuration.cookie = options.secureCookies ? SessionCookieOptions() : .insecureLocalDevelopment
        configuration.concurrentSessionLimit = .init(maxSessions: 10, policy: .evictOldest)
        return configuration
    }

    /// Builds the application for any store: opens it, runs its migration before serving, and
    /// runs its background services (pool, sweeper) with the server.
    public static func make(_ options: DemoOptions, clock: any SessionClock = SystemSessionClock()) async throws -> some ApplicationProtocol {
        var logger = Logger(label: "session-demo")
        logger.logLevel = .info
        let sessions = try await DemoSessions.make(options, clock: clock, logger: logger)
        var app = try application(options, engine: sessions.engine)
        app.addServices(sessions.services)
        app.beforeServerStarts(perform: sessions.prepare)
        return app
    }

    /// Builds the application for the options (and an engine, when a test supplies its own).
    public static func build(_ options: DemoOptions, engine: SessionEngine? = nil) throws -> some ApplicationProtocol {
        try application(options, engine: engine)
    }

    static func application(_ options: DemoOptions, engine: SessionEngine?) throws -> Application<RouterResponder<DemoContext>> {
        var logger = Logger(label: "session-demo")
        logger.logLevel = .info
        let engine = try engine ?? makeEngine(options, logger: logger)
        let router = Router(context: DemoContext.self)
        router.add(middleware: SessionKitMiddleware(engine: engine))
        router.get("/healthz") { _, _ in "ok" }
        APIRoutes.add(to: router)
        PageRoutes.add(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            logger: logger
        )
    }
}
