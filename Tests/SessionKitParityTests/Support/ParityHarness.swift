import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import SessionKit
import SessionKitTesting
import Synchronization
import Vapor  // for HTTPHeaders' members (Vapor re-exports NIOHTTP1's types)

/// The two web frameworks SessionKit adapts to. Every parity test runs once per case.
enum Framework: String, CaseIterable, Sendable, CustomStringConvertible {
    case hummingbird
    case vapor

    var description: String { rawValue }

    /// Starts a real server for this framework on 127.0.0.1, a free port, serving the
    /// ``ParityRoute`` routes around `engine`.
    func startServer(engine: SessionEngine) async throws -> RunningServer {
        switch self {
        case .hummingbird: return try await HummingbirdParityServer.start(engine: engine)
        case .vapor: return try await VaporParityServer.start(engine: engine)
        }
    }
}

/// A server started by ``Framework/startServer(engine:)``.
struct RunningServer: Sendable {
    let framework: Framework
    let port: Int
    /// Stops the server and waits until it has.
    let stop: @Sendable () async -> Void
}

struct ParityServerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// One HTTP answer as the client saw it.
struct Reply: Sendable {
    struct Field: Sendable, Equatable {
        let name: String
        let value: String
    }

    let status: Int
    let fields: [Field]
    let body: String
    /// Store calls the request cost, by method name.
    let calls: [CountingSessionStore.Method: Int]

    /// Every value of a header field (case-insensitive name), in order.
    func values(_ name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The parsed `Set-Cookie` fields for the session cookie.
    var sessionCookies: [SetCookie] {
        values("Set-Cookie").compactMap(SetCookie.init).filter { $0.name == ParityHarness.cookieName }
    }

    /// The one session `Set-Cookie`, if there is exactly one.
    var sessionCookie: SetCookie? {
        let cookies = sessionCookies
        return cookies.count == 1 ? cookies[0] : nil
    }

    /// Whether the response carries none of the fields a session adds.
    var hasNoSessionFields: Bool {
        values("Set-Cookie").isEmpty && values("Vary").isEmpty && values("Cache-Control").isEmpty
    }
}

/// What the cross-framework comparison looks at for one request: the status, the body of a
/// success, the session-related fields (cookie values abstracted to `<token>` / empty) and
/// the store calls.
struct Observation: Sendable, Equatable, CustomStringConvertible {
    struct CookieShape: Sendable, Equatable {
        let name: String
        let value: String
        let attributes: [String: String]
    }

    let request: String
    let status: Int
    let body: String?
    let setCookies: [CookieShape]
    let vary: [String]
    let cacheControl: [String]
    let retryAfter: [String]
    let clearSiteData: [String]
    let tokenHeader: [String]
    let calls: [String: Int]

    init(request: String, reply: Reply, tokenHeader: String? = nil) {
        self.request = request
        status = reply.status
        body = reply.status == 200 ? reply.body : nil
        setCookies = reply.values("Set-Cookie").compactMap(SetCookie.init).map { cookie in
            CookieShape(name: cookie.name, value: cookie.value.isEmpty ? "" : "<token>", attributes: cookie.attributes)
        }
        vary = reply.values("Vary")
        cacheControl = reply.values("Cache-Control")
        retryAfter = reply.values("Retry-After")
        clearSiteData = reply.values("Clear-Site-Data")
        self.tokenHeader = tokenHeader.map { name in reply.values(name).map { $0.isEmpty ? "" : "<token>" } } ?? []
        calls = Dictionary(uniqueKeysWithValues: reply.calls.map { ($0.key.rawValue, $0.value) })
    }

    var description: String {
        let cookies = setCookies.map { "\($0.name)=\($0.value) \($0.attributes.sorted { $0.key < $1.key })" }
        return
            "\(request) → \(status) body=\(body ?? "-") set-cookie=\(cookies) vary=\(vary) cache-control=\(cacheControl) retry-after=\(retryAfter) clear-site-data=\(clearSiteData) token-header=\(tokenHeader) calls=\(calls.sorted { $0.key < $1.key })"
    }
}

/// A real server of one framework around an engine whose store counts calls and can fail
/// on demand, with a one-cookie jar on the client side.
///
/// Store chain: engine → ``CountingSessionStore`` → ``FaultInjectingSessionStore`` →
/// ``MemorySessionStore``, all judged by one ``TestClock`` that starts at a fixed instant,
/// so `Expires` attributes are identical across frameworks.
final class ParityHarness: Sendable {
    static let cookieName = "__Host-id"
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    let framework: Framework
    let clock: TestClock
    let memory: MemorySessionStore
    let faults: FaultInjectingSessionStore
    let store: CountingSessionStore
    let engine: SessionEngine
    let server: RunningServer
    /// The request/response header carrying the token with the header transport (`nil`: the cookie).
    let tokenHeader: String?
    private let state = Mutex<(jar: String?, log: [Observation])>((nil, []))

