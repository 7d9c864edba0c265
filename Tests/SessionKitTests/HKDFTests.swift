import Crypto
import Foundation
import Testing

@testable import SessionKit

@Suite("HKDF-SHA256 for sealed-cookie message keys")
struct HKDFTests {
    /// RFC 5869, test case 1: the first 32 bytes of its 42-byte output.
    @Test func rfc5869TestCase1() {
        let ikm = SymmetricKey(data: [UInt8](repeating: 0x0b, count: 22))
        let salt = Array(UInt8(0x00)...UInt8(0x0c))
        let info = Array(UInt8(0xf0)...UInt8(0xf9))
        let okm = HKDFSHA256.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info)
        let expected = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        #expect(okm.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() } == expected)
    }

    /// The hand-written derivation equals swift-crypto's generic HKDF for random inputs, so
    /// cookies sealed before and after the change open alike.
    @Test func matchesSwiftCryptoHKDF() {
        for round in 0..<200 {
            let ikm = SymmetricKey(size: .bits256)
            let salt = (0..<(round % 40)).map { _ in UInt8.random(in: .min ... .max) }
            let info = Array("sessionkit sealed cookie v1 \(round)".utf8)
            let fast = HKDFSHA256.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info)
            let reference = HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, outputByteCount: 32)
            #expect(fast == reference, "round \(round)")
        }
    }
}
