import AsyncHTTPClient
import Foundation
import NIOCore
import SessionKit
import SessionKitTesting
import SessionKitVapor
import Testing
import Vapor

/// A real Vapor server that keeps Vapor's own session API (`req.session.data`,
/// `app.sessions.middleware`) with sessions in a SessionKit store.
final class VaporDriverServer: Sendable {
    static let cookieName = "vapor-session"

    let clock: TestClock
    let memory: MemorySessionStore
    let store: CountingSessionStore
    let app: Application
    let port: Int

    private init(clock: TestClock, memory: MemorySessionStore, store: CountingSessionStore, app: Application, port: Int) {
        self.clock = clock
        self.memory = memory
        self.store = store
        self.app = app
        self.port = port
    }

    /// Runs `body` against a fresh server; `idleTimeout` switches from the one-line
    /// `.sessionKit(store)` provider to a driver built with the test clock and that timeout.
    static func run(idleTimeout: Duration? = nil, _ body: (VaporDriverServer) async throws -> Void) async throws {
        let clock = TestClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        // `.sessionKit(store)` builds its driver on the system clock, so the store must judge
        // expiry by the same clock; only the explicit driver takes the test clock.
        let memory = MemorySessionStore(clock: idleTimeout == nil ? SystemSessionClock() : clock)
        let store = CountingSessionStore(memory)
        let app = try await Application.make(.testing)
        app.logger.logLevel = .critical
        if let idleTimeout {
            app.sessions.use { _ in SessionKitSessionDriver(store: store, idleTimeout: idleTimeout, absoluteTimeout: .seconds(86_400), clock: clock) }
        } else {
            app.sessions.use(.sessionKit(store))
        }
        app.middleware.use(app.sessions.middleware)
        app.get("set") { req -> String in
            req.session.data["k"] = "v"
            return "set"
        }
        app.get("get") { req -> String in req.session.data["k"] ?? "none" }
        app.get("destroy") { req -> String in
            req.session.destroy()
            return "destroyed"
        }
        let server: VaporDriverServer
        do {
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = try #require(app.http.server.shared.localAddress?.port)
            server = VaporDriverServer(clock: clock, memory: memory, store: store, app: app, port: port)
        } catch {
            await app.server.shutdown()
            try await app.asyncShutdown()
            throw error
        }
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    private func stop() async {
        await app.server.shutdown()
        try? await app.asyncShutdown()
    }

    struct DriverReply {
        let status: Int
        let body: String
        let setCookie: [String]
        let calls: [CountingSessionStore.Method: Int]

        /// The `vapor-session` cookie the response set, parsed.
        var sessionCookie: SetCookie? {
            setCookie.compactMap(SetCookie.init).first { $0.name == VaporDriverServer.cookieName }
        }
    }

    /// `GET path` with `Cookie: vapor-session=cookie` when given; counts the store calls.
    func get(_ path: String, cookie: String? = nil) async throws -> DriverReply {
        store.reset()
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/\(path)")
        if let cookie { request.headers.add(name: "Cookie", value: "\(Self.cookieName)=\(cookie)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let reply = DriverReply(status: Int(response.status.code), body: body, setCookie: response.headers["Set-Cookie"], calls: store.calls)
        store.reset()
        return reply
    }

    /// The record stored for a cookie value, looked up by the token's digest.
    func record(forCookie value: String) async throws -> SessionRecord? {
        guard let token = SessionToken(validating: value) else { return nil }
        return try await memory.load(token.storageID)
    }
}

@Suite("Vapor's session API over SessionKitSessionDriver")
struct VaporSessionDriverTests {
    @Test("req.session.data persists across requests")
    func dataPersists() async throws {
        try await VaporDriverServer.run { server in
            let set = try await server.get("set")
            #expect(set.status == 200)
            #expect(set.calls == [.create: 1])
            let cookie = try #require(set.sessionCookie?.value)
            #expect(SessionToken(validating: cookie) != nil, "the session ID is not a SessionKit token: \(cookie)")
            let read = try await server.get("get", cookie: cookie)
            #expect(read.body == "v")
            #expect(read.calls[.load] ?? 0 >= 1)
            #expect(try await server.get("get").body == "none", "a request without the cookie saw the data")
        }
    }

    @Test("the store holds only the SHA-256 digest of the cookie value")
    func storeHoldsOnlyTheDigest() async throws {
        try await VaporDriverServer.run { server in
            let cookie = try #require(try await server.get("set").sessionCookie?.value)
            let token = try #require(SessionToken(validating: cookie))
            let record = try #require(try await server.memory.load(token.storageID), "no record under SHA-256(cookie)")
            #expect(record.data["k"] == Data("\"v\"".utf8))
            #expect(server.memory.count == 1)
            // The record's key is the digest, not the cookie's bytes.
            #expect(token.storageID.hex != cookie)
            #expect(!token.storageID.hex.contains(cookie))
            let rawBytes = SessionStorageID(bytes: Array(cookie.utf8.prefix(32)))
            if let rawBytes { #expect(try await server.memory.load(rawBytes) == nil) }
            // Nothing in the record carries the secret.
            let stored = record.data.values.map { String(decoding: $0, as: UTF8.self) } + [record.userID ?? "", record.userAgent ?? ""]
            #expect(!stored.contains { $0.contains(cookie) }, "the cookie value is stored in the record")
        }
    }

    @Test("a junk cookie costs no store load")
    func junkCookieCostsNoLoad() async throws {
        try await VaporDriverServer.run { server in
            for junk in ["junk", String(repeating: "A", count: 43) + "A", "../../etc/passwd", String(repeating: "A", count: 42) + "B"] {
                let reply = try await server.get("get", cookie: junk)
                #expect(reply.status == 200 && reply.body == "none")
                #expect(reply.calls[.load] == nil, "junk cookie \(junk) cost \(reply.calls)")
                // Vapor's SessionsMiddleware then starts a fresh session for the request and
                // stores it even though nothing was written (a limitation of Vapor's API, not
                // of the driver): at most that one create.
                #expect((reply.calls[.create] ?? 0) <= 1 && reply.calls[.update] == nil && reply.calls[.delete] == nil, "\(reply.calls)")
            }
        }
    }

    @Test("req.session.destroy() deletes the record")
    func destroyDeletesTheRecord() async throws {
        try await VaporDriverServer.run { server in
            let cookie = try #require(try await server.get("set").sessionCookie?.value)
            #expect(try await server.record(forCookie: cookie) != nil)
            let reply = try await server.get("destroy", cookie: cookie)
            #expect(reply.status == 200)
            #expect(reply.calls[.delete] == 1, "\(reply.calls)")
            #expect(try await server.record(forCookie: cookie) == nil, "destroy left the record in the store")
            #expect(server.memory.count == 0)
            let expired = try #require(reply.sessionCookie)
            #expect(expired.isDeletion || expired.attributes["expires"].map { $0.contains("1970") } == true, "\(reply.setCookie)")
            #expect(try await server.get("get", cookie: cookie).body == "none", "a destroyed session's cookie still works")
        }
    }

    @Test("records expire after the idle timeout (TestClock)")
    func recordsExpireByIdleTimeout() async throws {
        try await VaporDriverServer.run(idleTimeout: .seconds(600)) { server in
            let cookie = try #require(try await server.get("set").sessionCookie?.value)
            let created = try #require(try await server.record(forCookie: cookie))
            #expect(created.idleExpiresAt == Date(timeIntervalSince1970: 1_800_000_000 + 600))
            server.clock.advance(by: .seconds(500))
            #expect(try await server.get("get", cookie: cookie).body == "v", "ended before the idle timeout")
            // Vapor updates the session on every request, which slides the idle expiry.
            server.clock.advance(by: .seconds(500))
            #expect(try await server.get("get", cookie: cookie).body == "v", "a request did not extend the idle expiry")
            server.clock.advance(by: .seconds(601))
            #expect(try await server.record(forCookie: cookie) == nil, "the record outlived its idle timeout")
            let expired = try await server.get("get", cookie: cookie)
            #expect(expired.body == "none", "an idle session still works")
            #expect(expired.sessionCookie?.value != cookie, "an expired ID was handed back")
        }
    }
}
