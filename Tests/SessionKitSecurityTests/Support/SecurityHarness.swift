import HTTPTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import SQLiteNIO
import SessionDemoApp
import SessionKit
import SessionKitPostgres
import SessionKitRedis
import SessionKitSQLite
import SessionKitTesting
import Synchronization
import Testing

/// Direct access to where a backend keeps its sessions, bypassing the `SessionStore` API:
/// the SQLite file through its own SQLiteNIO connection, the PostgreSQL table through SQL,
/// Redis keys through the pool.
enum StoreAccess: Sendable {
    case memory(MemorySessionStore)
    case sqlite(path: String, store: SQLiteSessionStore)
    case postgres(PostgresClient, store: PostgresSessionStore)
    case redis(RedisSessionStore)
    /// Sealed cookies: the only server-side state is the revocation-epoch store.
    case sealed(revocations: MemorySessionStore)

    /// The `id` column / the digests in the Redis session keys. `nil` where the backend has
    /// no rows to read (memory, sealed).
    func storedIDs() async throws -> [String]? {
        switch self {
        case .memory, .sealed:
            return nil
        case .sqlite(let path, _):
            return try await withSQLite(path) { connection in
                try await connection.query("SELECT id FROM sessionkit_sessions", []).compactMap { $0.column("id")?.string }
            }
        case .postgres(let client, _):
            var ids: [String] = []
            for try await id in try await client.query("SELECT id FROM sessionkit_sessions").decode(String.self) { ids.append(id) }
            return ids
        case .redis(let store):
            // `s:{<digest>}`, or `s:{<placement>}<digest>` for a signed-in session.
            return try await redisKeys(store).compactMap { key in
                guard key.hasPrefix(store.keyPrefix + "s:{") else { return nil }
                let digest = key.dropFirst(store.keyPrefix.count + 3).filter { $0 != "}" }.suffix(64)
                return digest.count == 64 ? String(digest) : nil
            }
        }
    }

    /// Everything the store holds, as text (every column of every row; every Redis key with
    /// its fields and members). `nil` for memory and sealed.
    func dump() async throws -> String? {
        switch self {
        case .memory, .sealed:
            return nil
        case .sqlite(let path, _):
            return try await withSQLite(path) { connection in
                try await connection.query(
                    "SELECT id || '|' || data || '|' || coalesce(user_id, '') || '|' || coalesce(user_agent, '') AS line FROM sessionkit_sessions",
                    []
                ).compactMap { $0.column("line")?.string }.joined(separator: "\n")
            }
        case .postgres(let client, _):
            var lines: [String] = []
            for try await line in try await client.query("SELECT t::text FROM sessionkit_sessions t").decode(String.self) { lines.append(line) }
            return lines.joined(separator: "\n")
        case .redis(let store):
            var lines: [String] = []
            for key in try await redisKeys(store) {
                func run(_ name: String) async throws -> RESPReply {
                    try await store.client.send([RESPCommand(name, [key])], touching: key)[0]
                }
                let type = try await run("TYPE").string ?? ""
                let content: RESPReply
                switch type {
                case "hash": content = try await run("HGETALL")
                case "set": content = try await run("SMEMBERS")
                default: content = try await run("DUMP")
                }
                lines.append("\(key) \(type) \(Self.render(content))")
            }
            return lines.joined(separator: "\n")
        }
    }

    /// How many records (rows, session hashes, memory entries, revocation records) exist,
    /// live or expired but not yet removed.
    func recordCount() async throws -> Int {
        switch self {
        case .memory(let store): return store.count
        case .sealed(let revocations): return revocations.count
        case .sqlite(let path, _):
            return try await withSQLite(path) { connection in
                Int(try await connection.query("SELECT count(*) AS n FROM sessionkit_sessions", []).first?.column("n")?.integer ?? -1)
            }
        case .postgres(let client, _):
            for try await count in try await client.query("SELECT count(*)::int8 FROM sessionkit_sessions").decode(Int64.self) { return Int(count) }
            return -1
        case .redis(let store):
            return try await redisKeys(store).count
        }
    }

