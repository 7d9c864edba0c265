import AsyncHTTPClient
import Logging
import NIOCore
import SessionKit
import SessionKitTesting
import SessionKitVapor
import Synchronization
import Testing
import Vapor

/// Vapor's `req.auth` on a SessionKit session, over real HTTP: handlers that use
/// `req.auth.login`, `require` and `logout` with a `SessionAuthenticatable` user run unchanged,
/// through `SessionKitAuthenticator` (a lookup closure, or the app's own
/// `AsyncSessionAuthenticator`), and SessionKit's protections hold: a new token on login with
/// the old one dead, a dead cookie after logout, 503 (not anonymous) when the store fails.
@Suite struct VaporAuthenticationTests {
    struct User: SessionAuthenticatable {
        let id: String
        let name: String
        var sessionID: String { id }
    }

    static let users = ["u1": User(id: "u1", name: "Alice"), "u2": User(id: "u2", name: "Bob")]

    /// The authenticator an app already has for Vapor's sessions.
    struct UserSessionAuthenticator: AsyncSessionAuthenticator {
        typealias User = VaporAuthenticationTests.User
        func authenticate(sessionID: String, for request: Request) async throws {
            if let user = VaporAuthenticationTests.users[sessionID] { request.auth.login(user) }
        }
    }

    enum Lookup: CaseIterable { case closure, vaporAuthenticator }

    /// A real Vapor server on a free port, and a client with a one-cookie jar.
    final class Server: Sendable {
        let app: Application
        let port: Int
        private let jar = Mutex<String?>(nil)

        init(store: any FullyCapableSessionStore, lookup: Lookup) async throws {
            let engine = try SessionEngine(store: store, configuration: SessionConfiguration(cookie: .insecureLocalDevelopment))
            var logger = Logger(label: "vapor-auth-test")
            logger.logLevel = .critical
            app = try await Application.make(.testing)
            app.logger = logger
            app.middleware.use(SessionKitMiddleware(engine: engine))
            switch lookup {
            case .closure: app.middleware.use(SessionKitAuthenticator<User> { id, _ in VaporAuthenticationTests.users[id] })
            case .vaporAuthenticator: app.middleware.use(SessionKitAuthenticator(UserSessionAuthenticator()))
            }
            // Handlers as Vapor apps write them: only req.auth.
            app.get("me") { req in try req.auth.require(User.self).name }
            app.post("login", ":id") { req -> HTTPStatus in
                let id = try req.parameters.require("id")
                guard let user = VaporAuthenticationTests.users[id] else { throw Abort(.notFound) }
                req.auth.login(user)
                return .noContent
            }
            app.post("logout") { req -> HTTPStatus in
                req.auth.logout(User.self)
                return .noContent
            }
            app.post("note") { req async throws -> HTTPStatus in
                try await req.sessionHandle.set(SessionKey<String>("note"), "kept")
                return .noContent
            }
            app.get("user-id") { req async throws in try await req.sessionHandle.userID ?? "none" }
            do {
                try await app.server.start(address: .hostname("127.0.0.1", port: 0))
                port = try #require(app.http.server.shared.localAddress?.port)
            } catch {
                await app.server.shutdown()
                try? await app.asyncShutdown()
                throw error
            }
        }

        var cookie: String? {
            get { jar.withLock { $0 } }
            set { jar.withLock { $0 = newValue } }
        }

        /// Sends a request with the jar's cookie (or `cookie:` instead) and keeps the cookie the
        /// response sets; returns the status and body.
        func send(_ method: HTTPMethod, _ path: String, cookie sent: String? = nil) async throws -> (status: UInt, body: String, retryAfter: String?)
        {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = method
            if let value = sent ?? cookie { request.headers.add(name: "Cookie", value: "id=\(value)") }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            if sent == nil, let setCookie = response.headers["Set-Cookie"].compactMap(SetCookie.init).last(where: { $0.name == "id" }) {
                cookie = setCookie.isDeletion ? nil : setCookie.value
            }
            return (response.status.code, body, response.headers.first(name: "Retry-After"))
        }

        func stop() async {
            await app.server.shutdown()
            try? await app.asyncShutdown()
        }
    }

    static func withServer(
        store: any FullyCapableSessionStore = MemorySessionStore(),
        lookup: Lookup = .closure,
        _ body: (Server) async throws -> Void
    ) async throws {
        try await withStarted({ try await Server(store: store, lookup: lookup) }, stop: { await $0.stop() }, body)
    }

    @Test(arguments: Lookup.allCases)
    func loginThroughReqAuthRotatesAndKeepsTheUser(lookup: Lookup) async throws {
        try await Self.withServer(lookup: lookup) { server in
            #expect(try await server.send(.GET, "/me").status == 401)
            #expect(try await server.send(.POST, "/note").status == 204)
            let anonymous = try #require(server.cookie)
            #expect(try await server.send(.POST, "/login/u1").status == 204)
            let signedIn = try #require(server.cookie)
            #expect(signedIn != anonymous, "login did not rotate the token")
            #expect(try await server.send(.GET, "/user-id").body == "u1")
            let me = try await server.send(.GET, "/me")
            #expect(me.status == 200 && me.body == "Alice")
            #expect(try await server.send(.GET, "/me", cookie: anonymous).status == 401, "the pre-login token still works")
        }
    }

    @Test func logoutThroughReqAuthEndsTheSession() async throws {
        try await Self.withServer { server in
            _ = try await server.send(.POST, "/login/u2")
            let token = try #require(server.cookie)
            #expect(try await server.send(.GET, "/me").body == "Bob")
            #expect(try await server.send(.POST, "/logout").status == 204)
            #expect(server.cookie == nil, "logout sent no deleting cookie")
            #expect(try await server.send(.GET, "/me", cookie: token).status == 401, "the session came back after logout")
            #expect(try await server.send(.GET, "/user-id", cookie: token).body == "none")
        }
    }

    @Test func loggingInAsAnotherUserRotatesAgain() async throws {
        try await Self.withServer { server in
            _ = try await server.send(.POST, "/login/u1")
            let first = try #require(server.cookie)
            // Already authenticated as u1: the authenticator logs u1 in, the handler logs in u2.
            _ = try await server.send(.POST, "/login/u2")
            #expect(server.cookie != first)
            #expect(try await server.send(.GET, "/me").body == "Bob")
            #expect(try await server.send(.GET, "/me", cookie: first).status == 401)
        }
    }

    @Test func aFailingStoreAnswers503NotAnonymous() async throws {
        let faults = FaultInjectingSessionStore(MemorySessionStore())
        try await Self.withServer(store: faults) { server in
            _ = try await server.send(.POST, "/login/u1")
            faults.fault = .unavailable
            let down = try await server.send(.GET, "/me")
            #expect(down.status == 503 && down.retryAfter == "5")
            faults.fault = .none
            #expect(try await server.send(.GET, "/me").body == "Alice")
        }
    }
}
