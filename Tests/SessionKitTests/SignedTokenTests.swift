import Crypto
import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

private func split(_ signed: String) -> (token: String, signature: String)? {
    let parts = signed.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    return (String(parts[0]), String(parts[1]))
}

@Suite("Signed session tokens")
struct SignedTokenTests {
    // MARK: Format

    @Test func newSessionGetsA92CharacterSignedValue() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        #expect(value.utf8.count == 92)
        #expect(value.count == TokenSigner.signedLength)
        let (token, signature) = try #require(split(value))
        #expect(token.count == 43)
        #expect(signature.count == 48)
        #expect(SessionToken(validating: token) != nil)
        #expect(token.utf8.allSatisfy { base64URLAlphabet.contains($0) })
        #expect(signature.utf8.allSatisfy { base64URLAlphabet.contains($0) })
        let signatureBytes = try #require(Base64URL.decode(signature.utf8))
        #expect(signatureBytes.count == 36)
        #expect(keyID(signatureBytes[0..<4]) == TestKeys.ringA.current.id)
    }

    @Test func signatureIsHMACOfKeyIDAndToken() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        let (token, signature) = try #require(split(value))
        let key = TestKeys.ringA.current
        let idBytes = TokenSigner.bytes(of: key.id)
        let mac = HMAC<SHA256>.authenticationCode(for: idBytes + Array(token.utf8), using: key.subkey(for: .tokenSigning))
        #expect(Base64URL.encode(idBytes + Array(mac)) == signature)
    }

    @Test func signedValueRoundTrips() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie("round trip")
        let client = harness.client(cookie: value)
        let (read, response) = try await client.request { try await $0.get(Keys.value) }
        #expect(read == "round trip")
        #expect(harness.store.calls == [.load: 1])
        #expect(response.fields == userSpecificFields)
    }

    @Test func storeOnlySeesTheDigestOfTheTokenPart() async throws {
        let harness = try Harness.signed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "x") }
        let value = try #require(client.cookie)
        harness.clock.advance(by: .seconds(120))
        try await client.send { try await $0.set(Keys.value, "y") }
        harness.clock.advance(by: .seconds(120))
        _ = try await client.request { try await $0.get(Keys.value) }
        #expect(client.cookie == value)

        let token = try #require(SessionToken(validating: value.prefix(43)))
        let record = try #require(try await harness.memory.load(token.storageID))
        #expect(record.data["value"] == Data("\"y\"".utf8))
        #expect(harness.memory.count == 1)
        #expect(Set(harness.recorder.ids) == [token.storageID])

        // Nothing is kept under the digest of the whole signed value.
        let wholeDigest = try #require(SessionStorageID(bytes: Array(SHA256.hash(data: Array(value.utf8)))))
        #expect(try await harness.memory.load(wholeDigest) == nil)
        #expect(try await harness.record(for: value) != nil)
    }

    // MARK: Rejection without store calls

    @Test func forgedSignatureCostsNoStoreCall() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        let (token, signature) = try #require(split(value))
        let characters = Array(signature)
        // Change every character of the signature, one at a time.
        for position in characters.indices {
            var forged = characters
            forged[position] = forged[position] == "A" ? "B" : "A"
            await harness.expectRejected(token + "." + String(forged), "signature character \(position)")
        }
        // Flip each byte of the MAC and key ID (re-encoded canonically).
        let bytes = try #require(Base64URL.decode(signature.utf8))
        for position in bytes.indices {
            var forged = bytes
            forged[position] ^= 0x01
            await harness.expectRejected(token + "." + Base64URL.encode(forged), "signature byte \(position)")
        }
        // An all-zero signature and one made with a made-up key.
        await harness.expectRejected(token + "." + String(repeating: "A", count: 48), "zero signature")
        let attackerRing = TestKeys.ring("k1=\(TestKeys.secretB)")
        let forgedWithGuess = TokenSigner(keyRing: attackerRing).sign(try #require(SessionToken(validating: token)))
        await harness.expectRejected(forgedWithGuess, "signed with a guessed key under the same name")
    }

    @Test func changedTokenPartCostsNoStoreCall() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        let characters = Array(value)
        for position in 0..<42 {
            var changed = characters
            changed[position] = changed[position] == "A" ? "B" : "A"
            await harness.expectRejected(String(changed), "token character \(position)")
        }
    }

    @Test func bareUnsignedTokenCostsNoStoreCall() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        let token = String(value.prefix(43))
        await harness.expectRejected(token, "bare token of a live session")
        await harness.expectRejected(token + ".", "token and dot")
        await harness.expectRejected(SessionToken.generate().text, "bare fresh token")
    }

    @Test func anotherSessionsSignatureCostsNoStoreCall() async throws {
        let harness = try Harness.signed()
        let first = try await harness.newCookie("first")
        let second = try await harness.newCookie("second")
        let (tokenA, _) = try #require(split(first))
        let (tokenB, signatureB) = try #require(split(second))
        #expect(tokenA != tokenB)
        await harness.expectRejected(tokenA + "." + signatureB, "A's token with B's signature")
        // Both originals still work.
        #expect(try await harness.client(cookie: first).request { try await $0.get(Keys.value) }.value == "first")
        #expect(try await harness.client(cookie: second).request { try await $0.get(Keys.value) }.value == "second")
    }

    @Test func junkCostsNoStoreCall() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        var generator = SystemRandomNumberGenerator()
        let random92 = String((0..<92).map { _ in Character(UnicodeScalar(Array(base64URLAlphabet)[Int.random(in: 0..<64, using: &generator)])) })
        let junk: [String] = [
            "", "x", ".", "..", "null", "deleted",
            String(repeating: "A", count: 92),
            String(repeating: "A", count: 43) + "." + String(repeating: "A", count: 48),
            random92,
            String(value.dropLast()),
            value + "A",
            String(value.dropFirst()),
            value.replacingOccurrences(of: ".", with: "_"),
            String(value.prefix(42)) + "." + String(value.dropFirst(43)) + "A",
            String(repeating: "A", count: 44) + "." + String(value.dropFirst(44)),
            String(value.suffix(48)) + "." + String(value.prefix(43)),
            String(repeating: "x", count: 4096),
            String(repeating: "x", count: 10 * 1024),
        ]
        for candidate in junk {
            await harness.expectRejected(candidate, "junk \(candidate.prefix(16))… (\(candidate.count) chars)")
        }
    }

    @Test func nonASCIIValueWithTheDotInPlaceCostsNoStoreCall() async throws {
        let harness = try Harness.signed()
        let value = try await harness.newCookie()
        // 92 bytes, 91 characters: the character at offset 43 is not the dot.
        let candidate = String(value.prefix(40)) + "\u{E9}" + String(value.dropFirst(42))
        #expect(candidate.utf8.count == 92)
        await harness.expectRejected(candidate, "non-ASCII in the token part")
    }

    /// Values of exactly 92 UTF-8 bytes but fewer than 44 characters pass the length check;
    /// the signature check must then not index by characters past the end. Run in a child
    /// process so a trap fails this test instead of killing the whole test run.
    @Test(arguments: [
        "4-byte scalars",
        "2-byte scalars",
        "combining marks",
    ])
    func multiByteValuesOf92BytesDoNotCrash(kind: String) async {
        await #expect(processExitsWith: .success, "a 92-byte value of \(kind) crashed the engine") { [kind] in
            let value: String
            switch kind {
            case "4-byte scalars": value = String(repeating: "\u{1F600}", count: 23)  // 23 characters
            case "2-byte scalars": value = String(repeating: "\u{E9}", count: 46)  // 46 characters, 2 bytes each
            default: value = String(repeating: "e\u{301}", count: 30) + "AA"  // 32 characters
            }
            precondition(value.utf8.count == 92)
            let ring = try KeyRing.parse("k1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            let engine = try SessionEngine(store: MemorySessionStore(), configuration: SessionConfiguration(tokenSigning: ring))
            var fields = HTTPFields()
            fields[.cookie] = "__Host-id=\(value)"
            let handle = engine.begin(fields)
            guard try await handle.isEmpty else { fatalError("a junk value opened a session") }
            _ = try await engine.commit(handle)
        }
    }

    @Test func validSignatureOfUnknownTokenCostsOneLoad() async throws {
        // The contrast case: a correctly signed token the store does not know is one load.
        let harness = try Harness.signed()
        let signed = TokenSigner(keyRing: TestKeys.ringA).sign(SessionToken.generate())
        let client = harness.client(cookie: signed)
        let (read, response) = try await client.request { try await $0.get(Keys.value) }
        #expect(read == nil)
        #expect(response.fields.isEmpty)
        #expect(harness.store.calls == [.load: 1])
    }

    // MARK: Rotation

    @Test func previousKeySignatureIsAcceptedAndReSigned() async throws {
        let harness = try Harness.signed()
        let rotated = try harness.sibling(SessionConfiguration(tokenSigning: TestKeys.ring("k2=\(TestKeys.secretB),k1=\(TestKeys.secretA)")))
        let onlyNew = try harness.sibling(SessionConfiguration(tokenSigning: TestKeys.ring("k2=\(TestKeys.secretB)")))
        let old = try await harness.newCookie("rotating")

        let client = harness.client(rotated, cookie: old)
        let (read, response) = try await client.request { try await $0.get(Keys.value) }
        #expect(read == "rotating")
        #expect(harness.store.calls == [.load: 1])
        let reSigned = try #require(response.setCookie)
        #expect(!reSigned.isDeletion)
        #expect(reSigned.value.count == 92)
        #expect(reSigned.value != old)
        #expect(reSigned.value.prefix(43) == old.prefix(43))
        let signature = try #require(Base64URL.decode(reSigned.value.dropFirst(44).utf8))
        #expect(keyID(signature[0..<4]) == KeyRing.keyID(forName: "k2"))
        #expect(response.fields[.cacheControl] == "no-store")

        // The re-signed value is current: no further re-signing.
        harness.store.reset()
        let again = try await client.request { try await $0.get(Keys.value) }
        #expect(again.value == "rotating")
        #expect(again.response.setCookie == nil)

        // An engine that only knows k2 accepts the new value and rejects the old one.
        #expect(try await harness.client(onlyNew, cookie: reSigned.value).request { try await $0.get(Keys.value) }.value == "rotating")
        await harness.expectRejected(old, engine: onlyNew, "k1 signature, k1 removed")
    }

    @Test func previousKeySignatureIsReSignedAlsoWhenWriting() async throws {
        let harness = try Harness.signed()
        let rotated = try harness.sibling(SessionConfiguration(tokenSigning: TestKeys.ring("k2=\(TestKeys.secretB),k1=\(TestKeys.secretA)")))
        let old = try await harness.newCookie("before")
        let client = harness.client(rotated, cookie: old)
        let response = try await client.send { try await $0.set(Keys.value, "after") }
        let reSigned = try #require(response.setCookie)
        #expect(reSigned.value.prefix(43) == old.prefix(43))
        #expect(reSigned.value != old)
        #expect(try await harness.record(for: old)?.data["value"] == Data("\"after\"".utf8))
    }

    @Test func revokedOrRemovedSigningKeyIsAnonymousWithoutStoreCalls() async throws {
        let harness = try Harness.signed()
        let revoked = try harness.sibling(SessionConfiguration(tokenSigning: TestKeys.ring("k2=\(TestKeys.secretB),-k1")))
        let removed = try harness.sibling(SessionConfiguration(tokenSigning: TestKeys.ring("k2=\(TestKeys.secretB)")))
        let old = try await harness.newCookie("old")
        #expect(try await harness.record(for: old) != nil)

        await harness.expectRejected(old, engine: revoked, "k1 revoked")
        await harness.expectRejected(old, engine: removed, "k1 removed")

        // A write after the rejection starts a new session; the old record is untouched.
        let client = harness.client(revoked, cookie: old)
        harness.store.reset()
        try await client.send { try await $0.set(Keys.value, "new") }
        #expect(harness.store.calls == [.create: 1])
        let fresh = try #require(client.cookie)
        #expect(fresh.prefix(43) != old.prefix(43))
        #expect(try await harness.record(for: old)?.data["value"] == Data("\"old\"".utf8))
    }

    // MARK: Lifecycle with signing

    @Test func destroyAndRegenerateWorkWithSignedTokens() async throws {
        let harness = try Harness.signed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "keep") }
        let first = try #require(client.cookie)
        try await client.send { try await $0.regenerate() }
        let second = try #require(client.cookie)
        #expect(second.count == 92)
        #expect(second.prefix(43) != first.prefix(43))
        #expect(try await client.request { try await $0.get(Keys.value) }.value == "keep")
        #expect(try await harness.record(for: first) == nil)

        let response = try await client.send { try $0.destroy() }
        #expect(response.setCookie?.isDeletion == true)
        #expect(try await harness.record(for: second) == nil)

        // Destroying with a forged value costs no store call either.
        harness.store.reset()
        var fields = HTTPFields()
        fields[.cookie] = "__Host-id=" + String(second.prefix(43)) + "." + String(repeating: "A", count: 48)
        try await harness.client().send(headers: fields) { try $0.destroy() }
        #expect(harness.store.total == 0)
    }
}