    private init(framework: Framework, configuration: SessionConfiguration) async throws {
        self.framework = framework
        if case .header(let name) = configuration.transport { tokenHeader = name.rawName } else { tokenHeader = nil }
        clock = TestClock(start: Self.start)
        memory = MemorySessionStore(clock: clock)
        faults = FaultInjectingSessionStore(memory)
        store = CountingSessionStore(faults)
        var logger = Logger(label: "parity-engine")
        logger.logLevel = .critical  // the outage cases log a warning per failed store call
        engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
        server = try await framework.startServer(engine: engine)
    }

    /// Runs `body` against a fresh server of `framework`; the server is stopped afterwards
    /// whatever happens.
    static func run(
        _ framework: Framework,
        configuration: SessionConfiguration = SessionConfiguration(),
        _ body: (ParityHarness) async throws -> Void
    ) async throws {
        try await withStarted(
            { try await ParityHarness(framework: framework, configuration: configuration) },
            stop: { await $0.server.stop() },
            body
        )
    }

    /// The session cookie value the client holds.
    var cookie: String? {
        get { state.withLock { $0.jar } }
        set { state.withLock { $0.jar = newValue } }
    }

    /// Every request's observation, in order.
    var log: [Observation] { state.withLock { $0.log } }

    /// Sends `GET route` with the jar's token (or, when `cookieHeaders` is given, exactly
    /// those `Cookie` fields and no jar token), records the store calls it cost, and keeps
    /// any token the response sets (a deleting cookie or an empty token header empties the jar).
    @discardableResult
    func get(_ route: ParityRoute, cookieHeaders: [String]? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await send("GET", route.path, cookieHeaders: cookieHeaders, headers: headers)
    }

    /// Sends any method and path (see ``get(_:cookieHeaders:headers:)``).
    @discardableResult
    func send(_ method: String, _ path: String, cookieHeaders: [String]? = nil, headers: [(String, String)] = []) async throws -> Reply {
        store.reset()
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)\(path)")
        request.method = HTTPMethod(rawValue: method)
        if let cookieHeaders {
            for header in cookieHeaders { request.headers.add(name: "Cookie", value: header) }
        } else if let cookie {
            if let tokenHeader {
                request.headers.add(name: tokenHeader, value: cookie)
            } else {
                request.headers.add(name: "Cookie", value: "\(Self.cookieName)=\(cookie)")
            }
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let fields = response.headers.map { Reply.Field(name: $0.name, value: $0.value) }
        let reply = Reply(status: Int(response.status.code), fields: fields, body: body, calls: store.calls)
        store.reset()
        if cookieHeaders == nil {
            if let tokenHeader, let sent = reply.values(tokenHeader).last {
                cookie = sent.isEmpty ? nil : sent
            } else if tokenHeader == nil, let sent = reply.sessionCookies.last {
                cookie = sent.isDeletion ? nil : sent.value
            }
        }
        var label = "\(method) \(path)"
        if let cookieHeaders { label += " [Cookie: \(cookieHeaders.map(Self.abstractingTokens).joined(separator: " | "))]" }
        if !headers.isEmpty { label += " \(headers.map { "\($0.0): \(SessionToken(validating: $0.1) == nil ? $0.1 : "<token>")" })" }
        let observation = Observation(request: label, reply: reply, tokenHeader: tokenHeader)
        state.withLock { $0.log.append(observation) }
        return reply
    }

    /// A `Cookie` field with every well-formed token replaced by `<token>`, so requests that
    /// replay different random tokens on the two frameworks compare equal.
    static func abstractingTokens(_ header: String) -> String {
        header.split(separator: ";", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "="), SessionToken(validating: pair[pair.index(after: equals)...]) != nil else {
                return String(pair.prefix(80))
            }
            return "\(pair[...equals])<token>"
        }.joined(separator: ";")
    }

    /// The stored record for a token the client holds, read straight from the memory store.
    func record(for token: String) async throws -> SessionRecord? {
        guard let token = SessionToken(validating: token) else { return nil }
        return try await memory.load(token.storageID)
    }
}