    /// How many session records exist: rows, or Redis session hashes (not the per-user index
    /// sets, which Redis trims lazily), or memory entries.
    func sessionCount() async throws -> Int {
        if let ids = try await storedIDs() { return ids.count }
        return try await recordCount()
    }

    /// Every key under the store's prefix (`KEYS <prefix>*`).
    func redisKeys(_ store: RedisSessionStore) async throws -> [String] {
        try await store.keys()
    }

    /// Runs the store's own expiry clean-up once (the sweeper's step); Redis needs none.
    func sweep() async throws {
        switch self {
        case .memory(let store): _ = store.sweepExpired()
        case .sqlite(_, let store): _ = try await store.sweepExpired(batchSize: 1000)
        case .postgres(_, let store): _ = try await store.sweepExpired(batchSize: 1000)
        case .redis, .sealed: break
        }
    }

    private func withSQLite<Result: Sendable>(_ path: String, _ body: (SQLiteConnection) async throws -> Result) async throws -> Result {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    static func render(_ value: RESPReply) -> String {
        switch value {
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .array(let values): return values.map(render).joined(separator: " ")
        case .map(let pairs): return pairs.map { "\(render($0.0))=\(render($0.1))" }.joined(separator: " ")
        default: return "\(value)"
        }
    }
}

/// Everything one test run has: the engine with its counting store and test clock, direct
/// store access, the captured logs, and the secrets seen on the wire.
final class SecurityHarness: Sendable {
    let backend: Backend
    let clock: TestClock
    /// Wraps the session store, or the revocation store for sealed cookies.
    let counting: CountingSessionStore
    let engine: SessionEngine
    let access: StoreAccess
    let logs: LogCapture
    let cookieName: String
    private let seen = Mutex(Seen())

    struct Seen {
        /// Session cookie values the server issued.
        var sessionTokens: Set<String> = []
        /// CSRF tokens found in pages.
        var csrfTokens: Set<String> = []
        /// Responses with `Set-Cookie` and their caching fields, for the cache-header checks.
        var cookieResponses: [(uri: String, vary: [String], cacheControl: [String])] = []
    }

    init(backend: Backend, clock: TestClock, counting: CountingSessionStore, engine: SessionEngine, access: StoreAccess, logs: LogCapture) {
        self.backend = backend
        self.clock = clock
        self.counting = counting
        self.engine = engine
        self.access = access
        self.logs = logs
        self.cookieName = engine.configuration.cookie.name
    }

    var issuedSessionTokens: Set<String> { seen.withLock { $0.sessionTokens } }
    var issuedCSRFTokens: Set<String> { seen.withLock { $0.csrfTokens } }
    var cookieResponses: [(uri: String, vary: [String], cacheControl: [String])] { seen.withLock { $0.cookieResponses } }

    func jar(userAgent: String? = nil) -> CookieJar { CookieJar(name: cookieName, userAgent: userAgent) }

    /// Records what a response reveals: issued tokens, CSRF tokens, caching fields.
    func observe(_ response: TestResponse, uri: String) {
        let cookies = sessionSetCookies(in: response, name: cookieName)
        let csrf = csrfToken(in: response.text)
        seen.withLock { seen in
            for cookie in cookies where !cookie.value.isEmpty { seen.sessionTokens.insert(cookie.value) }
            if let csrf { seen.csrfTokens.insert(csrf) }
            if response.hasSetCookie {
                seen.cookieResponses.append((uri, response.headers[values: .vary], response.headers[values: .cacheControl]))
            }
        }
    }

    // MARK: Running

    /// The session settings of the demo app (`DemoApplication.sessionConfiguration`, which is
    /// internal): the development cookie `id` or the secure defaults, cap 10 with evictOldest.
    static func configuration(secure: Bool) -> SessionConfiguration {
        var configuration = SessionConfiguration()
        configuration.cookie = secure ? SessionCookieOptions() : .insecureLocalDevelopment
        configuration.concurrentSessionLimit = .init(maxSessions: 10, policy: .evictOldest)
        return configuration
    }

