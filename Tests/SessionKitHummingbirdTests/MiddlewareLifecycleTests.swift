import HTTPTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SessionKit
import SessionKitHummingbird
import SessionKitTesting
import Testing

/// A small app around ``SessionKitMiddleware`` whose store counts every call, so each row of
/// the engine's lifecycle table can be checked over the wire: store calls and response fields.
struct LifecycleApp {
    static let cookieName = "__Host-id"
    static let counter = SharedTestRoutes.counter

    let clock: TestClock
    let store: CountingSessionStore
    let engine: SessionEngine

    init(configuration: SessionConfiguration = SessionConfiguration()) throws {
        clock = TestClock()
        store = CountingSessionStore(MemorySessionStore(clock: clock))
        engine = try SessionEngine(store: store, configuration: configuration, clock: clock)
    }

    func jar(_ value: String? = nil) -> CookieJar { CookieJar(name: Self.cookieName, value: value) }

    func run(_ test: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = Router(context: BasicSessionKitRequestContext.self)
        SharedTestRoutes.add(to: router, engine: engine)
        router.get("/login-remember") { _, context in
            try await context.session.signIn(userID: "alice", rememberMe: true)
            return "signed in alice"
        }
        router.get("/flash-error") { _, context -> String in
            try await context.session.flash(FlashMessage("bad input", kind: "error"))
            throw HTTPError(.badRequest, message: "bad input")
        }
        router.get("/flashes") { _, context in
            try await context.session.consumeFlashes().map(\.text).joined(separator: "|")
        }
        router.get("/boom") { _, context -> String in
            try await context.session.set(Self.counter, 999)
            throw BoomError()
        }
        try await Application(router: router).test(.router, test)
    }
}

@Suite("Middleware lifecycle over the wire")
struct MiddlewareLifecycleTests {
    // MARK: No session use

    @Test("a route that never touches the session costs nothing, even with a cookie")
    func plainRouteWithCookie() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            #expect(jar.value != nil)
            app.store.reset()

