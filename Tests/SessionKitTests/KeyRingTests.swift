import Crypto
import Foundation
@testable import SessionKit
import Testing

/// Fixed secrets for key-ring tests.
private enum RingFixtures {
    /// 32 bytes whose standard base64 contains both `+` and `/` (so url-safe differs).
    static let secret: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: 0xF8 &+ $0 &* 37) }
    static let otherSecret: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: 0x11 &+ $0 &* 13) }

    static var standardBase64: String { Data(secret).base64EncodedString() }
    static var urlSafeBase64: String {
        standardBase64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    static var hex: String { secret.map { String(format: "%02x", $0) }.joined() }
    static var otherBase64: String { Data(otherSecret).base64EncodedString() }

    static func bytes(_ key: SymmetricKey) -> [UInt8] {
        key.withUnsafeBytes { Array($0) }
    }

    /// The subkey bytes of every purpose, for comparing two keys built from the same secret.
    static func fingerprint(_ key: KeyRing.Key) -> [[UInt8]] {
        KeyRing.Purpose.allCases.map { bytes(key.subkey(for: $0)) }
    }

    /// The configuration error a throwing call produced (recording an issue otherwise).
    static func configurationError(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ operation: () throws -> Void
    ) -> SessionConfigurationError? {
        do {
            try operation()
            Issue.record("expected a SessionConfigurationError, nothing was thrown", sourceLocation: sourceLocation)
            return nil
        } catch let error as SessionConfigurationError {
            return error
        } catch {
            Issue.record("expected a SessionConfigurationError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}

@Suite("Key ring")
struct KeyRingTests {
    // MARK: Parsing secrets

    @Test func fixtureBase64ContainsCharactersThatDifferInURLSafeAlphabet() {
        // Guards the fixture: the url-safe test only means something if `+` or `/` occur.
        #expect(RingFixtures.standardBase64.contains("+") || RingFixtures.standardBase64.contains("/"))
        #expect(RingFixtures.standardBase64.hasSuffix("="))
        #expect(RingFixtures.urlSafeBase64 != RingFixtures.standardBase64)
        #expect(RingFixtures.hex.count == 64)
    }

    @Test func parsesStandardBase64() throws {
        let ring = try KeyRing.parse("k1=\(RingFixtures.standardBase64)")
        let expected = try KeyRing.Key(name: "k1", secret: RingFixtures.secret)
        #expect(ring.current.name == "k1")
        #expect(ring.current.id == expected.id)
        #expect(ring.previous.isEmpty)
        #expect(ring.revokedNames.isEmpty)
        #expect(RingFixtures.fingerprint(ring.current) == RingFixtures.fingerprint(expected))
    }

    /// Standard and url-safe base64 (unpadded), with or without `base64:`, `hex:` in either
    /// case, and 64 bare hex digits all give the same key.
    @Test(arguments: [
        RingFixtures.standardBase64,
        RingFixtures.urlSafeBase64,
        "base64:\(RingFixtures.standardBase64)",
        "base64:\(RingFixtures.urlSafeBase64)",
        "hex:\(RingFixtures.hex)",
        "hex:\(RingFixtures.hex.uppercased())",
        RingFixtures.hex,
    ])
    func allEncodingsOfTheSameSecretGiveTheSameKeys(spelling: String) throws {
        let ring = try KeyRing.parse("k1=\(spelling)")
        let expected = try KeyRing.Key(name: "k1", secret: RingFixtures.secret)
        #expect(RingFixtures.fingerprint(ring.current) == RingFixtures.fingerprint(expected))
    }

    @Test func parsesRingWithPreviousAndRevokedKeysAndWhitespace() throws {
        let ring = try KeyRing.parse(" k2=\(RingFixtures.otherBase64) ,\n k1=\(RingFixtures.standardBase64), -k0 ,")
        #expect(ring.current.name == "k2")
        #expect(ring.previous.map(\.name) == ["k1"])
        #expect(ring.revokedNames == ["k0"])
    }

    @Test func longerSecretsAreAccepted() throws {
        let secret = Data((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).base64EncodedString()
        let ring = try KeyRing.parse("big=\(secret)")
        #expect(ring.current.name == "big")
    }

    // MARK: Parse failures

    /// No keys, an empty or short secret, a missing `=` or a secret that is neither base64 nor
    /// hex: the error says how to generate a key (and names the problem where given).
    @Test(
        arguments: [
            (",", nil), (" , ,", nil), ("-k1", nil), ("-k1,-k2", nil), ("   ", nil), ("", nil), ("k1=", nil),
            ("k1=\(Data(RingFixtures.secret.prefix(16)).base64EncodedString())", "16"),
            ("k1=\(Data(RingFixtures.secret.prefix(31)).base64EncodedString())", nil),
            ("k1=hex:\(String(RingFixtures.hex.prefix(32)))", nil),
            ("k1\(RingFixtures.hex)", "="),
            ("k1=not*a*secret!", nil),
        ] as [(String, String?)]
    )
    func unusableRingsFailWithGenerationHint(text: String, alsoMentions: String?) {
        let error = RingFixtures.configurationError { _ = try KeyRing.parse(text) }
        #expect(error?.message.contains("openssl rand") == true, "message: \(error?.message ?? "-")")
        if let alsoMentions { #expect(error?.message.contains(alsoMentions) == true, "message: \(error?.message ?? "-")") }
    }

    @Test func invalidHexAfterPrefixFails() {
        let bad = "zz" + String(RingFixtures.hex.dropFirst(2))
        #expect(RingFixtures.configurationError { _ = try KeyRing.parse("k1=hex:\(bad)") } != nil)
        #expect(RingFixtures.configurationError { _ = try KeyRing.parse("k1=hex:\(RingFixtures.hex)0") } != nil)
    }

    @Test func duplicateNamesFail() {
        let error = RingFixtures.configurationError {
            _ = try KeyRing.parse("k1=\(RingFixtures.standardBase64),k1=\(RingFixtures.otherBase64)")
        }
        #expect(error?.message.contains("k1") == true)
        // The same secret under the same name twice is still a duplicate.
        #expect(
            RingFixtures.configurationError {
                _ = try KeyRing.parse("k1=\(RingFixtures.standardBase64),k1=\(RingFixtures.standardBase64)")
            } != nil
        )
    }

    @Test func nameBothActiveAndRevokedFails() {
        let asPrevious = RingFixtures.configurationError {
            _ = try KeyRing.parse("k2=\(RingFixtures.otherBase64),k1=\(RingFixtures.standardBase64),-k1")
        }
        #expect(asPrevious?.message.contains("revoked") == true)
        let asCurrent = RingFixtures.configurationError {
            _ = try KeyRing.parse("-k1,k1=\(RingFixtures.standardBase64)")
        }
        #expect(asCurrent?.message.contains("k1") == true)
    }

    @Test func directInitRejectsDuplicatesAndActiveRevoked() throws {
        let k1 = try KeyRing.Key(name: "k1", secret: RingFixtures.secret)
        let k1Again = try KeyRing.Key(name: "k1", secret: RingFixtures.otherSecret)
        #expect(RingFixtures.configurationError { _ = try KeyRing(current: k1, previous: [k1Again]) } != nil)
        #expect(RingFixtures.configurationError { _ = try KeyRing(current: k1, revokedNames: ["k1"]) } != nil)
    }

    @Test(arguments: ["", "has space", "a,b", "a=b", "tab\there", "ünï"])
    func invalidKeyNamesFail(name: String) {
        #expect(RingFixtures.configurationError { _ = try KeyRing.Key(name: name, secret: RingFixtures.secret) } != nil)
    }

    // MARK: Environment

    @Test func fromEnvironmentReadsACustomVariable() throws {
        let environment = ["MY_APP_KEYS": "k2=\(RingFixtures.otherBase64),k1=\(RingFixtures.standardBase64)"]
        let ring = try KeyRing.fromEnvironment("MY_APP_KEYS", environment: environment)
        #expect(ring.current.name == "k2")
        #expect(ring.previous.map(\.name) == ["k1"])
    }

    @Test func fromEnvironmentUsesSessionKitKeysByDefault() throws {
        let ring = try KeyRing.fromEnvironment(environment: ["SESSIONKIT_KEYS": "main=\(RingFixtures.standardBase64)"])
        #expect(ring.current.name == "main")
    }

    @Test func fromEnvironmentMissingVariableFailsWithGenerationHint() {
        let error = RingFixtures.configurationError {
            _ = try KeyRing.fromEnvironment("MY_APP_KEYS", environment: ["OTHER": "k1=\(RingFixtures.standardBase64)"])
        }
        #expect(error?.message.contains("MY_APP_KEYS") == true)
        #expect(error?.message.contains("openssl rand") == true)
    }

    /// An empty variable or one that does not parse fails with the parser's hint.
    @Test(arguments: ["", "k1=AAAA"])
    func fromEnvironmentPropagatesParseErrors(value: String) {
        let error = RingFixtures.configurationError {
            _ = try KeyRing.fromEnvironment("K", environment: ["K": value])
        }
        #expect(error?.message.contains("openssl rand") == true)
    }

    // MARK: Lookup

    @Test func keyLookupByID() throws {
        let ring = try KeyRing.parse("k2=\(RingFixtures.otherBase64),k1=\(RingFixtures.standardBase64)")
        #expect(ring.key(withID: ring.current.id)?.name == "k2")
        let previousID = try #require(ring.previous.first?.id)
        #expect(ring.key(withID: previousID)?.name == "k1")
    }

    @Test func keyLookupIsNilForRevokedAndUnknownIDs() throws {
        let old = try KeyRing.parse("k1=\(RingFixtures.standardBase64)")
        let ring = try KeyRing.parse("k2=\(RingFixtures.otherBase64),-k1")
        #expect(ring.key(withID: old.current.id) == nil)
        #expect(ring.key(withID: KeyRing.keyID(forName: "k1")) == nil)
        #expect(ring.key(withID: KeyRing.keyID(forName: "never-configured")) == nil)
        var unknown = ring.current.id &+ 1
        if unknown == old.current.id { unknown &+= 1 }
        #expect(ring.key(withID: unknown) == nil)
        #expect(ring.key(withID: ring.current.id) != nil)
    }

    @Test func keyIDDependsOnNameOnly() throws {
        let a = try KeyRing.Key(name: "k1", secret: RingFixtures.secret)
        let b = try KeyRing.Key(name: "k1", secret: RingFixtures.otherSecret)
        let c = try KeyRing.Key(name: "k2", secret: RingFixtures.secret)
        #expect(a.id == b.id)
        #expect(a.id != c.id)
        #expect(a.id == KeyRing.keyID(forName: "k1"))
    }

    // MARK: Subkeys

    @Test func subkeysDifferPerPurposeAndFromTheSecret() throws {
        let key = try KeyRing.Key(name: "k1", secret: RingFixtures.secret)
        let subkeys = KeyRing.Purpose.allCases.map { RingFixtures.bytes(key.subkey(for: $0)) }
        #expect(subkeys.count == 3)
        #expect(Set(subkeys).count == 3)
        for subkey in subkeys {
            #expect(subkey.count == 32)
            #expect(subkey != RingFixtures.secret)
        }
    }

    @Test func subkeysAreDeterministicAndSecretDependent() throws {
        let a = try KeyRing.Key(name: "k1", secret: RingFixtures.secret)
        let again = try KeyRing.Key(name: "renamed", secret: RingFixtures.secret)
        let other = try KeyRing.Key(name: "k1", secret: RingFixtures.otherSecret)
        #expect(RingFixtures.fingerprint(a) == RingFixtures.fingerprint(again))
        for purpose in KeyRing.Purpose.allCases {
            #expect(RingFixtures.bytes(a.subkey(for: purpose)) != RingFixtures.bytes(other.subkey(for: purpose)))
        }
    }

    @Test func ephemeralRingsAreUsableAndDistinct() {
        let a = KeyRing.ephemeral()
        let b = KeyRing.ephemeral()
        #expect(a.current.name == "ephemeral")
        #expect(a.key(withID: a.current.id) != nil)
        #expect(RingFixtures.fingerprint(a.current) != RingFixtures.fingerprint(b.current))
    }
}
