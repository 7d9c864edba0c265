import Crypto

/// The secret a client holds for its session: 32 bytes from the system CSPRNG, written as
/// 43 characters of unpadded base64url.
///
/// A token is never stored, logged or sent anywhere but back to its client. Stores see only
/// its ``storageID`` (SHA-256 of the token), so a leaked table or Redis dump yields no usable
/// cookie. Validation is exact: anything that is not 43 characters of the base64url alphabet
/// (with canonical trailing bits) is rejected before any store is asked.
///
/// Two formats are valid, told apart by their length. The original: the 43 characters alone.
/// The placed format, issued only for a ``SessionPlacingStore`` (a Redis Cluster keeps a
/// signed-in user's sessions in one slot): the 43 characters, `~`, and the session's
/// ``SessionPlacement`` as four lowercase hex digits (48 characters). The digest covers the
/// whole text, so a changed placement is a different, unknown token; a signed cookie's HMAC
/// covers it too. Tokens of the original format keep working on every store.
public struct SessionToken: Sendable, Hashable {
    /// The number of random bytes in a token.
    public static let byteCount = 32
    /// The length of a token's random part (and of a whole token of the original format).
    public static let encodedLength = 43
    /// The length of a token that carries a placement: the random part, `~`, four hex digits.
    public static let placedLength = encodedLength + 5

    /// The token's text as sent in the cookie or header.
    public let text: String

    /// The key stores use for this token: SHA-256 of its text, computed once (a request asks
    /// for it at the load, at each atomic write and at the commit).
    public let storageID: SessionStorageID

    private init(validatedText: String, placement: SessionPlacement?) {
        self.text = validatedText
        self.storageID = Self.digest(of: validatedText, placement: placement)
    }

    /// Makes a new token from the system's cryptographically secure random generator, carrying
    /// `placement` when one is given.
    public static func generate(placement: SessionPlacement? = nil) -> SessionToken {
        let random = Base64URL.encode(SecureRandom.bytes(byteCount))
        guard let placement else { return SessionToken(validatedText: random, placement: nil) }
        return SessionToken(validatedText: random + "~" + placement.tag, placement: placement)
    }

    /// The placement the token carries, if it is of the placed format.
    public var placement: SessionPlacement? { storageID.placement }

    /// Validates untrusted text as a token: exact length, base64url alphabet, canonical
    /// encoding. Returns `nil` for anything else; never throws, never allocates for junk of
    /// the wrong length.
    public init?<Text: StringProtocol>(validating text: Text) {
        let length = text.utf8.count
        guard length == Self.encodedLength || length == Self.placedLength else { return nil }
        // One concrete, contiguous scan: iterating a generic `utf8` view from another module
        // goes through witness tables and cost about a microsecond per token.
        var text = String(text)
        let placement = text.withUTF8 { utf8 -> SessionPlacement?? in
            guard Self.isCanonical(UnsafeBufferPointer(rebasing: utf8[..<Self.encodedLength])) else { return nil }
            guard length == Self.placedLength else { return .some(nil) }
            guard utf8[Self.encodedLength] == UInt8(ascii: "~"),
                let placement = SessionPlacement(tag: String(decoding: utf8[(Self.encodedLength + 1)...], as: UTF8.self))
            else { return nil }
            return .some(placement)
        }
        guard let placement else { return nil }
        self.text = text
        self.storageID = Self.digest(of: text, placement: placement)
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

    private static func digest(of text: String, placement: SessionPlacement?) -> SessionStorageID {
        var text = text
        return text.withUTF8 { SessionStorageID(digest: SHA256.hash(data: UnsafeRawBufferPointer($0)), placement: placement) }
    }
}

extension SessionToken: CustomStringConvertible {
    /// Never prints the secret: a digest prefix only, safe for logs.
    public var description: String { "SessionToken(\(storageID.logPrefix))" }
}
