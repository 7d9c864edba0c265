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
        if let decoded = text.withContiguousStorageIfAvailable({ decode(contiguous: $0) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { decode(contiguous: $0) }
    }

    /// Decodes contiguous bytes: rejects any character outside the alphabet, a length no
    /// encoding produces, and non-zero padding bits (one spelling per value).
    private static func decode(contiguous input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        if input.count % 4 == 1 { return nil }
        let outputLength = input.count * 3 / 4
        var failed = false
        let output = [UInt8](unsafeUninitializedCapacity: outputLength) { output, initialized in
            var buffer: UInt32 = 0
            var bits = 0
            var out = 0
            for byte in input {
                guard let value = value(of: byte) else {
                    failed = true
                    break
                }
                buffer = buffer << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    output[out] = UInt8(truncatingIfNeeded: buffer >> UInt32(bits))
                    out += 1
                }
            }
            if !failed, bits > 0, buffer & ((1 << UInt32(bits)) - 1) != 0 { failed = true }
            initialized = failed ? 0 : out
        }
        return failed ? nil : output
    }
}
