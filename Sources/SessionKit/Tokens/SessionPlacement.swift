/// Where a store keeps a session, chosen when the session's token is issued and carried in the
/// token, so every later request finds the session without asking anyone.
///
/// A Redis Cluster store uses it as the key's hash tag: all of a signed-in user's sessions and
/// the user's index carry the same placement, so they live in one cluster slot and a sign-in,
/// a rotation, sign-out-everywhere and the session cap are each one atomic script. A placement
/// is 16 bits written as four lowercase hex digits: it spreads users over the 16,384 slots and
/// says next to nothing about who the user is (thousands of users share each value). Stores
/// that do not adopt ``SessionPlacingStore`` never see one.
public struct SessionPlacement: Sendable, Hashable, CustomStringConvertible {
    /// The 16-bit value.
    public let value: UInt16

    /// Creates a placement.
    public init(_ value: UInt16) {
        self.value = value
    }

    /// Reads the four-hex-digit form (lowercase only, so each placement has one spelling).
    public init?(tag: some StringProtocol) {
        let utf8 = Array(tag.utf8)
        guard utf8.count == 4 else { return nil }
        var value: UInt16 = 0
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt16(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt16(byte - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        self.value = value
    }

    /// The four lowercase hex digits, as they appear in a token and in a store's keys.
    public var tag: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [12, 8, 4, 0].map { digits[Int(value >> UInt16($0) & 0xF)] }, as: UTF8.self)
    }

    /// The tag.
    public var description: String { tag }
}
