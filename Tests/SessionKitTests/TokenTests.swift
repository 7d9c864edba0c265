import Crypto
import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

@Suite("Session tokens")
struct TokenTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    /// A valid token whose characters are all `A` (32 zero bytes).
    static let zeroToken = String(repeating: "A", count: 43)

    // MARK: Generation

    @Test func generatedTokenIs43CharactersOfBase64URL() throws {
        #expect(SessionToken.byteCount == 32 && SessionToken.encodedLength == 43)
        for _ in 0..<50 {
            let token = SessionToken.generate()
            #expect(token.text.utf8.count == 43)
            #expect(token.text.count == 43)
            #expect(token.text.utf8.allSatisfy { base64URLAlphabet.contains($0) })
            #expect(!token.text.contains("="))
            #expect(SessionToken(validating: token.text) == token)
            let bytes = try #require(Base64URL.decode(token.text.utf8))
            #expect(bytes.count == SessionToken.byteCount)
            #expect(Base64URL.encode(bytes) == token.text)
        }
    }

    @Test func thousandGeneratedTokensAreDistinct() {
        let tokens = (0..<1000).map { _ in SessionToken.generate() }
        #expect(Set(tokens.map(\.text)).count == 1000)
        #expect(Set(tokens.map(\.storageID)).count == 1000)
    }

    @Test func generatedTokensUseTheWholeAlphabet() {
        // 1000 tokens × 42 free characters: every one of the 64 characters shows up if the
        // bytes are random (a broken generator filling zeros would only give "A").
        var seen = Set<UInt8>()
        for _ in 0..<1000 {
            seen.formUnion(SessionToken.generate().text.utf8.dropLast())
        }
        #expect(seen == base64URLAlphabet)
    }

    // MARK: Validation

    @Test(arguments: [0, 1, 2, 41, 42, 44, 45, 64, 86, 10_240])
    func wrongLengthIsRejected(length: Int) {
        #expect(SessionToken(validating: String(repeating: "A", count: length)) == nil)
    }

    @Test(arguments: ["+", "/", "=", "\"", "\r", "\n", " ", "\t", ".", ",", ";", "\\", "\0", "%", "~", "\u{7F}"])
    func characterOutsideTheAlphabetIsRejected(bad: String) {
        for position in [0, 1, 20, 41, 42] {
            var characters = Array(Self.zeroToken)
            characters[position] = Character(bad)
            let text = String(characters)
            #expect(text.utf8.count == 43)
            #expect(SessionToken(validating: text) == nil, "accepted \(String(reflecting: bad)) at \(position)")
        }
    }

    @Test func nonASCIICharactersAreRejected() {
        // Same Character count as a token but more bytes, and the reverse.
        #expect(SessionToken(validating: String(repeating: "A", count: 42) + "é") == nil)
        #expect(SessionToken(validating: String(repeating: "A", count: 41) + "é") == nil)
        #expect(SessionToken(validating: String(repeating: "A", count: 40) + "\u{FF21}") == nil)  // fullwidth A
        #expect(SessionToken(validating: String(repeating: "A", count: 43) + "\u{301}") == nil)
    }

    @Test func nonCanonicalLastCharacterIsRejected() {
        // 256 bits fill 42 characters and 4 bits of the 43rd: its low two bits must be zero,
        // so exactly 16 of the 64 characters are allowed in the last position.
        let prefix = String(repeating: "A", count: 42)
        var accepted: [Character] = []
        for (value, character) in Self.alphabet.enumerated() {
            let valid = SessionToken(validating: prefix + String(character)) != nil
            #expect(valid == (value % 4 == 0), "last character \(character) (value \(value))")
            if valid { accepted.append(character) }
        }
        #expect(String(accepted) == "AEIMQUYcgkosw048")
    }

    // MARK: Storage IDs

    @Test func storageIDIsSHA256OfTheTokenText() throws {
        for _ in 0..<20 {
            let token = SessionToken.generate()
            let digest = SHA256.hash(data: Data(token.text.utf8))
            let expected = hexString(digest)
            #expect(token.storageID.hex == expected)
            #expect(token.storageID.bytes == Array(digest))
        }
    }

    @Test func storageIDKnownAnswer() throws {
        // printf 'AAA…A' (43) | sha256sum
        let token = try #require(SessionToken(validating: Self.zeroToken))
        #expect(token.storageID.hex == "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a")
    }

    @Test func storageIDRoundTripsThroughHexAndBytes() throws {
        let id = SessionToken.generate().storageID
        #expect(id.hex.utf8.count == 64)
        #expect(id.bytes.count == 32)
        #expect(SessionStorageID(hex: id.hex) == id)
        #expect(SessionStorageID(bytes: id.bytes) == id)
        let known = try #require(SessionToken(validating: Self.zeroToken)).storageID
        #expect(SessionStorageID(hex: known.hex.uppercased()) == nil, "only lowercase hex is accepted")
        #expect(SessionStorageID(hex: String(id.hex.dropLast())) == nil)
        #expect(SessionStorageID(hex: id.hex + "0") == nil)
        #expect(SessionStorageID(hex: String(id.hex.dropLast()) + "g") == nil)
        #expect(SessionStorageID(bytes: id.bytes.dropLast()) == nil)
        #expect(SessionStorageID(bytes: id.bytes + [0]) == nil)
    }

    @Test func descriptionsNeverShowTheSecret() {
        let token = SessionToken.generate()
        #expect(!token.description.contains(token.text))
        #expect(!String(describing: token).contains(token.text))
        #expect(token.storageID.logPrefix == String(token.storageID.hex.prefix(12)))
        #expect(token.storageID.description == token.storageID.logPrefix)
        #expect(!token.storageID.description.contains(token.storageID.hex))
    }

    // MARK: Storage IDs do not authenticate

    @Test func storageIDHexSentAsACookieDoesNotAuthenticate() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 7)
        let live = try token(of: owner.cookie)
        let attacker = harness.client(cookie: live.storageID.hex)
        let (value, response) = try await attacker.request { try await $0.get(Keys.count) }
        #expect(value == nil)
        #expect(response.fields.isEmpty)
        #expect(harness.store.total == 0, "a 64-character hex value must be rejected before any store call")
        // The owner is unaffected.
        #expect(try await owner.request { try await $0.get(Keys.count) }.value == 7)
    }

    @Test func storageDigestEncodedAsATokenDoesNotAuthenticate() async throws {
        // base64url of the 32 digest bytes is a well-formed token, but it is hashed again
        // before lookup, so it names a different (absent) record.
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 7)
        let live = try token(of: owner.cookie)
        let disguised = Base64URL.encode(live.storageID.bytes)
        #expect(SessionToken(validating: disguised) != nil)
        let attacker = harness.client(cookie: disguised)
        let value = try await attacker.request { try await $0.get(Keys.count) }.value
        #expect(value == nil)
        #expect(harness.store.calls == [.load: 1])
    }

    // MARK: Base64URL

    @Test func base64URLMatchesFoundationOnRandomInput() {
        var generator = SplitMix64(seed: 42)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected)
            #expect(Base64URL.decode(expected.utf8) == bytes)
        }
    }

    @Test func base64URLDecodeRejectsBadInput() {
        #expect(Base64URL.decode("A".utf8) == nil)  // impossible length
        #expect(Base64URL.decode("AAAAA".utf8) == nil)
        #expect(Base64URL.decode("AB".utf8) == nil)  // non-zero trailing bits
        #expect(Base64URL.decode("AAB".utf8) == nil)
        #expect(Base64URL.decode("AA==".utf8) == nil)
        #expect(Base64URL.decode("A+A/".utf8) == nil)
        #expect(Base64URL.decode("AA".utf8) == [0])
        #expect(Base64URL.decode("".utf8) == [])
        #expect(Base64URL.decode("-_-_".utf8) == [0xFB, 0xFF, 0xBF])
    }
}
