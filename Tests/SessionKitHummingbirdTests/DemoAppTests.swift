import HTTPTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SessionDemoApp
import SessionKit
import SessionKitTesting
import Testing

/// Runs the demo app on a real HTTP server (free port) with a test clock.
enum DemoHarness {
    static let cookieName = "id"
    static let json: HTTPFields = [.contentType: "application/json"]
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    static func run(memoryCapacity: Int? = nil, _ test: @Sendable (any TestClientProtocol, TestClock) async throws -> Void) async throws {
        let clock = TestClock()
        var options = DemoOptions(host: "127.0.0.1", port: 0)
        if let memoryCapacity { options.memoryCapacity = memoryCapacity }
        let engine = try DemoApplication.makeEngine(options, clock: clock, logger: Logger(label: "test"))
        let app = try DemoApplication.build(options, engine: engine)
        try await app.test(.live) { client in
            try await test(client, clock)
        }
    }

    static func jar(userAgent: String? = nil) -> CookieJar {
        CookieJar(name: cookieName, userAgent: userAgent)
    }

    static func loginBody(user: String, password: String = DemoApplication.password, rememberMe: Bool? = nil) -> String {
        let remember = rememberMe.map { ",\"rememberMe\":\($0)" } ?? ""
        return "{\"user\":\"\(user)\",\"password\":\"\(password)\"\(remember)}"
    }

    /// Signs in through the HTML form: fetches /login for a CSRF token, then posts the form.
    static func formSignIn(_ client: any TestClientProtocol, jar: inout CookieJar, user: String) async throws -> TestResponse {
        let page = try await client.send("/login", jar: &jar)
        let token = try #require(csrf(in: page.text))
        return try await client.send(
            "/login",
            .post,
            jar: &jar,
            headers: form,
            body: formBody(["user": user, "password": DemoApplication.password, "_csrf": token])
        )
    }

    /// The hidden `_csrf` field's value on an HTML page.
    static func csrf(in page: String) -> String? {
        extract(page, after: "name=\"_csrf\" value=\"", until: "\"")
    }

    /// The visits counter on the home page.
    static func visits(in page: String) -> Int? {
        extract(page, after: "id=\"visits\">", until: "<").flatMap { Int($0) }
    }
}

/// Checks that every `Cache-Control` field of a page says `no-store`.
func expectNoStore(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    let values = response.headers[values: .cacheControl]
    #expect(!values.isEmpty, "missing Cache-Control", sourceLocation: sourceLocation)
    #expect(values.allSatisfy { $0 == "no-store" }, "Cache-Control: \(values)", sourceLocation: sourceLocation)
}

@Suite("Demo app over real HTTP")
struct DemoAppTests {
    // MARK: JSON API