            let response = try await client.send("/plain", jar: &jar)
            #expect(response.status == .ok)
            #expect(response.text == "plain")
            #expect(app.store.calls == [:])
            #expect(!response.hasSetCookie)
            #expect(response.headers[.vary] == nil)
        }
    }

    @Test("reading without a cookie costs no store call and sets no cookie")
    func readWithoutCookie() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            let response = try await client.execute(uri: "/read", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "none")
            #expect(app.store.calls == [:])
            #expect(!response.hasSetCookie)
        }
    }

    // MARK: New and existing sessions

    @Test("the first write creates a session: one create, a browser-session cookie with safe attributes")
    func firstWriteCreatesSession() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            let response = try await client.execute(uri: "/counter", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "1")
            #expect(app.store.calls == [.create: 1])

            let cookies = sessionSetCookies(in: response, name: LifecycleApp.cookieName)
            #expect(cookies.count == 1)
            #expect(response.headers[values: .setCookie].count == 1)
            let cookie = try #require(cookies.first)
            #expect(SessionToken(validating: cookie.value) != nil)
            #expect(cookie.attributes["httponly"] == "")
            #expect(cookie.attributes["secure"] == "")
            #expect(cookie.attributes["samesite"] == "Lax")
            #expect(cookie.attributes["path"] == "/")
            #expect(cookie.attributes["domain"] == nil)
            #expect(cookie.attributes["max-age"] == nil)
            #expect(cookie.attributes["expires"] == nil)
            #expect(!cookie.isPersistent)
            #expect(response.headers[.vary] == "Cookie")
            #expect(response.headers[.cacheControl] == "no-store")
        }
    }

    @Test("changing a key of an existing session costs one load and one patch, no new cookie")
    func changeExistingSession() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let original = jar.value
            app.store.reset()

            let response = try await client.send("/counter", jar: &jar)
            #expect(response.status == .ok)
            #expect(response.text == "2")
            #expect(app.store.calls == [.load: 1, .update: 1])
            #expect(!response.hasSetCookie)
            #expect(jar.value == original)

            app.store.reset()
            let third = try await client.send("/counter", jar: &jar)
            #expect(third.text == "3")
            #expect(app.store.calls == [.load: 1, .update: 1])
        }
    }

    @Test("a read soon after the last write costs one load and no touch")
    func recentReadDoesNotTouch() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            app.clock.advance(by: .seconds(30))
            app.store.reset()

            let response = try await client.send("/read", jar: &jar)
            #expect(response.text == "1")
            #expect(app.store.calls == [.load: 1])
            #expect(!response.hasSetCookie)
        }
    }

    @Test("a read after the touch interval costs one load and one touch, no cookie for a browser-session cookie")
    func staleReadTouches() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            app.clock.advance(by: .seconds(61))
            app.store.reset()

            let response = try await client.send("/read", jar: &jar)
            #expect(response.text == "1")
            #expect(app.store.calls == [.load: 1, .touch: 1])
            #expect(!response.hasSetCookie)

            // The touch moved "last seen": the next read within the interval does not touch again.
            app.clock.advance(by: .seconds(10))
            app.store.reset()
            _ = try await client.send("/read", jar: &jar)
            #expect(app.store.calls == [.load: 1])
        }
    }

    @Test("touching keeps an idle session alive past its original idle expiry")
    func touchExtendsIdleExpiry() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            // Default idle timeout is 30 minutes: read at 20 and at 40 minutes.
            app.clock.advance(by: .seconds(20 * 60))
            #expect(try await client.send("/read", jar: &jar).text == "1")
            app.clock.advance(by: .seconds(20 * 60))
            #expect(try await client.send("/read", jar: &jar).text == "1")
            // Then 31 minutes of silence ends it.
            app.clock.advance(by: .seconds(31 * 60))
            app.store.reset()
            let expired = try await client.send("/read", jar: &jar)
            #expect(expired.text == "none")
            #expect(app.store.calls == [.load: 1])
            #expect(!expired.hasSetCookie)
        }
    }

    @Test("a write to an expired session starts a new one instead of resurrecting the old")
    func writeAfterExpiryCreatesNewSession() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let old = try #require(jar.value)
            app.clock.advance(by: .seconds(31 * 60))
            app.store.reset()

            let response = try await client.send("/counter", jar: &jar)
            #expect(response.text == "1")
            #expect(app.store.calls == [.load: 1, .create: 1])
            let new = try #require(jar.value)
            #expect(new != old)
        }
    }

    @Test("a well-formed but unknown token costs one load and is anonymous")
    func unknownTokenIsAnonymous() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar(SessionToken.generate().text)
            let response = try await client.send("/read", jar: &jar)
            #expect(response.text == "none")
            #expect(app.store.calls == [.load: 1])
            #expect(!response.hasSetCookie)
        }
    }

    // MARK: Sign-in, regenerate, destroy

    @Test("signing in moves the session to a new token; the old token is dead at once")
    func signInRegenerates() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let old = try #require(jar.value)
            app.store.reset()

            let response = try await client.send("/login?user=alice", jar: &jar)
            #expect(response.status == .ok)
            #expect(app.store.calls == [.load: 1, .rotate: 1])
            let cookie = try #require(sessionSetCookie(in: response, name: LifecycleApp.cookieName))
            #expect(cookie.value != old)
            #expect(SessionToken(validating: cookie.value) != nil)
            #expect(!cookie.isPersistent)
            #expect(cookie.attributes["httponly"] == "")
            #expect(cookie.attributes["secure"] == "")
            #expect(response.headers[.vary] == "Cookie")
            #expect(response.headers[.cacheControl] == "no-store")

            // The new token carries the user and the data.
            #expect(try await client.send("/whoami", jar: &jar).text == "alice")
            #expect(try await client.send("/read", jar: &jar).text == "1")

            // The old token is anonymous now.
            var stale = app.jar(old)
            #expect(try await client.send("/whoami", jar: &stale).text == "anonymous")
            let staleRead = try await client.send("/read", jar: &stale)
            #expect(staleRead.text == "none")
            #expect(!staleRead.hasSetCookie)
        }
    }

    @Test("signing in without a session costs one create")
    func signInWithoutCookie() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            let response = try await client.send("/login?user=bob", jar: &jar)
            #expect(response.status == .ok)
            #expect(app.store.calls == [.create: 1])
            #expect(jar.value != nil)
            #expect(try await client.send("/whoami", jar: &jar).text == "bob")
        }
    }

    @Test("regenerate keeps the data under a new token and kills the old one")
    func regenerate() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            _ = try await client.send("/counter", jar: &jar)
            let old = try #require(jar.value)
            app.store.reset()

            let response = try await client.send("/regenerate", jar: &jar)
            #expect(app.store.calls == [.load: 1, .rotate: 1])
            let cookie = try #require(sessionSetCookie(in: response, name: LifecycleApp.cookieName))
            #expect(cookie.value != old)
            #expect(try await client.send("/read", jar: &jar).text == "2")

            var stale = app.jar(old)
            #expect(try await client.send("/read", jar: &stale).text == "none")
        }
    }

    @Test("logout deletes the record and sends a deleting cookie; replaying the old cookie is anonymous")
    func logout() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=alice", jar: &jar)
            _ = try await client.send("/counter", jar: &jar)
            let old = try #require(jar.value)
            app.store.reset()

            let response = try await client.send("/logout", jar: &jar)
            #expect(response.status == .ok)
            #expect(app.store.calls == [.delete: 1])
            let cookies = sessionSetCookies(in: response, name: LifecycleApp.cookieName)
            #expect(cookies.count == 1)
            let cookie = try #require(cookies.first)
            #expect(cookie.value == "")
            #expect(cookie.attributes["max-age"] == "0")
            #expect(cookie.attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT")
            #expect(cookie.attributes["path"] == "/")
            #expect(cookie.attributes["secure"] == "")
            #expect(cookie.isDeletion)
            #expect(response.headers[.vary] == "Cookie")
            #expect(response.headers[.cacheControl] == "no-store")
            #expect(jar.value == nil)

            var replay = app.jar(old)
            app.store.reset()
            let whoami = try await client.send("/whoami", jar: &replay)
            #expect(whoami.text == "anonymous")
            #expect(app.store.calls == [.load: 1])
            #expect(!whoami.hasSetCookie)
            #expect(try await client.send("/read", jar: &replay).text == "none")
        }
    }

    @Test("logout without a cookie costs nothing and sends no cookie")
    func logoutWithoutCookie() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            let response = try await client.execute(uri: "/logout", method: .get)
            #expect(response.status == .ok)
            #expect(app.store.calls == [:])
            #expect(!response.hasSetCookie)
        }
    }

    @Test("remember-me: sign-in sets a persistent cookie; writes and touches refresh it, quiet reads do not")
    func rememberMeRefreshesPersistentCookie() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            let fourteenDays = 14 * 86_400
            var jar = app.jar()
            let signIn = try await client.send("/login-remember", jar: &jar)
            let issued = try #require(sessionSetCookie(in: signIn, name: LifecycleApp.cookieName))
            #expect(issued.isPersistent)
            #expect(issued.attributes["max-age"].flatMap { Int($0) }.map { (fourteenDays - 1...fourteenDays).contains($0) } == true)
            #expect(issued.attributes["expires"]?.hasSuffix(" GMT") == true)
            #expect(issued.attributes["httponly"] == "")
            #expect(issued.attributes["secure"] == "")

            // A write: one load and one patch, and the same token re-sent with a fresh expiry.
            app.clock.advance(by: .seconds(10))
            app.store.reset()
            let write = try await client.send("/counter", jar: &jar)
            #expect(app.store.calls == [.load: 1, .update: 1])
            let rewritten = try #require(sessionSetCookie(in: write, name: LifecycleApp.cookieName))
            #expect(rewritten.value == issued.value)
            #expect(rewritten.isPersistent)
            #expect(write.headers[.cacheControl] == "no-store")

            // A quiet read within the touch interval: one load, no cookie.
            app.clock.advance(by: .seconds(10))
            app.store.reset()
            let quiet = try await client.send("/read", jar: &jar)
            #expect(app.store.calls == [.load: 1])
            #expect(!quiet.hasSetCookie)

            // A read after the touch interval: one load, one touch, the same token with a fresh expiry.
            app.clock.advance(by: .seconds(61))
            app.store.reset()
            let touched = try await client.send("/read", jar: &jar)
            #expect(app.store.calls == [.load: 1, .touch: 1])
            let refreshed = try #require(sessionSetCookie(in: touched, name: LifecycleApp.cookieName))
            #expect(refreshed.value == issued.value)
            #expect(refreshed.isPersistent)
            #expect(refreshed.attributes["max-age"].flatMap { Int($0) }.map { (fourteenDays - 1...fourteenDays).contains($0) } == true)
        }
    }

    @Test("the session cookie is found among other cookies, in any position and with extra spaces")
    func cookieAmongOthers() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=alice", jar: &jar)
            let token = try #require(jar.value)
            let name = LifecycleApp.cookieName
            let variants = [
                "theme=dark; \(name)=\(token); lang=en",
                "\(name)=\(token);lang=en",
                "a=1;  \(name)=\(token)  ",
                "\(name)x=junk; x\(name)=junk; \(name)=\(token)",
            ]
            for variant in variants {
                let response = try await client.execute(uri: "/whoami", method: .get, headers: fields([.cookie: variant]))
                #expect(response.text == "alice", "\(variant)")
            }
            // Names are exact: another case or a prefix is another cookie.
            let lowercased = fields([.cookie: "\(name.lowercased())=\(token)"])
            #expect(try await client.execute(uri: "/whoami", method: .get, headers: lowercased).text == "anonymous")
        }
    }

    // MARK: Errors

    @Test("an HTTPError from the handler keeps its status and still commits the session (new session)")
    func httpErrorCommitsNewSession() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            let response = try await client.send("/flash-error", jar: &jar)
            #expect(response.status == .badRequest)
            #expect(app.store.calls == [.create: 1])
            #expect(sessionSetCookie(in: response, name: LifecycleApp.cookieName) != nil)
            #expect(jar.value != nil)

            let next = try await client.send("/flashes", jar: &jar)
            #expect(next.status == .ok)
            #expect(next.text == "bad input")
            // Consumed: shown exactly once.
            #expect(try await client.send("/flashes", jar: &jar).text == "")
        }
    }

    @Test("an HTTPError from the handler keeps its status and still commits the session (existing session)")
    func httpErrorCommitsExistingSession() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            app.store.reset()

            let response = try await client.send("/flash-error", jar: &jar)
            #expect(response.status == .badRequest)
            #expect(app.store.calls == [.load: 1, .update: 1])
            #expect(!response.hasSetCookie)
            #expect(try await client.send("/flashes", jar: &jar).text == "bad input")
        }
    }

    @Test("a non-HTTP error discards the request's session changes")
    func otherErrorDiscardsChanges() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let before = jar.value
            app.store.reset()

            let response = try await client.send("/boom", jar: &jar)
            #expect(response.status == .internalServerError)
            // The handler's set() loaded the session; nothing was written.
            #expect(app.store.calls == [.load: 1])
            #expect(!response.hasSetCookie)
            #expect(jar.value == before)
            #expect(try await client.send("/read", jar: &jar).text == "1")
        }
    }

    @Test("a non-HTTP error without a session creates none")
    func otherErrorCreatesNothing() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            let response = try await client.execute(uri: "/boom", method: .get)
            #expect(response.status == .internalServerError)
            #expect(app.store.calls == [:])
            #expect(!response.hasSetCookie)
        }
    }

    // MARK: Hostile cookies

    @Test("the session cookie sent twice in one Cookie field is anonymous and costs no store call")
    func duplicateCookieInOneField() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var first = app.jar()
            _ = try await client.send("/login?user=alice", jar: &first)
            var second = app.jar()
            _ = try await client.send("/login?user=bob", jar: &second)
            let a = try #require(first.value)
            let b = try #require(second.value)
            app.store.reset()

            let headers = fields([.cookie: "\(LifecycleApp.cookieName)=\(a); \(LifecycleApp.cookieName)=\(b)"])
            let whoami = try await client.execute(uri: "/whoami", method: .get, headers: headers)
            #expect(whoami.text == "anonymous")
            let read = try await client.execute(uri: "/read", method: .get, headers: headers)
            #expect(read.text == "none")
            #expect(app.store.calls == [:])
            #expect(!whoami.hasSetCookie)
            #expect(!read.hasSetCookie)

            // Same when one of them is junk.
            let mixed = fields([.cookie: "\(LifecycleApp.cookieName)=\(a); other=1; \(LifecycleApp.cookieName)=junk"])
            #expect(try await client.execute(uri: "/whoami", method: .get, headers: mixed).text == "anonymous")
            #expect(app.store.calls == [:])
        }
    }

    @Test("the session cookie sent in two Cookie fields is anonymous and costs no store call")
    func duplicateCookieInTwoFields() async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var first = app.jar()
            _ = try await client.send("/login?user=alice", jar: &first)
            let a = try #require(first.value)
            app.store.reset()

            let headers = fields([
                .cookie: "\(LifecycleApp.cookieName)=\(a)",
                .cookie: "\(LifecycleApp.cookieName)=\(a)",
            ])
            let whoami = try await client.execute(uri: "/whoami", method: .get, headers: headers)
            #expect(whoami.text == "anonymous")
            #expect(app.store.calls == [:])
            #expect(!whoami.hasSetCookie)

            // The single cookie still works.
            #expect(try await client.send("/whoami", jar: &first).text == "alice")
        }
    }

    enum MalformedCookie: String, CaseIterable, CustomTestStringConvertible {
        case tenKilobytes
        case junk
        case quotedToken
        case quotes
        case sqlFragment
        case sqlDrop
        case storageIDHex
        case tokenPlusOneCharacter
        case tokenMinusOneCharacter
        case tokenWithNonCanonicalLastCharacter
        case empty

        var testDescription: String { rawValue }

        /// The cookie value to send, given the token of a real, live session.
        func value(realToken token: String) -> String {
            switch self {
            case .tenKilobytes: return String(repeating: "A", count: 10 * 1024)
            case .junk: return "!#$%&'*+-.^_`|~{}[]<>,/?@"
            case .quotedToken: return "\"\(token)\""
            case .quotes: return "\"\"\"'''"
            case .sqlFragment: return "' OR '1'='1' --"
            case .sqlDrop: return "x');DROP TABLE sessions;--"
            case .storageIDHex: return SessionToken(validating: token)!.storageID.hex
            case .tokenPlusOneCharacter: return token + "A"
            case .tokenMinusOneCharacter: return String(token.dropLast())
            case .tokenWithNonCanonicalLastCharacter:
                // The 43rd character carries two padding bits that must be zero; "B" sets one.
                let last = token.last!
                return String(token.dropLast()) + (last == "B" ? "C" : "B")
            case .empty: return ""
            }
        }
    }

    @Test("malformed session cookies are anonymous and never reach the store", arguments: MalformedCookie.allCases)
    func malformedCookie(_ kind: MalformedCookie) async throws {
        let app = try LifecycleApp()
        try await app.run { client in
            var real = app.jar()
            _ = try await client.send("/login?user=alice", jar: &real)
            _ = try await client.send("/counter", jar: &real)
            let token = try #require(real.value)
            app.store.reset()

            let value = kind.value(realToken: token)
            let headers = fields([.cookie: "\(LifecycleApp.cookieName)=\(value)"])
            let whoami = try await client.execute(uri: "/whoami", method: .get, headers: headers)
            #expect(whoami.status == .ok)
            #expect(whoami.text == "anonymous")
            let read = try await client.execute(uri: "/read", method: .get, headers: headers)
            #expect(read.status == .ok)
            #expect(read.text == "none")
            #expect(app.store.calls == [:])
            #expect(!whoami.hasSetCookie)
            #expect(!read.hasSetCookie)

            // The real session is untouched.
            #expect(try await client.send("/whoami", jar: &real).text == "alice")
            #expect(try await client.send("/read", jar: &real).text == "1")
        }
    }
}
