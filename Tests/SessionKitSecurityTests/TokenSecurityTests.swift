import HTTPTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SessionKit
import SessionKitTesting
import Testing

/// Tokens: format and entropy, digest-only storage, validation before any store call, strict
/// mode. Every check goes over real HTTP to the demo app.
@Suite("Security: session tokens")
struct TokenSecurityTests {
    // MARK: V3.2.2 / V7.2.3

    @Test("V3.2.2 / V3.2.4 / V7.2.3 200 new sessions get 200 distinct CSPRNG tokens: 43-char base64url, no UUID", arguments: Backend.all)
    func tokenFormatAndEntropy(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var values: [String] = []
            for _ in 0..<200 {
                var jar = harness.jar()
                let response = try await client.visit(&jar)
                #expect(response.status == .ok)
                values.append(try #require(jar.value))
            }
            #expect(Set(values).count == 200, "duplicate session values")
            #expect(values.allSatisfy { !isUUIDShaped($0) })

            if backend.isSealed {
                // Sealed values: base64url of version | key id | salt | nonce | ciphertext | tag.
                #expect(values.allSatisfy { $0.utf8.allSatisfy(SecretScanner.isBase64URL) })
                let decoded = try values.map { try #require(base64URLDecode($0)) }
                #expect(decoded.allSatisfy { $0.count >= 1 + 4 + 16 + 12 + 16 && $0[0] == 1 })
                #expect(Set(decoded.map { Array($0[5..<21]) }).count == 200, "HKDF salts repeat")
                #expect(Set(decoded.map { Array($0[21..<33]) }).count == 200, "AES-GCM nonces repeat")
                return
            }

            #expect(values.allSatisfy { isBase64URLToken($0, length: 43) })
            #expect(Set(values.map { $0.prefix(8) }).count == 200, "tokens share prefixes")
            #expect(values.allSatisfy { SessionToken(validating: $0) != nil })
            // 200 × 256 bits: the bits look like CSPRNG output (no constant bit, no UUID
            // version nibble, about half ones overall).
            let bytes = try values.map { try #require(base64URLDecode($0)) }
            #expect(bytes.allSatisfy { $0.count == 32 })
            var ones = [Int](repeating: 0, count: 256)
            for token in bytes {
                for bit in 0..<256 where token[bit / 8] >> (7 - UInt8(bit % 8)) & 1 == 1 { ones[bit] += 1 }
            }
            let total = ones.reduce(0, +)
            #expect(abs(total - 25_600) < 800, "\(total) one-bits out of 51200")
            #expect(ones.allSatisfy { (40...160).contains($0) }, "a bit position is nearly constant: \(ones)")
            #expect(Set(bytes.map { $0[6] >> 4 }).count > 1, "every token has the same UUID version nibble")

            // The store holds exactly the 200 digests (where its rows can be read).
            if let ids = try await harness.access.storedIDs() {
                #expect(Set(ids) == Set(values.map(sha256Hex)))
            } else if case .memory(let store) = harness.access {
                #expect(store.count == 200)
            }
        }
    }

    // MARK: Digest-only storage

    @Test("Rails CVE-2019-16782 class: the store holds only SHA-256 digests; the digest as a cookie is anonymous", arguments: Backend.all)
    func digestOnlyStorage(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var jar = harness.jar(userAgent: "Digest/1.0")
            _ = try await client.visit(&jar)
            let anonymousValue = try #require(jar.value)
            _ = try await client.signIn(&jar)
            let token = try #require(jar.value)
            #expect(token != anonymousValue)

            if backend.isSealed {
                // No server-side row at all: the value is opaque ciphertext that changes on
                // every issue, and the revocation store holds nothing after a sign-in.
                #expect(!token.contains("alice"))
                let bytes = try #require(base64URLDecode(token))
                let asText = String(decoding: bytes, as: UTF8.self)
                #expect(!asText.contains("alice") && !asText.contains("visits"), "the sealed value shows its payload")
                var again = harness.jar()
                _ = try await client.visit(&again)
                _ = try await client.signIn(&again)
                #expect(again.value != token, "two sign-ins of the same user sealed to the same value")
                _ = try await client.visit(&jar)
                #expect(jar.value != token, "re-sealing did not change the value")
                #expect(try await harness.access.recordCount() == 0)
                harness.counting.reset()
                let digestCookie = try await client.withCookieHeader("\(harness.cookieName)=\(sha256Hex(token))")
                #expect(digestCookie.isAnonymousMe)
                #expect(harness.counting.total == 0)
                return
            }

            let digest = sha256Hex(token)
            if let ids = try await harness.access.storedIDs() {
                #expect(ids == [digest], "stored ids: \(ids)")
                #expect(!ids.contains(token))
                let dump = try #require(try await harness.access.dump())
                #expect(!dump.contains(token), "the raw token is stored somewhere: \(dump.prefix(500))")
                #expect(!dump.contains(anonymousValue), "the pre-sign-in token is stored somewhere")
                #expect(dump.contains(digest))
            } else {
                // Memory: the store API only ever receives SessionStorageID (the digest); the
                // listing proves which one.
                let sessions = try await harness.counting.base.sessions(forUser: "alice")
                #expect(sessions.map(\.id.hex) == [digest])
            }
            // Whoever reads the table (backup, replica, SQL injection elsewhere) holds digests,
            // which do not authenticate and cost no store call.
            harness.counting.reset()
            let replay = try await client.withCookieHeader("\(harness.cookieName)=\(digest)")
            #expect(replay.isAnonymousMe)
            #expect(!replay.hasSetCookie)
            #expect(harness.counting.total == 0, "calls: \(harness.counting.calls)")
            #expect(try await client.me(&jar).user == "alice")
        }
    }

    // MARK: Validation before any store call

    /// Cookie values that are not tokens. CR/LF cannot travel in a header, so the RESP
    /// fragments are percent-encoded (and the server must not decode them).
    static func malformedValues(validToken: String) -> [(String, String)] {
        // "B" and "C" carry non-zero padding bits in the last position; "A"/"E" do not.
        let nonCanonical = String(validToken.dropLast()) + (validToken.hasSuffix("B") ? "C" : "B")
        return [
            ("empty", ""),
            ("42 characters", String(validToken.dropLast())),
            ("44 characters", validToken + "A"),
            ("padded", validToken + "="),
            ("10 KB", String(repeating: "A", count: 10 * 1024)),
            ("4097 bytes", String(repeating: "a", count: 4097)),
            ("double-quoted token", "\"\(validToken)\""),
            ("quotes", "\"'\"'\"'"),
            ("SQL OR 1=1", "' OR 1=1 --"),
            ("SQL drop", "x'; DROP TABLE sessionkit_sessions; --"),
            ("SQL union", "\" UNION SELECT id FROM sessionkit_sessions --"),
            ("RESP PING percent-encoded", "%2A1%0D%0A%244%0D%0APING%0D%0A"),
            ("RESP FLUSHALL percent-encoded", "%0D%0A%2A1%0D%0A%248%0D%0AFLUSHALL%0D%0A"),
            ("RESP inline", "*1 $4 PING"),
            ("Redis glob", "*"),
            ("Lua", "x\") redis.call(\"FLUSHALL\") --"),
            ("standard base64 alphabet", String(validToken.dropLast(2)) + "+/"),
            ("non-canonical last character", nonCanonical),
            ("unicode letters", String(repeating: "é", count: 43)),
            ("43 bytes with a multi-byte character", "é" + String(validToken.prefix(41))),
            ("fullwidth", String(repeating: "Ａ", count: 43)),
            ("emoji", String(repeating: "🍪", count: 11)),
            ("percent-encoded token", validToken.utf8.prefix(14).map { String(format: "%%%02X", $0) }.joined()),
            ("uuid", UUID().uuidString),
            ("path traversal", "../../../../etc/passwd"),
            ("NUL as text", "%00" + String(validToken.dropFirst(3))),
        ]
    }

    @Test(
        "V3.2.2 / V7.2.1 malformed tokens (length, 10 KB, quotes, SQL, RESP, unicode) cost zero store calls and stay anonymous",
        arguments: Backend.all
    )
    func malformedTokensNeverReachTheStore(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            var victim = harness.jar()
            _ = try await client.signIn(&victim)
            let valid = try #require(victim.value)
            let shape = backend.isSealed ? randomWellFormedToken() : valid
            for (label, value) in Self.malformedValues(validToken: shape) + (backend.isSealed ? Self.tamperedSealed(valid) : []) {
                harness.counting.reset()
                let response = try await client.withCookieHeader("\(harness.cookieName)=\(value)")
                #expect(response.status == .ok, "\(label): \(response.status)")
                #expect(response.isAnonymousMe, "\(label): \(response.text)")
                #expect(!response.hasSetCookie, "\(label)")
                #expect(harness.counting.total == 0, "\(label): store calls \(harness.counting.calls)")

                // A write with the junk value starts a fresh session under a new token: one
                // create, no load, and the junk is never adopted.
                harness.counting.reset()
                let write = try await client.withCookieHeader("\(harness.cookieName)=\(value)", "/api/visit", .post, extra: Demo.json)
                #expect(write.jsonObject?["visits"] as? Int == 1, "\(label)")
                let issued = try #require(sessionSetCookie(in: write, name: harness.cookieName), "\(label)")
                #expect(issued.value != value && !issued.value.isEmpty)
                if !backend.isSealed {
                    #expect(harness.counting.calls == [.create: 1], "\(label): \(harness.counting.calls)")
                    #expect(SessionToken(validating: issued.value) != nil)
                } else {
                    #expect(harness.counting.total == 0, "\(label): \(harness.counting.calls)")
                }
            }
            #expect(try await client.me(&victim).user == "alice")
        }
    }