    /// Opens the backend (isolated schema / key prefix / temp file), builds the demo app
    /// around an engine over it, serves it on a free port over real HTTP, runs `body`, then
    /// checks the suite-wide invariants (no token in any log line or response body) and
    /// cleans up.
    static func run(
        _ backend: Backend,
        secure: Bool = false,
        _ body: @Sendable (SecurityClient, SecurityHarness) async throws -> Void
    ) async throws {
        let clock = TestClock()
        let logs = LogCapture()
        let configuration = configuration(secure: secure)
        try await withBackend(backend, clock: clock, logs: logs) { store, access in
            let counting = CountingSessionStore(store)
            let engine: SessionEngine
            if backend.isSealed {
                engine = try SessionEngine(
                    sealedCookies: SealedCookieBackend(keyRing: .ephemeral(), revocationStore: counting),
                    configuration: configuration,
                    clock: clock,
                    logger: logs.logger(label: "SessionKit")
                )
            } else {
                engine = try SessionEngine(store: counting, configuration: configuration, clock: clock, logger: logs.logger(label: "SessionKit"))
            }
            let harness = SecurityHarness(backend: backend, clock: clock, counting: counting, engine: engine, access: access, logs: logs)
            let app = try DemoApplication.build(DemoOptions(host: "127.0.0.1", port: 0, secureCookies: secure), engine: engine)
            try await app.test(.live) { client in
                try await body(SecurityClient(http: client, harness: harness), harness)
            }
            harness.expectNoTokenInLogs()
            // SKSEC_LOGDUMP=<directory> keeps each run's captured log lines for inspection.
            if let directory = ProcessInfo.processInfo.environment["SKSEC_LOGDUMP"] {
                let path = "\(directory)/\(backend.rawValue)-\(UUID().uuidString.prefix(8)).log"
                try? harness.logs.all.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
    }

    /// No captured log line contains an issued session token or CSRF token, as text or as the
    /// hex of its bytes (drivers log wire bytes in hex at `.trace`).
    func expectNoTokenInLogs(sourceLocation: SourceLocation = #_sourceLocation) {
        let tokens = issuedSessionTokens.union(issuedCSRFTokens)
        let hexForms = tokens.map { token in token.utf8.map { String(format: "%02x", $0) }.joined() }
        let scanner = SecretScanner(tokens.union(hexForms))
        for line in logs.all {
            let leaked = scanner.secrets(in: line)
            #expect(leaked.isEmpty, "a log line contains \(leaked.count) issued token(s): \(line.prefix(300))", sourceLocation: sourceLocation)
        }
    }

    /// Opens the store a backend uses, hands it over, and removes everything afterwards.
    static func withBackend(
        _ backend: Backend,
        clock: TestClock,
        logs: LogCapture,
        _ body: (any FullyCapableSessionStore, StoreAccess) async throws -> Void
    ) async throws {
        switch backend {
        case .memory:
            let store = MemorySessionStore(clock: clock)
            try await body(store, .memory(store))
        case .sealed:
            let revocations = MemorySessionStore(clock: clock)
            try await body(revocations, .sealed(revocations: revocations))
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("sessionkit-security-\(UUID().uuidString).sqlite").path
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let store = try await SQLiteSessionStore.open(path: path, clock: clock, logger: logs.logger(label: "SQLite"))
            try await store.migrate()
            do {
                try await body(store, .sqlite(path: path, store: store))
            } catch {
                try? await store.close()
                throw error
            }
            try await store.close()
        case .postgres:
            try await withIsolatedPostgres(logs: logs) { client in
                let store = PostgresSessionStore(client: client, clock: clock, logger: logs.logger(label: "Postgres"))
                try await store.migrate()
                try await body(store, .postgres(client, store: store))
            }
        case .redis:
            let url = try #require(Backend.redisURL)
            let store = try RedisSessionStore(url: url, keyPrefix: "sksec:\(UUID().uuidString.prefix(8).lowercased()):", clock: clock)
            func cleanUp() async {
                // One DEL per key: on a cluster the keys live in different slots.
                for key in (try? await store.keys()) ?? [] {
                    _ = try? await store.client.send([RESPCommand("DEL", [key])], touching: key)
                }
                await store.client.close()
            }
            do {
                try await body(store, .redis(store))
            } catch {
                await cleanUp()
                throw error
            }
            await cleanUp()
        }
    }

    /// Like `PostgresTestServer.withIsolatedClient`: a client whose `search_path` is a fresh
    /// schema, dropped afterwards; small pools, since many tests run at once.
    static func withIsolatedPostgres(logs: LogCapture, _ body: (PostgresClient) async throws -> Void) async throws {
        let url = try #require(Backend.postgresURL)
        let schema = "sec_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var adminConfiguration = try PostgresConnectionURL.configuration(from: url)
        adminConfiguration.options.maximumConnections = 1
        let admin = PostgresClient(configuration: adminConfiguration)
        var configuration = try PostgresConnectionURL.configuration(from: url)
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        configuration.options.maximumConnections = 4
        let client = PostgresClient(configuration: configuration, backgroundLogger: logs.logger(label: "PostgresClient"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await admin.run() }
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
            do {
                try await body(client)
            } catch {
                _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
                throw error
            }
            try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
        }
    }
}

/// The test's HTTP client: every response passes through the harness, which notes issued
/// tokens and caching fields and checks that no body or non-cookie header ever carries a
/// session token (ASVS 4.0.3 V3.1.1: tokens never in URLs or pages).
struct SecurityClient: Sendable {
    let http: any TestClientProtocol
    let harness: SecurityHarness

    /// Sends a request with the jar's cookie and keeps any session cookie the response sets.
    func send(
        _ uri: String,
        _ method: HTTPRequest.Method = .get,
        jar: inout CookieJar,
        headers: HTTPFields = [:],
        body: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        let response = try await raw(uri, method, headers: jar.headers(headers), body: body, sourceLocation: sourceLocation)
        jar.update(from: response)
        return response
    }

    /// Sends exactly the given fields.
    func raw(
        _ uri: String,
        _ method: HTTPRequest.Method = .get,
        headers: HTTPFields = [:],
        body: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        let response = try await http.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        harness.observe(response, uri: uri)
        let scanner = SecretScanner(harness.issuedSessionTokens)
        var visible = response.text
        for field in response.headers where field.name != .setCookie { visible += "\n" + field.value }
        let leaked = scanner.secrets(in: visible)
        #expect(
            leaked.isEmpty,
            "\(method) \(uri): a session token appears in the body or a header other than Set-Cookie",
            sourceLocation: sourceLocation
        )
        return response
    }

    /// Sends `Cookie: <header>` (exactly as given) to `uri`.
    func withCookieHeader(_ header: String, _ uri: String = "/api/me", _ method: HTTPRequest.Method = .get, extra: HTTPFields = [:]) async throws
        -> TestResponse
    {
        var headers = extra
        headers.append(HTTPField(name: .cookie, value: header))
        return try await raw(uri, method, headers: headers)
    }

    // MARK: Demo flows

    func signIn(_ jar: inout CookieJar, user: String = "alice", sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        let response = try await send(
            "/api/login",
            .post,
            jar: &jar,
            headers: Demo.json,
            body: Demo.loginBody(user: user),
            sourceLocation: sourceLocation
        )
        #expect(response.status == .ok, "sign-in answered \(response.status)", sourceLocation: sourceLocation)
        return response
    }

    func me(_ jar: inout CookieJar) async throws -> TestResponse {
        try await send("/api/me", jar: &jar)
    }

    /// `user` as `/api/me` reports it for a cookie value (without touching any jar).
    func user(withCookie value: String) async throws -> String? {
        try await withCookieHeader("\(harness.cookieName)=\(value)").user
    }

    func visit(_ jar: inout CookieJar) async throws -> TestResponse {
        try await send("/api/visit", .post, jar: &jar, headers: Demo.json)
    }
}
