import Logging
import SessionKit
import SessionKitVapor
import Vapor

/// Starts a real Vapor server on 127.0.0.1 (a free port) with the parity routes.
enum VaporParityServer {
    static func start(engine: SessionEngine) async throws -> RunningServer {
        let app = try await Application.make(.testing)
        app.logger.logLevel = .critical
        app.middleware = Middlewares()
        app.middleware.use(ErrorMiddleware.default(environment: app.environment))
        app.middleware.use(SessionKitMiddleware(engine: engine))
        for route in ParityRoute.allCases {
            app.get(PathComponent(stringLiteral: route.rawValue)) { req async throws -> Response in
                switch try await route.run(req.sessionHandle) {
                case .text(let text, let extra):
                    var headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
                    for (name, value) in extra { headers.add(name: name, value: value) }
                    return Response(status: .ok, headers: headers, body: .init(string: text))
                case .badRequest(let message): throw Abort(.badRequest, reason: message)
                case .plainError: throw ParityBoom()
                }
            }
        }
        do {
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            guard let port = app.http.server.shared.localAddress?.port else {
                throw ParityServerError(message: "the Vapor server reported no local port")
            }
            return RunningServer(framework: .vapor, port: port) {
                await app.server.shutdown()
                try? await app.asyncShutdown()
            }
        } catch {
            await app.server.shutdown()
            try? await app.asyncShutdown()
            throw error
        }
    }
}
