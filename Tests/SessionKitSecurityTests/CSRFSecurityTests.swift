import HTTPTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SessionKitTesting
import Testing

/// CSRF (OWASP CSRF cheat sheet, synchronizer token): form posts need the session's own
/// token; another session's token or none is refused; the token is replaced at sign-in.
@Suite("Security: CSRF")
struct CSRFSecurityTests {
    @Test(
        "V4.2.2 / 5.0 V3.5.1 form posts without the token or with another session's token answer 403; the token dies on sign-in",
        arguments: Backend.all
    )
    func synchronizerToken(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var alice = harness.jar()
            let aliceLogin = try await client.send("/login", jar: &alice)
            let preLoginToken = try #require(csrfToken(in: aliceLogin.text))
            var attacker = harness.jar()
            let attackerToken = try #require(csrfToken(in: try await client.send("/login", jar: &attacker).text))
            #expect(attackerToken != preLoginToken)
            #expect(preLoginToken.count == 43)

            func post(_ path: String, _ jar: inout CookieJar, _ fields: KeyValuePairs<String, String>) async throws -> TestResponse {
                try await client.send(path, .post, jar: &jar, headers: Demo.form, body: formBody(fields))
            }

            // Sign-in form: missing, empty, foreign, altered token → 403, no cookie change.
            let cookieBefore = alice.value
            let altered = String(preLoginToken.dropLast()) + (preLoginToken.hasSuffix("A") ? "E" : "A")
            for (label, token) in [
                ("missing", nil), ("empty", ""), ("another session's", attackerToken), ("altered", altered),
                ("lower-cased", preLoginToken.lowercased()),
            ] as [(String, String?)] {
                let body: KeyValuePairs<String, String> =
                    token.map { ["user": "alice", "password": "demo", "_csrf": $0] } ?? ["user": "alice", "password": "demo"]
                let response = try await post("/login", &alice, body)
                #expect(response.status == .forbidden, "\(label) token: \(response.status)")
                #expect(!response.hasSetCookie, "\(label)")
            }
            #expect(alice.value == cookieBefore)
            // No session at all, with a token that belongs to someone else's.
            var nobody = harness.jar()
            #expect(try await post("/login", &nobody, ["user": "alice", "password": "demo", "_csrf": preLoginToken]).status == .forbidden)

            // The right token signs in, and sign-in replaces it.
            let login = try await post("/login", &alice, ["user": "alice", "password": "demo", "_csrf": preLoginToken])
            #expect(login.status == .seeOther)
            let home = try await client.send("/", jar: &alice)
            #expect(home.text.contains("Signed in as"))
            let signedInToken = try #require(csrfToken(in: home.text))
            #expect(signedInToken != preLoginToken, "the CSRF token survived sign-in")

            // Every state-changing form refuses the dead pre-login token and the attacker's.
            let zeros = String(repeating: "0", count: 64)
            let forms: [(String, KeyValuePairs<String, String>, KeyValuePairs<String, String>, KeyValuePairs<String, String>)] = [
                ("/theme", ["theme": "dark", "_csrf": preLoginToken], ["theme": "dark", "_csrf": attackerToken], ["theme": "dark"]),
                ("/sessions/others", ["_csrf": preLoginToken], ["_csrf": attackerToken], ["x": "1"]),
                ("/sessions/end", ["id": zeros, "_csrf": preLoginToken], ["id": zeros, "_csrf": attackerToken], ["id": zeros]),
                ("/logout", ["_csrf": preLoginToken], ["_csrf": attackerToken], ["x": "1"]),
            ]
            for (path, withOld, withForeign, withNone) in forms {
                #expect(try await post(path, &alice, withOld).status == .forbidden, "\(path) with the pre-login token")
                #expect(try await post(path, &alice, withForeign).status == .forbidden, "\(path) with another session's token")
                #expect(try await post(path, &alice, withNone).status == .forbidden, "\(path) without a token")
            }
            #expect(try await client.me(&alice).user == "alice", "a refused form changed the session")
            #expect(try await client.send("/", jar: &alice).text.contains("<body class=\"light\""))

            // Alice's live token is useless with the attacker's cookie.
            #expect(try await post("/theme", &attacker, ["theme": "dark", "_csrf": signedInToken]).status == .forbidden)

            // The JSON API's defence: a form-encoded (simple, cross-site) request is refused.
            let simple = try await client.send("/api/logout", .post, jar: &alice, headers: Demo.form, body: "x=1")
            #expect(simple.status == .unsupportedMediaType)
            #expect(try await client.me(&alice).user == "alice")

            // With the live token the form works.
            #expect(try await post("/theme", &alice, ["theme": "dark", "_csrf": signedInToken]).status == .seeOther)
            #expect(try await client.send("/", jar: &alice).text.contains("<body class=\"dark\""))
        }
    }
}
