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

    /// The key stores use for this token: SHA-256 of its text, computed once (a request asks
    /// for it at the load, at each atomic write and at the commit).
    public let storageID: SessionStorageID

    private init(validatedText: String) {
        self.text = validatedText
        self.storageID = Self.digest(of: validatedText)
    }

    /// Makes a new token from the system's cryptographically secure random generator.
    public static func generate() -> SessionToken {
        SessionToken(validatedText: Base64URL.encode(SecureRandom.bytes(byteCount)))
    }

    /// Validates untrusted text as a token: exact length, base64url alphabet, canonical
    /// encoding. Returns `nil` for anything else; never throws, never allocates for junk of
    /// the wrong length.
    public init?<Text: StringProtocol>(validating text: Text) {
        guard text.utf8.count == Self.encodedLength else { return nil }
        // One concrete, contiguous scan: iterating a generic `utf8` view from another module
        // goes through witness tables and cost about a microsecond per token.
        var text = String(text)
        let valid = text.withUTF8 { Self.isCanonical($0) }
        guard valid else { return nil }
        self.text = text
        self.storageID = Self.digest(of: text)
    }

    /// Whether `utf8` is a token's canonical spelling: 43 base64url characters whose last
    /// character carries two zero padding bits (32 bytes = 256 bits = 42 full characters + 4
    /// bits), so each token has exactly one spelling.
    private static func isCanonical(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard utf8.count == encodedLength else { return false }
        var last: UInt8 = 0
        for byte in utf8 {
            guard let value = Base64URL.value(of: byte) else { return false }
            last = value
        }
        return last & 0b11 == 0
    }

    private static func digest(of text: String) -> SessionStorageID {
        var text = text
        return text.withUTF8 { SessionStorageID(digest: SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }
}

extension SessionToken: CustomStringConvertible {
    /// Never prints the secret: a digest prefix only, safe for logs.
    public var description: String { "SessionToken(\(storageID.logPrefix))" }
}
