import Crypto

/// HKDF with SHA-256 (RFC 5869) for one 32-byte output block, written out as its two
/// HMAC-SHA256 computations (RFC 2104) over swift-crypto's SHA-256.
///
/// It computes exactly what `HKDF<SHA256>.deriveKey(…, outputByteCount: 32)` computes (tests
/// hold the two equal and check RFC 5869's test vector) at a fraction of the cost: the
/// generic HKDF and HMAC types walk their key bytes through generic sequences, which made key
/// derivation a third of the cost of opening a sealed cookie, and every sealed request
/// derives one key.
enum HKDFSHA256 {
    private static let blockSize = 64
    private static let firstBlockCounter: [UInt8] = [1]

    /// Derives a 32-byte key: `PRK = HMAC(salt, ikm)`, `OKM = HMAC(PRK, info || 0x01)`.
    static func deriveKey(inputKeyMaterial: SymmetricKey, salt: [UInt8], info: [UInt8]) -> SymmetricKey {
        let pseudoRandomKey = salt.withUnsafeBytes { saltBytes in
            inputKeyMaterial.withUnsafeBytes { ikm in
                authenticationCode(key: saltBytes) { $0.update(bufferPointer: ikm) }
            }
        }
        let outputKey = pseudoRandomKey.withUnsafeBytes { prk in
            info.withUnsafeBytes { infoBytes in
                firstBlockCounter.withUnsafeBytes { counter in
                    authenticationCode(key: prk) {
                        $0.update(bufferPointer: infoBytes)
                        $0.update(bufferPointer: counter)
                    }
                }
            }
        }
        return SymmetricKey(data: outputKey)
    }

    /// HMAC-SHA256 of what `message` feeds the inner hash, keyed with `key`.
    private static func authenticationCode(key: UnsafeRawBufferPointer, message: (inout SHA256) -> Void) -> SHA256.Digest {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blockSize) { pad in
            pad.initialize(repeating: 0)
            defer { pad.update(repeating: 0) }  // leave no key material on the stack
            if key.count > blockSize {
                SHA256.hash(data: key).withUnsafeBytes { digest in
                    for index in digest.indices { pad[index] = digest[index] }
                }
            } else {
                for index in key.indices { pad[index] = key[index] }
            }
            for index in pad.indices { pad[index] ^= 0x36 }
            var inner = SHA256()
            inner.update(bufferPointer: UnsafeRawBufferPointer(pad))
            message(&inner)
            let innerDigest = inner.finalize()
            for index in pad.indices { pad[index] ^= 0x36 ^ 0x5c }
            var outer = SHA256()
            outer.update(bufferPointer: UnsafeRawBufferPointer(pad))
            innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
            return outer.finalize()
        }
    }
}
