import HTTPTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SessionKit
import SessionKitTesting
import Testing

/// Raw tokens never reach logs. Every test in this target already ends with that check (the
/// harness scans all captured lines for every issued session and CSRF token); this test runs
/// the flows most likely to log a token — malformed and ambiguous cookies built from real
/// tokens, store writes, logout, revocation — with every logger at `.trace`.
@Suite("Security: logging")
struct LoggingSecurityTests {
    @Test("V7.1.1 (4.0.3) / 5.0 V16.2.5 no raw token in any captured log line at .trace; logs carry a digest prefix", arguments: Backend.all)
    func noTokenInLogs(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            let name = harness.cookieName
            var jar = harness.jar(userAgent: "Logger/1.0")
            _ = try await client.visit(&jar)
            _ = try await client.send("/login", jar: &jar)
            _ = try await client.signIn(&jar)
            let live = try #require(jar.value)
            var phone = harness.jar()
            _ = try await client.signIn(&phone)

            // Malformed, oversized and ambiguous cookies made of real token text.
            for header in [
                "\(name)=\(live)A", "\(name)=\(live.dropLast())", "\(name)=\"\(live)\"", "\(name)=\(live); \(name)=\(live)",
                "\(name)=\(live); \(name)=\(try #require(phone.value))", "\(name)=\(live)\(String(repeating: "x", count: 5000))",
            ] {
                _ = try await client.withCookieHeader(header)
            }
            harness.clock.advance(by: .seconds(120))
            _ = try await client.me(&jar)  // touch
            _ = try await client.send("/api/sessions", jar: &jar)
            _ = try await client.send("/api/sessions/others", .delete, jar: &jar, headers: Demo.json)
            let beforeLogout = try #require(jar.value)
            _ = try await client.send("/api/logout", .post, jar: &jar, headers: Demo.json)
            _ = try await client.withCookieHeader("\(name)=\(beforeLogout)")  // revoked replay
            _ = try await client.withCookieHeader("\(name)=\(beforeLogout)", "/api/visit", .post, extra: Demo.json)

            let lines = harness.logs.all
            let tokens = harness.issuedSessionTokens
            #expect(tokens.count >= 4)
            #expect(!lines.isEmpty, "nothing was captured: is the logger wired?")
            // The harness' end-of-test scan covers issued session and CSRF tokens; scan here
            // too so a failure names this flow.
            harness.expectNoTokenInLogs()
            if !backend.isSealed {
                // Correlation uses the digest's 12-character prefix, never the token.
                let prefixes = tokens.compactMap { SessionToken(validating: $0)?.storageID.logPrefix }
                #expect(lines.contains { line in prefixes.contains { line.contains($0) } }, "no log line names a session by its digest prefix")
                #expect(lines.contains { $0.contains("rejected a session token") && $0.contains("reason=malformed") })
                let engineLines = lines.filter { $0.hasPrefix("SessionKit ") }
                #expect(engineLines.allSatisfy { !$0.contains(sha256Hex(live)) }, "the engine logs a full digest (a prefix is enough)")
            }
        }
    }
}

@Suite("Security: harness self-checks")
struct HarnessSelfTests {
    @Test("the leak scanner finds a token inside other text, and its hex form, and nothing else")
    func scannerFindsEmbeddedTokens() {
        let token = randomWellFormedToken()
        let hex = token.utf8.map { String(format: "%02x", $0) }.joined()
        let other = randomWellFormedToken()
        let scanner = SecretScanner([token, hex])
        #expect(scanner.secrets(in: "cookie=\(token); x") == [token])
        #expect(scanner.secrets(in: "reason=\"\(token)A\"") == [token])
        #expect(scanner.secrets(in: "bytes: [0000\(hex)00]") == [hex])
        #expect(scanner.secrets(in: "\(token.dropLast()) \(other) \(String(repeating: "a", count: 200))").isEmpty)
        #expect(SecretScanner([String]()).secrets(in: token).isEmpty)
    }
}
