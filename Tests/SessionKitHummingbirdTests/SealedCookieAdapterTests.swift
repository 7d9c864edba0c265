import HTTPTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SessionKit
import SessionKitHummingbird
import SessionKitTesting
import Testing

/// An app around ``SessionKitMiddleware`` whose sessions live in sealed cookies, with a
/// counting revocation store, to check the lifecycle table over the wire.
private struct SealedApp {
    static let cookieName = "__Host-id"
    static let counter = SharedTestRoutes.counter
    static let blob = SessionKey<String>("blob")
    static let secret = Data((0..<32).map { UInt8(truncatingIfNeeded: 17 &* $0 &+ 5) }).base64EncodedString()

    let clock: TestClock
    let revocations: CountingSessionStore
    let engine: SessionEngine

    init() throws {
        clock = TestClock(start: Date(timeIntervalSince1970: 1_700_000_000))
        revocations = CountingSessionStore(MemorySessionStore(clock: clock))
        let ring = try KeyRing.parse("k1=\(Self.secret)")
        engine = try SessionEngine(
            sealedCookies: SealedCookieBackend(keyRing: ring, revocationStore: revocations),
            clock: clock
        )
    }

    func jar(_ value: String? = nil) -> CookieJar { CookieJar(name: Self.cookieName, value: value) }

    func run(_ test: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = Router(context: BasicSessionKitRequestContext.self)
        SharedTestRoutes.add(to: router, engine: engine)
        router.get("/big") { _, context in
            try await context.session.set(Self.blob, String(repeating: "x", count: 5000))
            return "should not be sent"
        }
        router.get("/flash") { _, context in
            try await context.session.flash(FlashMessage("hello"))
            return "flashed"
        }
        router.get("/flashes") { _, context in
            try await context.session.consumeFlashes().map(\.text).joined(separator: "|")
        }
        router.get("/others") { _, context in
            String(try await context.session.signOutOtherSessions())
        }
        try await Application(router: router).test(.router, test)
    }
}

@Suite("Sealed cookies over the Hummingbird middleware")
struct SealedCookieAdapterTests {
    @Test("a route that never touches the session sends no cookie, with or without one")
    func noSessionUse() async throws {
        let app = try SealedApp()
        try await app.run { client in
            let bare = try await client.execute(uri: "/plain", method: .get)
            #expect(bare.status == .ok)
            #expect(bare.text == "plain")
            #expect(!bare.hasSetCookie)
            #expect(bare.headers[.vary] == nil)

            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            #expect(jar.value != nil)
            app.clock.advance(by: .seconds(3600 * 3))  // even an expired cookie is not looked at
            let withCookie = try await client.send("/plain", jar: &jar)
            #expect(withCookie.status == .ok)
            #expect(!withCookie.hasSetCookie)
            #expect(app.revocations.total == 0)
        }
    }

    @Test("a read-only anonymous request sends no cookie")
    func readOnlyAnonymous() async throws {
        let app = try SealedApp()
        try await app.run { client in
            let response = try await client.execute(uri: "/read", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "none")
            #expect(!response.hasSetCookie)

            let who = try await client.execute(uri: "/whoami", method: .get)
            #expect(who.text == "anonymous")
            #expect(!who.hasSetCookie)

            // A junk cookie is read as anonymous too, with no cookie in the answer.
            let junk = try await client.execute(
                uri: "/read",
                method: .get,
                headers: fields([.cookie: "\(SealedApp.cookieName)=not-a-sealed-value"])
            )
            #expect(junk.status == .ok)
            #expect(junk.text == "none")
            #expect(!junk.hasSetCookie)
            #expect(app.revocations.total == 0)
        }
    }

    @Test("a write sends a sealed cookie with safe attributes, Vary and Cache-Control")
    func writeSetsCookie() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            let response = try await client.send("/counter", jar: &jar)
            #expect(response.status == .ok)
            #expect(response.text == "1")
            let cookies = sessionSetCookies(in: response, name: SealedApp.cookieName)
            #expect(cookies.count == 1)
            let cookie = try #require(cookies.first)
            #expect(!cookie.value.isEmpty)
            #expect(!cookie.isDeletion)
            #expect(cookie.attributes["httponly"] == "")
            #expect(cookie.attributes["secure"] == "")
            #expect(cookie.attributes["samesite"] == "Lax")
            #expect(cookie.attributes["path"] == "/")
            #expect(!cookie.isPersistent)
            #expect(response.headers[.vary] == "Cookie")
            #expect(response.headers[.cacheControl] == "no-store")

            // The next request reads it back; a read within the touch interval sends nothing.
            let read = try await client.send("/read", jar: &jar)
            #expect(read.text == "1")
            #expect(!read.hasSetCookie)

