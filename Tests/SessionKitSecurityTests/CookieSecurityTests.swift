import HTTPTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import SessionKit
import SessionKitPostgres
import SessionKitRedis
import SessionKitSQLite
import SessionKitTesting
import Testing

/// Cookies: attributes and prefix rules, configuration-time rejection, cache headers,
/// cookie tossing and name spoofing.
@Suite("Security: cookies")
struct CookieSecurityTests {
    // MARK: Attributes

    @Test(
        "V3.4.1-V3.4.5 / 5.0 V3.3.1-V3.3.4 secure defaults: __Host-id; Secure; HttpOnly; SameSite=Lax; Path=/; no Domain, no Max-Age",
        arguments: Backend.all
    )
    func secureCookieAttributes(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend, secure: true) { client, harness in
            #expect(harness.cookieName == "__Host-id")
            var jar = harness.jar()
            var issued: [SetCookie] = []
            issued += sessionSetCookies(in: try await client.visit(&jar), name: harness.cookieName)
            issued += sessionSetCookies(in: try await client.signIn(&jar), name: harness.cookieName)
            issued += sessionSetCookies(in: try await client.send("/login", jar: &jar), name: harness.cookieName)
            #expect(issued.count >= 2)
            for cookie in issued where !cookie.isDeletion {
                #expect(cookie.name == "__Host-id")
                #expect(cookie.attributes["secure"] == "", "V3.4.1 Secure")
                #expect(cookie.attributes["httponly"] == "", "V3.4.2 HttpOnly")
                #expect(cookie.attributes["samesite"] == "Lax", "V3.4.3 SameSite")
                #expect(cookie.attributes["path"] == "/", "V3.4.5 Path")
                #expect(cookie.attributes["domain"] == nil, "V3.4.4 no Domain on a __Host- cookie")
                #expect(cookie.attributes["max-age"] == nil && cookie.attributes["expires"] == nil, "a browser-session cookie")
                #expect(Set(cookie.attributes.keys).isSubset(of: ["secure", "httponly", "samesite", "path"]), "\(cookie.attributes)")
            }
            // The raw header: exactly one Set-Cookie per response, and the name gives nothing
            // away about the library or framework.
            let raw = try await client.signIn(&jar)
            let header = try #require(raw.headers[values: .setCookie].first)
            #expect(raw.headers[values: .setCookie].count == 1)
            #expect(header.hasPrefix("__Host-id=") && header.hasSuffix("; Path=/; Secure; HttpOnly; SameSite=Lax"), "\(header)")
            for word in ["sessionkit", "hummingbird", "swift", "vapor"] { #expect(!harness.cookieName.lowercased().contains(word)) }
        }
    }

