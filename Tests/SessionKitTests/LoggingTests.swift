import Foundation
import HTTPTypes
import Logging
import SessionKit
import SessionKitTesting
import Synchronization
import Testing

@Suite("Logging never leaks tokens")
struct LoggingTests {
    @Test func noTokenTextInAnyLogLine() async throws {
        let capture = LogCapture()
        let harness = try Harness(logger: capture.logger())
        var secrets: Set<String> = []
        var digests: Set<String> = []
        func remember(_ token: String?) {
            guard let token else { return }
            secrets.insert(token)
            if let valid = SessionToken(validating: token) { digests.insert(valid.storageID.hex) }
        }

        // Create.
        let client = harness.client()
        try await client.send { try await $0.set(Keys.count, 1) }
        remember(client.cookie)
        let created = try storageID(of: client.cookie)
        // Touch.
        harness.clock.advance(by: .seconds(120))
        _ = try await client.request { try await $0.get(Keys.count) }
        // CSRF token and flash.
        let csrf = try await client.request { try await $0.csrfToken() }.value
        secrets.insert(csrf)
        try await client.send { try await $0.flash(FlashMessage("hello")) }
        // Regenerate and sign in (twice, with remember me).
        try await client.send { try await $0.regenerate() }
        remember(client.cookie)
        try await client.send { try await $0.signIn(userID: "alice") }
        remember(client.cookie)
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        remember(client.cookie)
        let live = try #require(client.cookie)

        // Malformed, oversized and ambiguous cookies carrying real token text.
        for headers in [
            cookieFields("__Host-id=\(live)A"),
            cookieFields("__Host-id=\(live.dropLast())"),
            cookieFields("__Host-id=\"\(live)\""),
            cookieFields("__Host-id=\(live)\(String(repeating: "x", count: 5000))"),
            cookieFields("__Host-id=\(live)", "__Host-id=\(live)"),
            cookieFields("__Host-id=\(live); __Host-id=x"),
        ] {
            _ = try await harness.client().request(headers: headers) { try await $0.get(Keys.count) }
        }
        // An unknown well-formed token.
        let unknown = SessionToken.generate().text
        remember(unknown)
        try await harness.client(cookie: unknown).send { try await $0.set(Keys.count, 2) }

        // A late write to a destroyed session (the "dropped write" path).
        let slow = try await harness.begin(cookie: live)
        try await harness.client(cookie: live).send { try $0.destroy() }
        try await slow.set(Keys.count, 3)
        _ = try await harness.engine.commit(slow)

        // Per-user listing and sign-out.
        let other = harness.client()
        try await other.send { try await $0.signIn(userID: "bob") }
        remember(other.cookie)
        _ = try await other.request { try await $0.sessionsOfUser() }
        _ = try await other.request { try await $0.signOutOtherSessions() }
        try await other.send { try $0.destroy() }

        let lines = capture.all
        #expect(!lines.isEmpty)
        #expect(lines.contains { $0.contains("created session") })
        #expect(lines.contains { $0.contains("destroyed session") })
        #expect(lines.contains { $0.contains("malformed") })
        #expect(lines.contains { $0.contains("dropped a write") })
        #expect(lines.contains { $0.contains(created.logPrefix) }, "the created session is identified by its log prefix")
        #expect(secrets.count >= 6)
        for line in lines {
            for secret in secrets {
                #expect(!line.contains(secret), "a token leaked into the log: \(line)")
                // Not even a long fragment of it.
                #expect(!line.contains(secret.prefix(16)), "a token fragment leaked into the log: \(line)")
            }
            for digest in digests {
                #expect(!line.contains(digest), "a full storage ID was logged (only the prefix is allowed): \(line)")
            }
        }
    }

    @Test func storeFailuresAreLoggedWithoutTokens() async throws {
        let capture = LogCapture()
        let harness = try Harness(logger: capture.logger())
        let client = try await harness.clientWithSession()
        let token = try #require(client.cookie)
        harness.faults.fault = .unavailable
        _ = await sessionError { try await client.send { _ = try await $0.get(Keys.count) } }
        _ = await sessionError { try await client.send { try $0.destroy() } }
        harness.faults.fault = .none
        let lines = capture.all
        #expect(lines.contains { $0.contains("store failed") })
        #expect(lines.allSatisfy { !$0.contains(token) })
    }
}
