import Foundation
import Hummingbird
import Logging
import SessionKit
import SessionKitHummingbird
@_exported import SessionDemoCore

/// Builds the demo web app: HTML pages for people, a JSON API for scripts, one session engine.
public enum DemoApplication {
    /// The password every demo user signs in with.
    public static let password = DemoAPI.password

    /// Creates the session engine the options describe (memory and sealed cookies).
    public static func makeEngine(
        _ options: DemoOptions,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SessionEngine {
        try DemoSessions.makeEngine(options, clock: clock, logger: logger, environment: environment)
    }

    /// Builds the application for any store: opens it, runs its migration before serving, and
    /// runs its background services (pool, sweeper) with the server.
    public static func make(_ options: DemoOptions, clock: any SessionClock = SystemSessionClock()) async throws -> some ApplicationProtocol {
        var logger = Logger(label: "session-demo")
        logger.logLevel = .info
        let sessions = try await DemoSessions.make(options, clock: clock, logger: logger)
        var app = try application(options, engine: sessions.engine, metrics: sessions.metricsEndpoint)
        app.addServices(sessions.services)
        app.beforeServerStarts(perform: sessions.prepare)
        return app
    }

    /// Builds the application for the options (and an engine, when a test supplies its own).
    public static func build(_ options: DemoOptions, engine: SessionEngine? = nil) throws -> some ApplicationProtocol {
        try application(options, engine: engine)
    }

    static func application(
        _ options: DemoOptions,
        engine: SessionEngine?,
        metrics: (@Sendable () async -> String)? = nil
    ) throws -> Application<RouterResponder<DemoContext>> {
        var logger = Logger(label: "session-demo")
        logger.logLevel = .info
        let engine = try engine ?? makeEngine(options, logger: logger)
        let router = Router(context: DemoContext.self)
        router.add(middleware: SessionKitMiddleware(engine: engine))
        router.get("/healthz") { _, _ in "ok" }
        router.get("/readyz") { _, _ -> Response in
            let readiness = await DemoAPI.readiness(engine)
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"]
            if let retryAfter = readiness.retryAfter { headers[.retryAfter] = retryAfter }
            return Response(
                status: .init(code: readiness.status),
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: readiness.body))
            )
        }
        if let metrics {
            router.get("/metrics") { _, _ -> Response in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(string: await metrics()))
                )
            }
        }
        APIRoutes.add(to: router)
        PageRoutes.add(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            logger: logger
        )
    }
}