    @Test("V3.4.2 / V3.4.3 the demo's development cookie is still HttpOnly, SameSite=Lax, Path=/ (only Secure is dropped)", arguments: Backend.all)
    func developmentCookieAttributes(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var jar = harness.jar()
            let cookie = try #require(sessionSetCookie(in: try await client.signIn(&jar), name: "id"))
            #expect(cookie.attributes == ["path": "/", "httponly": "", "samesite": "Lax"])
        }
    }

    /// Unsafe cookie options and the words the configuration error must contain.
    static let invalidOptions: [(String, SessionCookieOptions, String)] = [
        ("__Host- without Secure", SessionCookieOptions(name: "__Host-id", secure: false), "Secure"),
        ("__Host- with a Domain", SessionCookieOptions(name: "__Host-id", domain: "example.com"), "Domain"),
        ("__Host- with another Path", SessionCookieOptions(name: "__Host-id", path: "/app"), "Path"),
        ("__Secure- without Secure", SessionCookieOptions(name: "__Secure-id", secure: false), "Secure"),
        ("SameSite=None without Secure", SessionCookieOptions(name: "id", secure: false, sameSite: .none), "SameSite=None"),
        ("Partitioned without Secure", SessionCookieOptions(name: "id", secure: false, partitioned: true), "Secure"),
        ("CR LF in Domain", SessionCookieOptions(name: "id", domain: "example.com\r\nSet-Cookie: admin=1"), "CR"),
        ("LF in Path", SessionCookieOptions(path: "/\nX: y"), "CR"),
        ("; in Path", SessionCookieOptions(path: "/; Domain=evil.example"), ";"),
        ("; in Domain", SessionCookieOptions(name: "id", domain: "example.com; SameSite=None"), ";"),
        ("NUL in Path", SessionCookieOptions(path: "/\u{0}"), "control"),
        ("DEL in Domain", SessionCookieOptions(name: "id", domain: "exa\u{7F}mple.com"), "control"),
        ("; in the name", SessionCookieOptions(name: "id;x", secure: false), "name"),
        ("space in the name", SessionCookieOptions(name: "my id", secure: false), "name"),
        ("= in the name", SessionCookieOptions(name: "id=x", secure: false), "name"),
        ("CR LF in the name", SessionCookieOptions(name: "id\r\nX", secure: false), "name"),
        ("empty name", SessionCookieOptions(name: "", secure: false), "empty"),
        ("empty Domain", SessionCookieOptions(name: "id", domain: ""), "Domain"),
        ("relative Path", SessionCookieOptions(path: "app"), "Path"),
        ("non-ASCII Domain", SessionCookieOptions(name: "id", domain: "exämple.com"), "non-ASCII"),
    ]

    @Test("V3.4.4 / RFC 6265bis invalid cookie configurations fail when the engine is created, with a clear error", arguments: Backend.all)
    func invalidConfigurationsFailAtStartup(_ backend: Backend) async throws {
        let clock = TestClock()
        try await SecurityHarness.withBackend(backend, clock: clock, logs: LogCapture()) { store, _ in
            for (label, options, hint) in Self.invalidOptions {
                var configuration = SecurityHarness.configuration(secure: true)
                configuration.cookie = options
                do {
                    if backend.isSealed {
                        _ = try SessionEngine(
                            sealedCookies: SealedCookieBackend(keyRing: .ephemeral(), revocationStore: store),
                            configuration: configuration,
                            clock: clock
                        )
                    } else {
                        _ = try SessionEngine(store: store, configuration: configuration, clock: clock)
                    }
                    Issue.record("\(label): the engine accepted \(options)")
                } catch let error as SessionConfigurationError {
                    #expect(error.message.contains(hint), "\(label): \(error.message)")
                } catch {
                    Issue.record("\(label): unexpected error \(error)")
                }
            }
            // The valid configurations next to them are accepted.
            for options in [
                SessionCookieOptions(), .insecureLocalDevelopment, SessionCookieOptions(name: "__Secure-id", path: "/app", domain: "example.com"),
            ] {
                var configuration = SecurityHarness.configuration(secure: true)
                configuration.cookie = options
                if backend.isSealed {
                    _ = try SessionEngine(
                        sealedCookies: SealedCookieBackend(keyRing: .ephemeral(), revocationStore: store),
                        configuration: configuration,
                        clock: clock
                    )
                } else {
                    _ = try SessionEngine(store: store, configuration: configuration, clock: clock)
                }
            }
        }
    }

    // MARK: Cache headers

    @Test("Flask CVE-2023-30861 class / V8.2.1: every response with Set-Cookie has Vary: Cookie and Cache-Control: no-store", arguments: Backend.all)
    func cacheHeadersOnEveryCookie(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var jar = harness.jar()
            _ = try await client.visit(&jar)  // create
            _ = try await client.send("/login", jar: &jar)  // CSRF token written
            _ = try await client.signIn(&jar)  // regenerate
            harness.clock.advance(by: .seconds(120))
            _ = try await client.me(&jar)  // touch / re-seal
            _ = try await client.send("/", jar: &jar)  // HTML page with writes
            var phone = harness.jar()
            _ = try await client.signIn(&phone)
            _ = try await client.send("/api/sessions/others", .delete, jar: &jar, headers: Demo.json)  // re-issue (sealed)
            _ = try await client.send("/api/logout", .post, jar: &jar, headers: Demo.json)  // deleting cookie
            var stale = CookieJar(name: harness.cookieName, value: randomWellFormedToken())
            _ = try await client.visit(&stale)  // unknown token replaced

            let responses = harness.cookieResponses
            // create, sign-in ×2, logout, replaced unknown token (+ re-issue when sealed)
            #expect(responses.count >= 5, "\(responses.map(\.uri))")
            for response in responses {
                let vary = response.vary.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                #expect(vary.contains("cookie"), "\(response.uri): Vary \(response.vary)")
                #expect(
                    !response.cacheControl.isEmpty && response.cacheControl.allSatisfy { $0.contains("no-store") },
                    "\(response.uri): Cache-Control \(response.cacheControl)"
                )
            }
        }
    }

    @Test(
        "Flask CVE-2023-30861 / Django class: a response that read the session (no Set-Cookie) still varies on Cookie or is private",
        arguments: Backend.all
    )
    func sessionDependentResponsesAreNotShared(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var jar = harness.jar()
            _ = try await client.signIn(&jar)
            // Alice's identity, read from her session, without any cookie change.
            let me = try await client.me(&jar)
            #expect(me.user == "alice")
            #expect(!me.hasSetCookie)
            let vary = me.headers[values: .vary].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            let cacheControl = me.headers[values: .cacheControl].joined(separator: ",").lowercased()
            let protected = vary.contains("cookie") || vary.contains("*") || cacheControl.contains("no-store") || cacheControl.contains("private")
            #expect(
                protected,
                """
                GET /api/me answered alice's data with Vary \(me.headers[values: .vary]) and Cache-Control \(me.headers[values: .cacheControl]): \
                a shared cache may serve it to other users. The engine must add Vary: Cookie and Cache-Control: private \
                whenever a request read a live session (as Flask and Django do), not only with Set-Cookie.
                """
            )
        }
    }

    // MARK: Cookie tossing and name spoofing

    @Test("RFC 6265bis cookie tossing: two session cookies (one valid) authenticate as neither, with zero store calls", arguments: Backend.all)
    func cookieTossing(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            let name = harness.cookieName
            var alice = harness.jar()
            _ = try await client.signIn(&alice)
            _ = try await client.visit(&alice)
            let valid = try #require(alice.value)
            var bob = harness.jar()
            _ = try await client.signIn(&bob, user: "bob")
            let other = try #require(bob.value)
            let junk = backend.isSealed ? String(valid.dropLast(3)) : randomWellFormedToken()

            let cases: [(String, [String])] = [
                ("valid then junk", ["\(name)=\(valid); \(name)=\(junk)"]),
                ("junk then valid", ["\(name)=\(junk); \(name)=\(valid)"]),
                ("valid then empty", ["\(name)=\(valid); \(name)="]),
                ("two users", ["\(name)=\(valid); \(name)=\(other)"]),
                ("same value twice", ["\(name)=\(valid); \(name)=\(valid)"]),
                ("among other cookies", ["a=1; \(name)=\(valid); b=2; \(name)=\(junk); c=3"]),
                ("two Cookie fields", ["\(name)=\(valid)", "\(name)=\(junk)"]),
                ("two Cookie fields, two users", ["\(name)=\(other)", "x=1; \(name)=\(valid)"]),
                ("valid then oversized", ["\(name)=\(valid); \(name)=\(String(repeating: "A", count: 5000))"]),
            ]
            for (label, cookieFields) in cases {
                var headers = HTTPFields()
                for field in cookieFields { headers.append(HTTPField(name: .cookie, value: field)) }
                harness.counting.reset()
                let read = try await client.raw("/api/me", headers: headers)
                #expect(read.status == .ok, "\(label)")
                #expect(read.isAnonymousMe, "\(label): \(read.text)")
                #expect(harness.counting.total == 0, "\(label): \(harness.counting.calls)")

                // A write never lands in the victim's session: a fresh one is created instead.
                var writeHeaders = headers
                writeHeaders[.contentType] = "application/json"
                harness.counting.reset()
                let write = try await client.raw("/api/visit", .post, headers: writeHeaders)
                #expect(write.jsonObject?["visits"] as? Int == 1, "\(label)")
                let fresh = try #require(sessionSetCookie(in: write, name: name)?.value, "\(label)")
                #expect(fresh != valid && fresh != other)
                #expect(harness.counting.calls[.load] == nil && harness.counting.calls[.update] == nil, "\(label): \(harness.counting.calls)")
            }
            let afterwards = try await client.me(&alice)
            #expect(afterwards.user == "alice")
            #expect(afterwards.jsonObject?["visits"] as? Int == 1, "a tossed write reached alice's session")
        }
    }

    @Test(
        "RFC 6265bis exact names: ID=, %69d=, NBSP/ideographic space before id, 'id ' do not authenticate (zero store calls)",
        arguments: Backend.all
    )
    func nameSpoofing(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var alice = harness.jar()
            _ = try await client.signIn(&alice)
            let valid = try #require(alice.value)
            let name = harness.cookieName
            let upper = name.uppercased()
            let percent = name.utf8.prefix(1).map { String(format: "%%%02X", $0) }.joined() + name.dropFirst()

            let spoofed: [(String, String)] = [
                ("upper case", "\(upper)=\(valid)"),
                ("mixed case", "\(name.prefix(1).uppercased())\(name.dropFirst())=\(valid)"),
                ("percent-encoded first letter", "\(percent)=\(valid)"),
                ("percent-encoded whole name", name.utf8.map { String(format: "%%%02X", $0) }.joined() + "=\(valid)"),
                ("NBSP before the name", "x=1;\u{00A0}\(name)=\(valid)"),
                ("ideographic space before the name", "x=1;\u{3000}\(name)=\(valid)"),
                ("em space before the name", "x=1;\u{2003}\(name)=\(valid)"),
                ("BOM before the name", "x=1;\u{FEFF}\(name)=\(valid)"),
                ("space before '='", "\(name) =\(valid)"),
                ("tab before '='", "\(name)\t=\(valid)"),
                ("NBSP after the name", "\(name)\u{00A0}=\(valid)"),
                ("fullwidth name", name.map { String(UnicodeScalar(($0.unicodeScalars.first!.value) + 0xFEE0)!) }.joined() + "=\(valid)"),
                ("prefixed name", "x\(name)=\(valid)"),
                ("suffixed name", "\(name)x=\(valid)"),
                ("comma-joined (RFC 2965 style)", "x=1, \(name)=\(valid)"),
                ("inside another cookie's value", "x=\(name)=\(valid)"),
            ]
            for (label, header) in spoofed {
                harness.counting.reset()
                let response = try await client.withCookieHeader(header)
                #expect(response.status == .ok, "\(label): \(response.status)")
                #expect(response.isAnonymousMe, "\(label): authenticated as \(response.text)")
                #expect(harness.counting.total == 0, "\(label): \(harness.counting.calls)")
            }

            // Positive controls: the exact name, with RFC 6265 OWS (space, tab) around pairs.
            for header in ["\(name)=\(valid)", "x=1; \(name)=\(valid)", "x=1;\t\(name)=\(valid) ; y=2", "x=1;\(name)=\(valid)"] {
                #expect(try await client.withCookieHeader(header).user == "alice", "\(header.prefix(20))")
            }
        }
    }
}

