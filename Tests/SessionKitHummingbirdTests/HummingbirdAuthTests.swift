import HTTPTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import HummingbirdTesting
import SessionKit
import SessionKitHummingbird
import SessionKitHummingbirdAuth
import SessionKitTesting
import Testing

/// hummingbird-auth's `context.identity` on a SessionKit session, over real HTTP: handlers
/// written for hummingbird-auth (`requireIdentity()`) run unchanged, and SessionKit's
/// protections hold (rotation on sign-in, a dead cookie after sign-out, 503 when the store fails).
@Suite struct HummingbirdAuthTests {
    struct User: Sendable {
        let id: String
        let name: String
    }

    /// A hummingbird-auth repository, keyed by the session's user ID.
    struct Users: UserSessionRepository {
        let known: [String: User] = ["u1": User(id: "u1", name: "Alice"), "u2": User(id: "u2", name: "Bob")]
        func getUser(from id: String, context: UserRepositoryContext) async throws -> User? { known[id] }
    }

    typealias Context = BasicSessionKitAuthRequestContext<User>

    static func app(store: any FullyCapableSessionStore, closure: Bool = false) throws -> some ApplicationProtocol {
        let engine = try SessionEngine(store: store, configuration: SessionConfiguration(cookie: .insecureLocalDevelopment))
        let router = Router(context: Context.self)
        router.add(middleware: SessionKitMiddleware(engine: engine))
        if closure {
            router.add(middleware: SessionKitAuthenticator(context: Context.self) { id, _ in Users().known[id] })
        } else {
            router.add(middleware: SessionKitAuthenticator(users: Users(), context: Context.self))
        }
        // Handlers as hummingbird-auth apps write them, but signing in through SessionKit.
        router.get("/me") { _, context in try context.requireIdentity().name }
        router.post("/login/:id") { _, context -> HTTPResponse.Status in
            try await context.session.signIn(userID: try context.parameters.require("id"))
            return .noContent
        }
        router.post("/logout") { _, context -> HTTPResponse.Status in
            try context.session.destroy()
            return .noContent
        }
        router.post("/note") { _, context -> HTTPResponse.Status in
            try await context.session.set(SessionKey<String>("note"), "kept")
            return .noContent
        }
        return Application(router: router)
    }

    @Test(arguments: [false, true])
    func theSignedInUserBecomesTheIdentityAndSignInRotates(closure: Bool) async throws {
        try await Self.app(store: MemorySessionStore(), closure: closure).test(.live) { client in
            var jar = CookieJar(name: "id")
            #expect(try await client.send("/me", jar: &jar).status == .unauthorized)
            // An anonymous session first, then a sign-in: a new token, the old one dead at once.
            #expect(try await client.send("/note", .post, jar: &jar).status == .noContent)
            let anonymous = try #require(jar.value)
            #expect(try await client.send("/login/u1", .post, jar: &jar).status == .noContent)
            let signedIn = try #require(jar.value)
            #expect(signedIn != anonymous)
            let me = try await client.send("/me", jar: &jar)
            #expect(me.status == .ok && me.text == "Alice")
            var replay = CookieJar(name: "id", value: anonymous)
            #expect(try await client.send("/me", jar: &replay).status == .unauthorized)
        }
    }

    @Test func afterSignOutTheCookieNeverAuthenticatesAgain() async throws {
        try await Self.app(store: MemorySessionStore()).test(.live) { client in
            var jar = CookieJar(name: "id")
            _ = try await client.send("/login/u2", .post, jar: &jar)
            let token = try #require(jar.value)
            #expect(try await client.send("/me", jar: &jar).text == "Bob")
            let logout = try await client.send("/logout", .post, jar: &jar)
            #expect(logout.status == .noContent && jar.value == nil, "no deleting cookie")
            var replay = CookieJar(name: "id", value: token)
            #expect(try await client.send("/me", jar: &replay).status == .unauthorized)
        }
    }

    @Test func anUnknownUserGetsNoIdentity() async throws {
        try await Self.app(store: MemorySessionStore()).test(.live) { client in
            var jar = CookieJar(name: "id")
            _ = try await client.send("/login/deleted", .post, jar: &jar)
            #expect(jar.value != nil)
            #expect(try await client.send("/me", jar: &jar).status == .unauthorized)
        }
    }

    /// A store that fails answers 503 with `Retry-After`, not 401: nobody is signed out by an outage.
    @Test func aFailingStoreAnswers503NotAnonymous() async throws {
        let faults = FaultInjectingSessionStore(MemorySessionStore())
        try await Self.app(store: faults).test(.live) { client in
            var jar = CookieJar(name: "id")
            _ = try await client.send("/login/u1", .post, jar: &jar)
            faults.fault = .unavailable
            let down = try await client.send("/me", jar: &jar)
            #expect(down.status == .serviceUnavailable && down.headers[.retryAfter] == "5")
            faults.fault = .none
            #expect(try await client.send("/me", jar: &jar).text == "Alice")
        }
    }
}