    @Test("GET /healthz answers ok without a cookie")
    func healthz() async throws {
        try await DemoHarness.run { client, _ in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "ok")
            #expect(!response.hasSetCookie)
        }
    }

    /// `/readyz` asks the store and answers 503 with `Retry-After` while it fails;
    /// `/healthz` is liveness only and never calls the store.
    @Test func readyzFollowsTheStoreHealthzNeverTouchesIt() async throws {
        let faults = FaultInjectingSessionStore(MemorySessionStore())
        let counting = CountingSessionStore(faults)
        let engine = try SessionEngine(store: counting, configuration: SessionConfiguration(cookie: .insecureLocalDevelopment))
        let app = try DemoApplication.build(DemoOptions(host: "127.0.0.1", port: 0), engine: engine)
        try await app.test(.live) { client in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok && ready.text == "ready")
            faults.fault = .unavailable
            let down = try await client.execute(uri: "/readyz", method: .get)
            #expect(down.status == .serviceUnavailable)
            #expect(down.headers[.retryAfter] == "5")
            counting.reset()
            let alive = try await client.execute(uri: "/healthz", method: .get)
            #expect(alive.status == .ok && counting.total == 0, "the liveness probe called the store")
            faults.fault = .none
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
        }
    }

    @Test("GET /api/me for an anonymous visitor answers user null, visits 0, and sets no cookie")
    func anonymousMe() async throws {
        try await DemoHarness.run { client, _ in
            let response = try await client.execute(uri: "/api/me", method: .get)
            #expect(response.status == .ok)
            let json = try #require(response.jsonObject)
            #expect(json["user"] is NSNull)
            #expect(json["visits"] as? Int == 0)
            #expect(json.count == 2)
            #expect(!response.hasSetCookie)
        }
    }

    @Test("POST /api/visit counts per session")
    func visits() async throws {
        try await DemoHarness.run { client, clock in
            var jar = DemoHarness.jar()
            let first = try await client.send("/api/visit", .post, jar: &jar, headers: DemoHarness.json)
            #expect(first.status == .ok)
            #expect(first.jsonObject?["visits"] as? Int == 1)
            let cookie = try #require(sessionSetCookie(in: first, name: DemoHarness.cookieName))
            // The demo's development cookie: not Secure, but still HttpOnly and SameSite=Lax.
            #expect(cookie.attributes["httponly"] == "")
            #expect(cookie.attributes["samesite"] == "Lax")
            #expect(cookie.attributes["secure"] == nil)
            #expect(!cookie.isPersistent)

            let second = try await client.send("/api/visit", .post, jar: &jar, headers: DemoHarness.json)
            #expect(second.status == .ok)
            #expect(second.jsonObject?["visits"] as? Int == 2)
            #expect(!second.hasSetCookie)

            let me = try await client.send("/api/me", jar: &jar)
            #expect(me.jsonObject?["visits"] as? Int == 2)

            // Another client has its own count.
            var other = DemoHarness.jar()
            let elsewhere = try await client.send("/api/visit", .post, jar: &other, headers: DemoHarness.json)
            #expect(elsewhere.jsonObject?["visits"] as? Int == 1)

            // After the idle timeout the session is gone.
            clock.advance(by: .seconds(31 * 60))
            let expired = try await client.send("/api/me", jar: &jar)
            #expect(expired.jsonObject?["visits"] as? Int == 0)
        }
    }

    @Test("state-changing API calls without Content-Type: application/json answer 415")
    func apiRequiresJSON() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let missing = try await client.send("/api/visit", .post, jar: &jar)
            #expect(missing.status == .unsupportedMediaType)
            #expect(!missing.hasSetCookie)

            let formType = try await client.send("/api/visit", .post, jar: &jar, headers: DemoHarness.form, body: "x=1")
            #expect(formType.status == .unsupportedMediaType)

            let plain = try await client.send(
                "/api/login",
                .post,
                jar: &jar,
                headers: [.contentType: "text/plain"],
                body: DemoHarness.loginBody(user: "alice")
            )
            #expect(plain.status == .unsupportedMediaType)
            #expect(!plain.hasSetCookie)

            let charset = try await client.send(
                "/api/visit",
                .post,
                jar: &jar,
                headers: [.contentType: "application/json; charset=utf-8"]
            )
            #expect(charset.status == .ok)
        }
    }

    @Test("POST /api/login: wrong password 401, right password signs in under a new cookie")
    func apiLogin() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            _ = try await client.send("/api/visit", .post, jar: &jar, headers: DemoHarness.json)
            let anonymousCookie = try #require(jar.value)

            let wrong = try await client.send(
                "/api/login",
                .post,
                jar: &jar,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: "alice", password: "nope")
            )
            #expect(wrong.status == .unauthorized)
            #expect(!wrong.hasSetCookie)
            #expect(try await client.send("/api/me", jar: &jar).jsonObject?["user"] is NSNull)

            let right = try await client.send(
                "/api/login",
                .post,
                jar: &jar,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: "alice")
            )
            #expect(right.status == .ok)
            #expect(right.jsonObject?["user"] as? String == "alice")
            #expect(right.jsonObject?["visits"] as? Int == 1)
            let cookie = try #require(sessionSetCookie(in: right, name: DemoHarness.cookieName))
            #expect(cookie.value != anonymousCookie)
            #expect(!cookie.isPersistent)

            let me = try await client.send("/api/me", jar: &jar)
            #expect(me.jsonObject?["user"] as? String == "alice")
            #expect(me.jsonObject?["visits"] as? Int == 1)

            var stale = CookieJar(name: DemoHarness.cookieName, value: anonymousCookie)
            let replay = try await client.send("/api/me", jar: &stale)
            #expect(replay.jsonObject?["user"] is NSNull)
            #expect(replay.jsonObject?["visits"] as? Int == 0)
        }
    }

    @Test("POST /api/login with rememberMe gives a persistent cookie")
    func apiLoginRememberMe() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let response = try await client.send(
                "/api/login",
                .post,
                jar: &jar,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: "alice", rememberMe: true)
            )
            #expect(response.status == .ok)
            let cookie = try #require(sessionSetCookie(in: response, name: DemoHarness.cookieName))
            #expect(cookie.isPersistent)
            #expect(cookie.attributes["max-age"] == String(14 * 86_400))
            #expect(cookie.attributes["expires"]?.hasSuffix(" GMT") == true)
        }
    }

    /// User names are checked scalar by scalar against an allow-list and limited in bytes: a
    /// Prepend scalar (U+0D4E) before `<` is one `Character`, which a `Character` check let through.
    @Test(
        "POST /api/login rejects a malformed user name with 400",
        arguments: [" alice", "a\u{0D4E}<b>", "alice<script>", "jos\u{E9}", String(repeating: "a", count: 65), ""]
    )
    func apiLoginBadUserName(_ user: String) async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let response = try await client.send(
                "/api/login",
                .post,
                jar: &jar,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: user)
            )
            #expect(response.status == .badRequest)
            #expect(!response.hasSetCookie)
        }
    }

    @Test("GET /api/sessions lists the user's devices; DELETE /api/sessions/others signs the others out")
    func apiSessions() async throws {
        try await DemoHarness.run { client, _ in
            var anonymous = DemoHarness.jar()
            #expect(try await client.send("/api/sessions", jar: &anonymous).status == .unauthorized)

            var laptop = DemoHarness.jar(userAgent: "Laptop/1.0")
            _ = try await client.send(
                "/api/login",
                .post,
                jar: &laptop,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: "alice")
            )
            let one = try #require(try await client.send("/api/sessions", jar: &laptop).jsonArray)
            #expect(one.count == 1)
            #expect(one.first?["current"] as? Bool == true)
            #expect(one.first?["userAgent"] as? String == "Laptop/1.0")
            #expect((one.first?["id"] as? String)?.count == 12)

            var phone = DemoHarness.jar(userAgent: "Phone/2.0")
            _ = try await client.send(
                "/api/login",
                .post,
                jar: &phone,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: "alice")
            )
            let two = try #require(try await client.send("/api/sessions", jar: &laptop).jsonArray)
            #expect(two.count == 2)
            #expect(Set(two.compactMap { $0["userAgent"] as? String }) == ["Laptop/1.0", "Phone/2.0"])
            #expect(two.filter { $0["current"] as? Bool == true }.map { $0["userAgent"] as? String } == ["Laptop/1.0"])
            // Another user's sessions are not listed.
            var stranger = DemoHarness.jar(userAgent: "Stranger/3.0")
            _ = try await client.send(
                "/api/login",
                .post,
                jar: &stranger,
                headers: DemoHarness.json,
                body: DemoHarness.loginBody(user: "bob")
            )
            #expect(try await client.send("/api/sessions", jar: &laptop).jsonArray?.count == 2)

            // Needs the JSON content type.
            let notJSON = try await client.send("/api/sessions/others", .delete, jar: &laptop)
            #expect(notJSON.status == .unsupportedMediaType)
            #expect(try await client.send("/api/me", jar: &phone).jsonObject?["user"] as? String == "alice")

            let signedOut = try await client.send("/api/sessions/others", .delete, jar: &laptop, headers: DemoHarness.json)
            #expect(signedOut.status == .ok)
            #expect(signedOut.jsonObject?["signedOut"] as? Int == 1)

            #expect(try await client.send("/api/me", jar: &phone).jsonObject?["user"] is NSNull)
            #expect(try await client.send("/api/me", jar: &laptop).jsonObject?["user"] as? String == "alice")
            #expect(try await client.send("/api/me", jar: &stranger).jsonObject?["user"] as? String == "bob")
            let remaining = try #require(try await client.send("/api/sessions", jar: &laptop).jsonArray)
            #expect(remaining.count == 1)
            #expect(remaining.first?["current"] as? Bool == true)
        }
    }

    // MARK: HTML pages

    @Test("GET / counts visits across requests and is never cached")
    func homeCountsVisits() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            for expected in 1...3 {
                let page = try await client.send("/", jar: &jar)
                #expect(page.status == .ok)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(DemoHarness.visits(in: page.text) == expected)
                #expect(page.text.contains("Not signed in"))
                expectNoStore(page)
            }
        }
    }

    @Test("GET /login carries a CSRF token in a hidden field")
    func loginPageHasCSRF() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let page = try await client.send("/login", jar: &jar)
            #expect(page.status == .ok)
            expectNoStore(page)
            #expect(page.text.contains("<input type=\"hidden\" name=\"_csrf\""))
            let token = try #require(DemoHarness.csrf(in: page.text))
            #expect(token.count == 43)
            // Asking for a token creates the session that protects the sign-in form.
            #expect(jar.value != nil)
            // The same session keeps the same token.
            let again = try await client.send("/login", jar: &jar)
            #expect(DemoHarness.csrf(in: again.text) == token)
        }
    }

    @Test("POST /login as a form with the right CSRF token signs in and redirects home")
    func formLogin() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let loginPage = try await client.send("/login", jar: &jar)
            let token = try #require(DemoHarness.csrf(in: loginPage.text))
            let before = try #require(jar.value)

            let response = try await client.send(
                "/login",
                .post,
                jar: &jar,
                headers: DemoHarness.form,
                body: formBody(["user": "alice", "password": DemoApplication.password, "_csrf": token])
            )
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/")
            expectNoStore(response)
            let cookie = try #require(sessionSetCookie(in: response, name: DemoHarness.cookieName))
            #expect(cookie.value != before)

            let home = try await client.send("/", jar: &jar)
            #expect(home.status == .ok)
            #expect(home.text.contains("Signed in as <strong id=\"user\">alice</strong>"))
            #expect(home.text.contains("Welcome, alice!"))
            // Sign-in renewed the CSRF token.
            #expect(DemoHarness.csrf(in: home.text) != token)
            // The flash is shown once.
            #expect(!(try await client.send("/", jar: &jar)).text.contains("Welcome, alice!"))
        }
    }

    @Test("POST /login with a wrong password redirects back with an error message")
    func formLoginWrongPassword() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let token = try #require(DemoHarness.csrf(in: try await client.send("/login", jar: &jar).text))
            let response = try await client.send(
                "/login",
                .post,
                jar: &jar,
                headers: DemoHarness.form,
                body: formBody(["user": "alice", "password": "wrong", "_csrf": token])
            )
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/login")
            let page = try await client.send("/login", jar: &jar)
            #expect(page.text.contains("Wrong user name or password."))
            #expect(page.text.contains("Not signed in"))
        }
    }

    @Test("POST /logout with the CSRF token signs out; without it answers 403")
    func formLogout() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            _ = try await DemoHarness.formSignIn(client, jar: &jar, user: "alice")
            let home = try await client.send("/", jar: &jar)
            #expect(home.text.contains("Signed in as"))
            let token = try #require(DemoHarness.csrf(in: home.text))
            let signedIn = try #require(jar.value)

            let refused = try await client.send("/logout", .post, jar: &jar, headers: DemoHarness.form, body: formBody(["_csrf": "nope"]))
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("id=\"csrf-error\""))
            #expect(!refused.hasSetCookie)
            #expect(jar.value == signedIn)
            #expect(try await client.send("/", jar: &jar).text.contains("Signed in as"))

            let response = try await client.send("/logout", .post, jar: &jar, headers: DemoHarness.form, body: formBody(["_csrf": token]))
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/login")
            let cookie = try #require(sessionSetCookie(in: response, name: DemoHarness.cookieName))
            #expect(cookie.isDeletion)
            #expect(jar.value == nil)

            var replay = CookieJar(name: DemoHarness.cookieName, value: signedIn)
            let after = try await client.send("/", jar: &replay)
            #expect(after.text.contains("Not signed in"))
            #expect(!after.text.contains("Signed in as"))
            #expect(DemoHarness.visits(in: after.text) == 1)
        }
    }

    @Test("GET /sessions lists the signed-in user's sessions and marks this one")
    func sessionsPage() async throws {
        try await DemoHarness.run { client, _ in
            var anonymous = DemoHarness.jar()
            let redirect = try await client.send("/sessions", jar: &anonymous)
            #expect(redirect.status == .seeOther)
            #expect(redirect.headers[.location] == "/login")

            var laptop = DemoHarness.jar(userAgent: "Laptop/1.0")
            // A Prepend scalar makes "\u{0D4E}<" one Character: escaping must go by scalar.
            var phone = DemoHarness.jar(userAgent: "Phone/\u{0D4E}<2.0>")
            #expect(try await DemoHarness.formSignIn(client, jar: &laptop, user: "alice").status == .seeOther)
            #expect(try await DemoHarness.formSignIn(client, jar: &phone, user: "alice").status == .seeOther)

            let page = try await client.send("/sessions", jar: &laptop)
            #expect(page.status == .ok)
            expectNoStore(page)
            #expect(page.text.contains("<table id=\"sessions\">"))
            #expect(page.text.components(separatedBy: "<tr class=\"session").count - 1 == 2)
            #expect(page.text.components(separatedBy: "<tr class=\"session current\"").count - 1 == 1)
            #expect(page.text.contains("Laptop/1.0"))
            // User agents are escaped (compared as bytes, since the markup hides inside a Character).
            let bytes = Array(page.text.utf8)
            #expect(bytes.firstRange(of: Array("Phone/\u{0D4E}&lt;2.0&gt;".utf8)) != nil)
            #expect(bytes.firstRange(of: Array("<2.0>".utf8)) == nil)
            #expect(page.text.contains("this browser"))

            // "Sign out all other sessions" from the laptop ends the phone's.
            let token = try #require(DemoHarness.csrf(in: page.text))
            let others = try await client.send(
                "/sessions/others",
                .post,
                jar: &laptop,
                headers: DemoHarness.form,
                body: formBody(["_csrf": token])
            )
            #expect(others.status == .seeOther)
            #expect(others.headers[.location] == "/sessions")
            let afterPage = try await client.send("/sessions", jar: &laptop)
            #expect(afterPage.text.contains("Signed out 1 other session."))
            #expect(afterPage.text.components(separatedBy: "<tr class=\"session").count - 1 == 1)
            #expect(try await client.send("/", jar: &phone).text.contains("Not signed in"))
        }
    }

    /// Issue 13 #4: a full memory store evicts anonymous sessions first, so a flood of
    /// anonymous visitors (each GET /login creates a session for its CSRF token) signs nobody
    /// out. Before, the soonest-to-expire record went, whoever owned it.
    @Test("a flood of anonymous sessions on a full memory store signs nobody out")
    func anonymousFloodSignsNobodyOut() async throws {
        try await DemoHarness.run(memoryCapacity: 20) { client, clock in
            var alice = DemoHarness.jar()
            #expect(try await DemoHarness.formSignIn(client, jar: &alice, user: "alice").status == .seeOther)
            // Alice's session is the oldest and expires first; the flood's are newer.
            clock.advance(by: .seconds(60))
            for _ in 0..<200 {
                var visitor = DemoHarness.jar()
                #expect(try await client.send("/login", jar: &visitor).status == .ok)
            }
            let page = try await client.send("/", jar: &alice)
            #expect(page.text.contains("Signed in as <strong id=\"user\">alice</strong>"), "the flood signed alice out")
        }
    }

    @Test("the theme form sets the dark theme")
    func themeForm() async throws {
        try await DemoHarness.run { client, _ in
            var jar = DemoHarness.jar()
            let home = try await client.send("/", jar: &jar)
            #expect(home.text.contains("<body class=\"light\""))
            let token = try #require(DemoHarness.csrf(in: home.text))

            let refused = try await client.send(
                "/theme",
                .post,
                jar: &jar,
                headers: DemoHarness.form,
                body: formBody(["theme": "dark"])
            )
            #expect(refused.status == .forbidden)

            let invalid = try await client.send(
                "/theme",
                .post,
                jar: &jar,
                headers: DemoHarness.form,
                body: formBody(["theme": "neon", "_csrf": token])
            )
            #expect(invalid.status == .badRequest)

            let response = try await client.send(
                "/theme",
                .post,
                jar: &jar,
                headers: DemoHarness.form,
                body: formBody(["theme": "dark", "_csrf": token])
            )
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/")

            let dark = try await client.send("/", jar: &jar)
            #expect(dark.text.contains("<body class=\"dark\""))
            #expect(dark.text.contains("Theme saved."))
            #expect(dark.text.contains("<option value=\"dark\" selected>"))
            expectNoStore(dark)
        }
    }
}
