import Crypto

/// The identifier a store keys a session by: the SHA-256 digest of the session's token.
///
/// Holding a storage ID does not let anyone authenticate: the token cannot be recovered from
/// it, and sending a storage ID as a cookie is rejected (it is 64 hex characters, not a
/// token). Stores persist ``hex`` (or the raw ``bytes``); logs use ``logPrefix``.
///
/// A token issued for a ``SessionPlacingStore`` also carries a ``placement``, which the ID
/// keeps so the store can find the session. Two IDs are equal when their digests are: the
/// placement is part of the token the digest was taken of, so it cannot differ between equal
/// digests, and an ID read back from a store without its placement still matches.
public struct SessionStorageID: Sendable, Hashable {
    // Four words instead of an array: hashing and comparing stay allocation-free, which keeps
    // the memory store's dictionary lean.
    private let word0: UInt64
    private let word1: UInt64
    private let word2: UInt64
    private let word3: UInt64
    /// Where the store keeps the session, when its token carries a placement.
    public let placement: SessionPlacement?

    init(digest: SHA256.Digest, placement: SessionPlacement? = nil) {
        self.placement = placement
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        digest.withUnsafeBytes { raw in
            words.0 = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self).bigEndian
            words.1 = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).bigEndian
            words.2 = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).bigEndian
            words.3 = raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self).bigEndian
        }
        (word0, word1, word2, word3) = words
    }

    /// Rebuilds a storage ID from its 32 digest bytes (as read back from a store).
    public init?(bytes: some Collection<UInt8>, placement: SessionPlacement? = nil) {
        guard bytes.count == 32 else { return nil }
        self.placement = placement
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() {
            words[index / 8] = words[index / 8] << 8 | UInt64(byte)
        }
        (word0, word1, word2, word3) = (words[0], words[1], words[2], words[3])
    }

    /// Rebuilds a storage ID from its 64-character lowercase hex form (as read back from a store).
    public init?(hex: some StringProtocol, placement: SessionPlacement? = nil) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes: bytes, placement: placement)
    }

    /// Rebuilds a storage ID from its ``encoded`` form.
    public init?(encoded: some StringProtocol) {
        let parts = encoded.split(separator: "~", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            self.init(hex: encoded)
            return
        }
        guard let placement = SessionPlacement(tag: parts[1]) else { return nil }
        self.init(hex: parts[0], placement: placement)
    }

    /// ``hex``, followed by `~` and the placement's tag when there is one: the form that keeps
    /// everything a store needs to find the session (an index entry, a form field).
    public var encoded: String {
        guard let placement else { return hex }
        return hex + "~" + placement.tag
    }

    /// Equal digests (the placement is not compared: see the type's discussion).
    public static func == (lhs: SessionStorageID, rhs: SessionStorageID) -> Bool {
        (lhs.word0, lhs.word1, lhs.word2, lhs.word3) == (rhs.word0, rhs.word1, rhs.word2, rhs.word3)
    }

    /// Hashes the digest only, like ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(word0)
        hasher.combine(word1)
        hasher.combine(word2)
        hasher.combine(word3)
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// The 32 digest bytes, most significant first.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(32)
        for word in [word0, word1, word2, word3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                result.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return result
    }

    /// The digest as 64 lowercase hex characters: the form SQL and Redis stores use as a key.
    public var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 64) { output in
            var out = 0
            for word in [word0, word1, word2, word3] {
                for shift in stride(from: 60, through: 0, by: -4) {
                    output[out] = digits[Int(word >> UInt64(shift) & 0xF)]
                    out += 1
                }
            }
            return 64
        }
    }

    /// The first 12 hex characters: enough to correlate log lines, useless to an attacker.
    public var logPrefix: String { String(hex.prefix(12)) }

    /// A small number derived from the digest, used to pick a shard.
    var shardSeed: UInt64 { word0 }
}

extension SessionStorageID: CustomStringConvertible {
    /// The log-safe prefix of the digest.
    public var description: String { logPrefix }
}
