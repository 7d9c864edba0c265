import Crypto

/// The secret a client holds for its session: 32 bytes from the system CSPRNG, written as
/// 43 characters of unpadded base64url.
///
/// A token is never stored, logged or sent anywhere but back to its client. Stores see only
/// its ``storageID`` (SHA-256 of the token), so a leaked table or Redis dump yields no usable
/// cookie. Validation is exact: anything that is not 43 characters of the base64url alphabet
/// (with canonical trailing bits) is rejected before any store is asked.
public struct SessionToken: Sendable, Hashable {
    /// The number of random bytes in a token.
    public static let byteCount = 32
    /// The exact length of a token's text.
    public static let encodedLength = 43

    /// The token's text as sent in the cookie or header.
    public let text: String

    private init(validatedText: String) {
        self.text = validatedText
    }

    /// Makes a new token from the system's cryptographically secure random generator.
    public static func generate() -> SessionToken {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: byteCount)
        for index in stride(from: 0, to: byteCount, by: 8) {
            let word = generator.next()
            for offset in 0..<8 {
                bytes[index + offset] = UInt8(truncatingIfNeeded: word >> UInt64(offset * 8))
            }
        }
        return SessionToken(validatedText: Base64URL.encode(bytes))
    }

    /// Validates untrusted text as a token: exact length, base64url alphabet, canonical
    /// encoding. Returns `nil` for anything else; never throws, never allocates for junk of
    /// the wrong length.
    public init?<Text: StringProtocol>(validating text: Text) {
        let utf8 = text.utf8
        guard utf8.count == Self.encodedLength else { return nil }
        var last: UInt8 = 0
        for byte in utf8 {
            guard let value = Base64URL.value(of: byte) else { return nil }
            last = value
        }
        // 32 bytes = 256 bits = 42 full characters + 4 bits: the last character carries two
        // padding bits that must be zero, so each token has exactly one spelling.
        guard last & 0b11 == 0 else { return nil }
        self.text = String(text)
    }

    /// The key stores use for this token: SHA-256 of its text.
    public var storageID: SessionStorageID {
        SessionStorageID(digest: SHA256.hash(data: Array(text.utf8)))
    }
}

extension SessionToken: CustomStringConvertible {
    /// Never prints the secret: a digest prefix only, safe for logs.
    public var description: String { "SessionToken(\(storageID.logPrefix))" }
}
