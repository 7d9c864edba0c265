import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SessionKitTesting
import Testing

/// A real `session-demo` process on a free loopback port, started from the binary the test
/// build produced, and stopped by its PID.
final class DemoServer: Sendable {
    let process: ChildProcess
    let port: Int
    let logPath: String

    /// The built `session-demo` next to the test bundle.
    static var binary: String { binary(named: "session-demo") }

    /// A demo binary (`session-demo`, `session-demo-vapor`) the build put next to the test bundle.
    static func binary(named name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    }

    static var isBuilt: Bool { isBuilt(named: "session-demo") }

    static func isBuilt(named name: String) -> Bool { FileManager.default.isExecutableFile(atPath: binary(named: name)) }

    private init(process: ChildProcess, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    /// Starts the demo binary `binaryName` (default `session-demo`; `session-demo-vapor` for
    /// the Vapor twin) with `--store store` and waits until it listens.
    static func start(
        store: String,
        environment: [String: String] = [:],
        binaryName: String = "session-demo",
        arguments extra: [String] = []
    ) async throws -> DemoServer {
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(binaryName)-\(UUID().uuidString).log").path
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        let process = try ChildProcess(
            executable: binary(named: binaryName),
            arguments: ["--port", "0", "--store", store] + extra,
            environment: env,
            logPath: logPath
        )
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let log = try? String(contentsOfFile: logPath, encoding: .utf8),
                let range = log.range(of: "listening on 127.0.0.1:")
            {
                let digits = log[range.upperBound...].prefix(while: \.isNumber)
                if let port = Int(digits) { return DemoServer(process: process, port: port, logPath: logPath) }
            }
            try await Task.sleep(for: .milliseconds(50))  // waiting for the child to log its port
        }
        await process.stop()
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw ChildProcessError(message: "\(binaryName) did not start within 30 s; log:\n\(log)")
    }

    func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// A tiny HTTP client with one cookie jar, for driving demo processes.
final class DemoClient: Sendable {
    struct Reply {
        var status: Int
        var json: [String: Any]?
        var body: String
        var setCookie: String?
        var retryAfter: String?
    }

    private let http: HTTPClient
    private let jar = JarBox()

    /// A client that keeps up to `connections` requests in flight per server.
    init(connections: Int = 8) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    private final class JarBox: Sendable {
        let value = Mutex<String?>(nil)
    }

    var cookie: String? {
        get { jar.value.withLock { $0 } }
        set { jar.value.withLock { $0 = newValue } }
    }

    func shutdown() async throws {
        try await http.shutdown()
    }

    func send(_ method: HTTPMethod, _ server: DemoServer, _ path: String, json: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)\(path)")
        request.method = method
        if let cookie { request.headers.add(name: "Cookie", value: "id=\(cookie)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        } else if method != .GET {
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let setCookie = response.headers["Set-Cookie"].first
        if let setCookie, let value = SetCookie(setCookie), value.name == "id" {
            cookie = value.isDeletion ? nil : value.value
        }
        let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return Reply(
            status: Int(response.status.code),
            json: json,
            body: body,
            setCookie: setCookie,
            retryAfter: response.headers["Retry-After"].first
        )
    }
}

import Synchronization