    /// Sealed only: a real signed-in value with one byte changed, truncated, or extended —
    /// the epoch lookup (a store call) happens only after the AEAD tag verifies.
    static func tamperedSealed(_ value: String) -> [(String, String)] {
        var results: [(String, String)] = []
        let characters = Array(value)
        for position in [0, 3, 10, 30, characters.count / 2, characters.count - 2] {
            var changed = characters
            changed[position] = changed[position] == "A" ? "B" : "A"
            results.append(("sealed with character \(position) changed", String(changed)))
        }
        results.append(("sealed truncated", String(value.dropLast(4))))
        results.append(("sealed extended", value + "AAAA"))
        return results
    }

    // MARK: Strict mode

    @Test("V3.2.1 / V7.2.4 strict mode: an unknown well-formed token is never adopted; a write issues a different token", arguments: Backend.all)
    func unknownTokenIsNeverAdopted(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            // An attacker plants a token of their choosing (session fixation).
            let planted = randomWellFormedToken()
            var jar = CookieJar(name: harness.cookieName, value: planted)
            let write = try await client.visit(&jar)
            #expect(write.jsonObject?["visits"] as? Int == 1)
            let issued = try #require(jar.value)
            #expect(issued != planted)
            _ = try await client.signIn(&jar)
            let signedIn = try #require(jar.value)
            #expect(signedIn != planted)
            // The planted token is still nobody.
            #expect(try await client.withCookieHeader("\(harness.cookieName)=\(planted)").isAnonymousMe)
            if let ids = try await harness.access.storedIDs() {
                #expect(!ids.contains(sha256Hex(planted)))
                #expect(ids == [sha256Hex(signedIn)])
            }
        }
    }

    @Test(
        "Django CVE-2015-5143 class: 1000 requests with random cookies on /api/me leave the store empty and cost zero creates",
        arguments: Backend.all
    )
    func randomCookiesCreateNothing(_ backend: Backend) async throws {
        try await SecurityHarness.run(backend) { client, harness in
            harness.counting.reset()
            for index in 0..<1000 {
                let value: String
                if backend.isSealed {
                    // Sealed-shaped junk: version byte 1, random rest, of a plausible length.
                    var generator = SystemRandomNumberGenerator()
                    let bytes = [UInt8(1)] + (0..<90).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
                    value = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                } else {
                    value = randomWellFormedToken()
                }
                let response = try await client.withCookieHeader("\(harness.cookieName)=\(value)")
                guard response.isAnonymousMe, !response.hasSetCookie else {
                    Issue.record("request \(index): \(response.status) \(response.text) \(response.headers[values: .setCookie])")
                    return
                }
            }
            let calls = harness.counting.calls
            #expect(calls[.create] == nil && calls[.rotate] == nil && calls[.update] == nil && calls[.touch] == nil, "\(calls)")
            if backend.isSealed {
                #expect(harness.counting.total == 0, "\(calls)")
            } else {
                #expect(calls[.load] == 1000, "\(calls)")
            }
            #expect(try await harness.access.recordCount() == 0)
        }
    }
}
