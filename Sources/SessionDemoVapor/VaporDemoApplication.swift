import Foundation
import Logging
import ServiceLifecycle
import SessionDemoCore
import SessionKit
import SessionKitVapor
import Vapor

/// The Vapor twin of `session-demo`: the same JSON API over the same stores and settings
/// (``SessionDemoCore/DemoSessions``), so a Hummingbird process and a Vapor process can
/// serve one user's session in turns.
public enum VaporDemoApplication {
    /// Adds the JSON API routes to an application whose middleware already includes
    /// `SessionKitMiddleware`.
    /// With `metrics`, `GET /metrics` answers its text (Prometheus' exposition format).
    public static func routes(_ app: Application, engine: SessionEngine, metrics: (@Sendable () async -> String)? = nil) {
        app.get("healthz") { _ in "ok" }
        if let metrics {
            app.get("metrics") { _ -> Response in
                let headers = HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")])
                return Response(status: .ok, headers: headers, body: .init(string: await metrics()))
            }
        }
        app.get("readyz") { _ async -> Response in
            let readiness = await DemoAPI.readiness(engine)
            var headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
            if let retryAfter = readiness.retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
            return Response(status: HTTPResponseStatus(statusCode: readiness.status), headers: headers, body: .init(string: readiness.body))
        }
        let api = app.grouped("api")
        api.get("me") { req in try await run { try await DemoAPI.me(req.sessionHandle) } }
        api.post("visit") { req in
            try await run {
                try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                return try await DemoAPI.visit(req.sessionHandle)
            }
        }
        api.get("counter") { req in try await run { try await DemoAPI.counterValue(req.sessionHandle) } }
        for write in DemoAPI.CounterWrite.allCases {
            let path: [PathComponent] = write == .increment ? ["counter"] : ["counter", .constant(write.rawValue)]
            api.post(path) { req in
                try await run {
                    try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                    return try await DemoAPI.count(req.sessionHandle, write)
                }
            }
        }
        api.get("cart") { req in try await run { try await DemoAPI.cartItems(req.sessionHandle) } }
        api.post("cart") { req in
            try await run {
                try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                return try await DemoAPI.addToCart(req.sessionHandle, try req.content.decode(DemoAPI.CartItem.self))
            }
        }
        api.post("login") { req in
            try await run {
                try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                return try await DemoAPI.login(req.sessionHandle, try req.content.decode(DemoAPI.Login.self))
            }
        }
        api.post("logout") { req in
            try await run {
                try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                return try DemoAPI.logout(req.sessionHandle)
            }
        }
        api.get("sessions") { req in try await run { try await DemoAPI.sessions(req.sessionHandle) } }
        api.delete("sessions", "others") { req in
            try await run {
                try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                return try await DemoAPI.signOutOthers(req.sessionHandle)
            }
        }
        api.put("notes", ":name") { req in
            try await run {
                try DemoAPI.requireJSON(contentType: req.headers.first(name: .contentType))
                return try await DemoAPI.setNote(req.sessionHandle, name: req.parameters.get("name"), try req.content.decode(DemoAPI.Note.self))
            }
        }
        api.get("notes", ":name") { req in try await run { try await DemoAPI.note(req.sessionHandle, name: req.parameters.get("name")) } }
    }

    /// Runs an API call: its value becomes a JSON response, its refusals an `Abort`.
    static func run<Value: Encodable & Sendable>(_ body: () async throws -> Value) async throws -> Response {
        do {
            let value = try await body()
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            var headers = HTTPHeaders()
            headers.contentType = .json
            return Response(status: .ok, headers: headers, body: .init(data: try encoder.encode(value)))
        } catch let failure as DemoAPI.Failure {
            throw Abort(HTTPResponseStatus(statusCode: failure.status), reason: failure.message)
        }
    }

    /// Builds, starts and serves the demo until SIGINT/SIGTERM.
    public static func run(_ options: DemoOptions) async throws {
        var logger = Logger(label: "session-demo-vapor")
        logger.logLevel = .info
        let sessions = try await DemoSessions.make(options, logger: logger)
        let services = ServiceGroup(services: sessions.services, gracefulShutdownSignals: [], logger: logger)
        let background = Task { try await services.run() }
        try await sessions.prepare()

        let app = try await Application.make(Environment(name: "production", arguments: ["session-demo-vapor"]), logger: logger)
        app.middleware = Middlewares()
        app.middleware.use(ErrorMiddleware.default(environment: app.environment))
        app.middleware.use(SessionKitMiddleware(engine: sessions.engine))
        routes(app, engine: sessions.engine, metrics: sessions.metricsEndpoint)
        try await app.server.start(address: .hostname(options.host, port: options.port))
        let port = app.http.server.shared.localAddress?.port ?? options.port
        logger.info("Server started and listening on \(options.host):\(port)")

        await waitForTerminationSignal()
        await app.server.shutdown()
        try await app.asyncShutdown()
        await services.triggerGracefulShutdown()
        _ = try? await background.value
    }

    private static func waitForTerminationSignal() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = SignalOnce(continuation)
            for signalNumber in [SIGINT, SIGTERM] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber)
                source.setEventHandler { resumed.fire() }
                source.resume()
                resumed.retain(source)
            }
        }
    }
}

/// Resumes the waiting task once, on the first termination signal.
// Why `@unchecked Sendable` is safe: both mutable properties are only touched while
// holding `lock`.
private final class SignalOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    private var sources: [any DispatchSourceSignal] = []

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = continuation
    }

    func retain(_ source: any DispatchSourceSignal) {
        lock.withLock { sources.append(source) }
    }

    func fire() {
        let pending = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            defer { continuation = nil }
            return continuation
        }
        pending?.resume()
    }
}