/// Cookie size (ASVS 5.0 V3.3.5): browsers drop a cookie whose name and value exceed 4096
/// bytes, so a session that would need one must fail loudly instead of silently losing it.
@Suite("Security: cookie size")
struct CookieSizeSecurityTests {
    @Test("5.0 V3.3.5 no Set-Cookie ever exceeds 4096 bytes of name and value; an oversized sealed session answers 500", arguments: Backend.all)
    func cookieSizeLimit(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var jar = harness.jar()
            _ = try await client.signIn(&jar)
            let note = String(repeating: "n", count: 512)
            var refusedAt: Int?
            var lastGood = jar.value
            for index in 0..<12 {
                let response = try await client.send(
                    "/api/notes/n\(index)",
                    .put,
                    jar: &jar,
                    headers: Demo.json,
                    body: "{\"value\":\"\(note)\"}"
                )
                for cookie in sessionSetCookies(in: response, name: harness.cookieName) {
                    #expect(cookie.name.utf8.count + 1 + cookie.value.utf8.count <= 4096, "note \(index): a \(cookie.value.utf8.count)-byte cookie")
                }
                if response.status == .ok {
                    lastGood = jar.value
                } else {
                    #expect(response.status == .internalServerError, "note \(index): \(response.status)")
                    #expect(!response.hasSetCookie)
                    refusedAt = refusedAt ?? index
                }
            }
            if backend.isSealed {
                let refused = try #require(refusedAt, "twelve 512-byte notes fit in one sealed cookie?")
                #expect(refused >= 5)
                // The cookie the browser keeps is the last one that fit: still signed in.
                #expect(jar.value == lastGood)
                #expect(try await client.me(&jar).user == "alice")
            } else {
                #expect(refusedAt == nil, "a server-side session refused data at note \(refusedAt ?? -1)")
                let read = try await client.send("/api/notes/n11", jar: &jar)
                #expect(read.jsonObject?["value"] as? String == note)
            }
        }
    }
}
