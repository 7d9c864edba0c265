import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SessionKit
import SessionKitHummingbird

/// Starts a real Hummingbird server on 127.0.0.1 (a free port) with the parity routes.
enum HummingbirdParityServer {
    static func start(engine: SessionEngine) async throws -> RunningServer {
        let router = Router(context: BasicSessionKitRequestContext.self)
        router.add(middleware: SessionKitMiddleware(engine: engine))
        for route in ParityRoute.allCases {
            router.get(RouterPath(route.path)) { _, context -> Response in
                switch try await route.run(context.session) {
                case .text(let text, let extra):
                    var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
                    for (name, value) in extra { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
                    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
                case .badRequest(let message): throw HTTPError(.badRequest, message: message)
                case .plainError: throw ParityBoom()
                }
            }
        }
        var logger = Logger(label: "parity-hummingbird")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int?>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port)
                continuation.finish()
            },
            logger: logger
        )
        let task = Task {
            defer { continuation.finish() }
            try await app.runService(gracefulShutdownSignals: [])
        }
        var iterator = ports.makeAsyncIterator()
        guard let reported = await iterator.next(), let port = reported else {
            task.cancel()
            _ = await task.result
            throw ParityServerError(message: "the Hummingbird server did not start: \(await task.result)")
        }
        return RunningServer(framework: .hummingbird, port: port) {
            task.cancel()
            _ = await task.result
        }
    }
}
