/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag, modulo
/// 16384, as the Redis Cluster specification defines it.
///
/// A hash tag is the text between the first `{` and the first `}` after it, when that text is
/// not empty: `sk:s:{abc}1` and `sk:u:{abc}` share a slot, so one script may touch both.
public enum RESPHashSlot {
    /// The number of slots in a Redis Cluster.
    public static let count = 16384

    /// The slot of `key`, computed over its bytes.
    public static func of(_ key: some StringProtocol) -> Int {
        var key = String(key)
        return key.withUTF8 { of(bytes: $0) }
    }

    /// The slot of a key given as bytes.
    public static func of(bytes key: UnsafeBufferPointer<UInt8>) -> Int {
        let hashed = hashedPart(of: key)
        return Int(crc16(UnsafeBufferPointer(rebasing: key[hashed])) % UInt16(count))
    }

    /// The range of `key` that is hashed: the hash tag if there is a non-empty one, else all of it.
    static func hashedPart(of key: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return 0..<key.count }
        guard let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 else { return 0..<key.count }
        return (open + 1)..<close
    }

    /// CRC16/XMODEM (polynomial 0x1021, initial value 0), bit by bit: keys are short and a
    /// 512-byte table would buy nothing measurable next to a network round trip.
    static func crc16(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}
