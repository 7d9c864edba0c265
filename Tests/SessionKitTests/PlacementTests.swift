import Foundation
@testable import SessionKit
import Testing

/// Placed tokens (`<43 characters>~<4 hex digits>`): what a clustered store uses to keep a
/// user's sessions in one hash slot. A placement is routing, never authority: it is part of
/// the hashed and signed text, so changing it yields a different, unknown session.
@Suite("Session placement")
struct PlacementTests {
    @Test("a placement tag is four lowercase hex digits, and only that")
    func tags() {
        #expect(SessionPlacement(0).tag == "0000")
        #expect(SessionPlacement(0xBEEF).tag == "beef")
        #expect(SessionPlacement(tag: "beef") == SessionPlacement(0xBEEF))
        for value in [0, 1, 0x00FF, 0x1234, 0xFFFF] as [UInt16] {
            #expect(SessionPlacement(tag: SessionPlacement(value).tag) == SessionPlacement(value))
        }
        for bad in ["", "abc", "abcde", "BEEF", "beeg", "-1ab", " abc", "ab\u{0}c", "é12"] {
            #expect(SessionPlacement(tag: bad) == nil, "\(bad.debugDescription) was accepted")
        }
    }

    @Test("a placed token is 48 characters, validates, and its ID carries the placement")
    func placedTokens() throws {
        let placement = SessionPlacement(0x0a1b)
        let token = SessionToken.generate(placement: placement)
        #expect(token.text.utf8.count == SessionToken.placedLength && SessionToken.placedLength == 48)
        #expect(token.text.hasSuffix("~0a1b"))
        let parsed = try #require(SessionToken(validating: token.text))
        #expect(parsed == token)
        #expect(parsed.placement == placement)
        #expect(parsed.storageID.placement == placement)
        // An unplaced token is the 43-character format of before.
        let plain = SessionToken.generate()
        #expect(plain.text.utf8.count == 43 && plain.placement == nil)
        #expect(SessionToken(validating: plain.text)?.placement == nil)
    }

    @Test("a placed token with a bad separator or tag is rejected")
    func malformedPlacedTokens() {
        let base = String(SessionToken.generate().text)
        for suffix in ["~BEEF", "~beeg", ".beef", "-beef", "~bee\u{e9}", "~ beef", "~beef~"] {
            #expect(SessionToken(validating: base + suffix) == nil, "\(suffix.debugDescription) was accepted")
        }
        // A non-canonical first part stays rejected when a tag follows it.
        #expect(SessionToken(validating: String(repeating: "A", count: 42) + "B~beef") == nil)
    }

    @Test("changing the tag changes the storage digest: the placement is not a free parameter")
    func tagIsPartOfTheDigest() throws {
        let token = SessionToken.generate(placement: SessionPlacement(1))
        let retagged = try #require(SessionToken(validating: String(token.text.dropLast(4)) + "0002"))
        #expect(retagged.storageID != token.storageID)
        #expect(retagged.storageID.hex != token.storageID.hex)
    }

    @Test("a storage ID's encoded form round-trips; equality and hashing look at the digest only")
    func encodedStorageIDs() throws {
        let placed = SessionToken.generate(placement: SessionPlacement(0xFFFF)).storageID
        #expect(placed.encoded == placed.hex + "~ffff")
        let decoded = try #require(SessionStorageID(encoded: placed.encoded))
        #expect(decoded == placed && decoded.placement == SessionPlacement(0xFFFF))
        let plain = SessionToken.generate().storageID
        #expect(plain.encoded == plain.hex)
        #expect(SessionStorageID(encoded: plain.encoded)?.placement == nil)

        let unplacedTwin = try #require(SessionStorageID(hex: placed.hex))
        #expect(unplacedTwin == placed)
        #expect(Set([unplacedTwin, placed]).count == 1)

        for bad in [
            placed.hex + "~", placed.hex + "~FFFF", placed.hex + "~fffff", "~ffff", placed.hex + "~ff~ff", String(placed.hex.dropLast()) + "~ffff",
        ] {
            #expect(SessionStorageID(encoded: bad) == nil, "\(bad) was accepted")
        }
    }

    @Test("signed placed tokens verify; a changed tag or signature is forged; 43-character tokens still verify")
    func signing() throws {
        let signer = TokenSigner(keyRing: TestKeys.ringA)
        let placed = SessionToken.generate(placement: SessionPlacement(0x1234))
        let signed = signer.sign(placed)
        #expect(signed.utf8.count == TokenSigner.placedSignedLength && TokenSigner.placedSignedLength == 97)
        let verified = try signer.verify(Substring(signed)).get()
        #expect(verified.token == placed && verified.token.placement == SessionPlacement(0x1234))

        // Another tag under the same signature: the signature covers the tag.
        let retagged = signed.replacingOccurrences(of: "~1234.", with: "~1235.")
        #expect(retagged != signed)
        #expect(throws: TokenRejection.forged) { try signer.verify(Substring(retagged)).get() }
        // Dropping the tag leaves a well-formed unplaced value with the wrong signature.
        let untagged = signed.replacingOccurrences(of: "~1234.", with: ".")
        #expect(throws: TokenRejection.forged) { try signer.verify(Substring(untagged)).get() }
        // A bad tag spelling is malformed before any HMAC.
        let uppercase = signed.replacingOccurrences(of: "~1234.", with: "~12A4.")
        #expect(throws: TokenRejection.malformed) { try signer.verify(Substring(uppercase)).get() }

        let legacy = SessionToken.generate()
        let legacySigned = signer.sign(legacy)
        #expect(legacySigned.utf8.count == TokenSigner.signedLength)
        #expect(try signer.verify(Substring(legacySigned)).get().token == legacy)
        // One length between the two formats is malformed.
        #expect(throws: TokenRejection.malformed) { try signer.verify(Substring(legacySigned + "x")).get() }
    }
}
