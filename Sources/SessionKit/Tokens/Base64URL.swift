/// Unpadded base64url (RFC 4648 §5) encoding used for session tokens and CSRF tokens.
///
/// Kept internal and allocation-light: tokens are encoded once per new session and
/// validated once per request, so this sits on the hot path.
enum Base64URL {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8
    )

    /// Encodes bytes without padding.
    static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        let outputLength = (input.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: outputLength) { output in
            var out = 0
            var index = 0
            while index + 3 <= input.count {
                let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                output[out] = alphabet[Int(chunk >> 18 & 0x3F)]
                output[out + 1] = alphabet[Int(chunk >> 12 & 0x3F)]
                output[out + 2] = alphabet[Int(chunk >> 6 & 0x3F)]
                output[out + 3] = alphabet[Int(chunk & 0x3F)]
                out += 4
                index += 3
            }
            let remaining = input.count - index
            if remaining == 1 {
                let chunk = UInt32(input[index]) << 16
                output[out] = alphabet[Int(chunk >> 18 & 0x3F)]
                output[out + 1] = alphabet[Int(chunk >> 12 & 0x3F)]
                out += 2
            } else if remaining == 2 {
                let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                output[out] = alphabet[Int(chunk >> 18 & 0x3F)]
                output[out + 1] = alphabet[Int(chunk >> 12 & 0x3F)]
                output[out + 2] = alphabet[Int(chunk >> 6 & 0x3F)]
                out += 3
            }
            return out
        }
    }

    /// The 6-bit value of one base64url character, or `nil` for anything outside the alphabet.
    @inline(__always)
    static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }

    /// Decodes unpadded base64url; returns `nil` for any character outside the alphabet,
    /// an impossible length, or non-zero trailing bits (so every byte string has exactly one
    /// accepted encoding).
    static func decode<Bytes: Collection<UInt8>>(_ text: Bytes) -> [UInt8]? {
        let input = Array(text)
        if input.count % 4 == 1 { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in input {
            guard let value = value(of: byte) else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        if bits > 0 && buffer & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return output
    }
}