            // Another write re-seals.
            let before = jar.value
            let second = try await client.send("/counter", jar: &jar)
            #expect(second.text == "2")
            #expect(sessionSetCookie(in: second, name: SealedApp.cookieName) != nil)
            #expect(jar.value != before)
            #expect(try await client.send("/read", jar: &jar).text == "2")
            #expect(app.revocations.total == 0)
        }
    }

    @Test("a read after the touch interval re-seals the cookie")
    func staleReadReSeals() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let before = jar.value
            app.clock.advance(by: .seconds(61))
            let read = try await client.send("/read", jar: &jar)
            #expect(read.text == "1")
            let cookie = try #require(sessionSetCookie(in: read, name: SealedApp.cookieName))
            #expect(!cookie.isDeletion)
            #expect(jar.value != before)
        }
    }

    @Test("login issues a new value; the user is read back")
    func loginIssuesNewValue() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let anonymous = try #require(jar.value)

            let login = try await client.send("/login?user=alice", jar: &jar)
            #expect(login.status == .ok)
            let cookie = try #require(sessionSetCookie(in: login, name: SealedApp.cookieName))
            #expect(!cookie.isDeletion)
            #expect(cookie.value != anonymous)
            #expect(login.headers[.vary] == "Cookie")
            #expect(login.headers[.cacheControl] == "no-store")

            let who = try await client.send("/whoami", jar: &jar)
            #expect(who.text == "alice")
            #expect(try await client.send("/read", jar: &jar).text == "1")
        }
    }

    @Test("remember-me login gives a persistent cookie")
    func rememberMeLogin() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            let login = try await client.send("/login?user=bob&remember=1", jar: &jar)
            let cookie = try #require(sessionSetCookie(in: login, name: SealedApp.cookieName))
            #expect(cookie.isPersistent)
            #expect(cookie.attributes["max-age"] == String(14 * 86_400))
        }
    }

    @Test("regenerate issues a new value and keeps the data")
    func regenerateIssuesNewValue() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let before = jar.value
            let response = try await client.send("/regenerate", jar: &jar)
            #expect(sessionSetCookie(in: response, name: SealedApp.cookieName)?.isDeletion == false)
            #expect(jar.value != before)
            #expect(try await client.send("/read", jar: &jar).text == "1")
        }
    }

    @Test("logout sends a deleting cookie and revokes a stolen copy")
    func logoutDeletes() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=carol", jar: &jar)
            let stolen = try #require(jar.value)
            app.clock.advance(by: .seconds(1))

            let logout = try await client.send("/logout", jar: &jar)
            #expect(logout.status == .ok)
            let cookie = try #require(sessionSetCookie(in: logout, name: SealedApp.cookieName))
            #expect(cookie.isDeletion)
            #expect(cookie.value.isEmpty)
            #expect(cookie.attributes["path"] == "/")
            #expect(logout.headers[.cacheControl] == "no-store")
            #expect(jar.value == nil)

            var attacker = app.jar(stolen)
            let who = try await client.send("/whoami", jar: &attacker)
            #expect(who.status == .ok)
            #expect(who.text == "anonymous")
            #expect(!who.hasSetCookie)
        }
    }

    @Test("logout without a cookie sends nothing")
    func logoutWithoutCookie() async throws {
        let app = try SealedApp()
        try await app.run { client in
            let response = try await client.execute(uri: "/logout", method: .get)
            #expect(response.status == .ok)
            #expect(!response.hasSetCookie)
        }
    }

    @Test("an oversized session is an HTTP 500, not a 200 with a missing cookie")
    func oversizedSessionIs500() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let before = jar.value

            let response = try await client.send("/big", jar: &jar)
            #expect(response.status == .internalServerError)
            #expect(!response.hasSetCookie)
            #expect(!response.text.contains("should not be sent"))
            #expect(response.text.contains("4096"))
            #expect(jar.value == before)

            // The previous session is intact.
            #expect(try await client.send("/read", jar: &jar).text == "1")

            // Also for a brand-new session.
            let fresh = try await client.execute(uri: "/big", method: .get)
            #expect(fresh.status == .internalServerError)
            #expect(!fresh.hasSetCookie)
        }
    }

    @Test("flash messages survive exactly one read")
    func flashOnce() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            _ = try await client.send("/flash", jar: &jar)
            #expect(try await client.send("/flashes", jar: &jar).text == "hello")
            #expect(try await client.send("/flashes", jar: &jar).text == "")
            #expect(try await client.send("/read", jar: &jar).text == "1")
        }
    }

    @Test("sign out other sessions ends another device but keeps this one")
    func signOutOthers() async throws {
        let app = try SealedApp()
        try await app.run { client in
            var deviceA = app.jar()
            var deviceB = app.jar()
            _ = try await client.send("/login?user=dave", jar: &deviceA)
            _ = try await client.send("/login?user=dave", jar: &deviceB)
            app.clock.advance(by: .seconds(1))

            let others = try await client.send("/others", jar: &deviceA)
            #expect(others.text == "1")
            #expect(sessionSetCookie(in: others, name: SealedApp.cookieName)?.isDeletion == false)
            #expect(try await client.send("/whoami", jar: &deviceA).text == "dave")
            #expect(try await client.send("/whoami", jar: &deviceB).text == "anonymous")
        }
    }
}
