import Crypto

/// Signs server-side session tokens with the key ring, so forged or junk tokens are rejected
/// without a store call.
///
/// A signed cookie value is `TOKEN.SIG`, where `SIG` is base64url of the 4-byte key ID
/// followed by HMAC-SHA256(key ID ‖ token) under the ring's token-signing subkey: 43 + 1 + 48
/// characters (48 + 1 + 48 for a token that carries a placement). Stores still see only the
/// SHA-256 of `TOKEN`. A value signed with a previous key is accepted and re-signed with the
/// current key on the same response.
struct TokenSigner: Sendable {
    static let signatureLength = 48
    static let signedLength = SessionToken.encodedLength + 1 + signatureLength
    static let placedSignedLength = SessionToken.placedLength + 1 + signatureLength

    let keyRing: KeyRing

    func sign(_ token: SessionToken) -> String {
        let key = keyRing.current
        let idBytes = Self.bytes(of: key.id)
        let mac = HMAC<SHA256>.authenticationCode(for: idBytes + Array(token.text.utf8), using: key.subkey(for: .tokenSigning))
        return token.text + "." + Base64URL.encode(idBytes + Array(mac))
    }

    /// Returns the token and whether it was signed with a key other than the current one.
    func verify(_ value: Substring) -> Result<(token: SessionToken, signedWithPreviousKey: Bool), TokenRejection> {
        // Work on bytes: a value of the right byte length may hold multi-byte characters, and
        // character offsets would then run past its end.
        let bytes = Array(value.utf8)
        guard bytes.count == Self.signedLength || bytes.count == Self.placedSignedLength, bytes.allSatisfy({ $0 < 0x80 }) else {
            return .failure(.malformed)
        }
        let tokenLength = bytes.count - 1 - Self.signatureLength
        guard bytes[tokenLength] == UInt8(ascii: ".") else { return .failure(.malformed) }
        let tokenText = String(decoding: bytes[..<tokenLength], as: UTF8.self)
        guard let token = SessionToken(validating: tokenText) else { return .failure(.malformed) }
        guard let signature = Base64URL.decode(bytes[(tokenLength + 1)...]), signature.count == 36 else {
            return .failure(.malformed)
        }
        let id = signature[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let key = keyRing.key(withID: id) else { return .failure(.unknownKey) }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            Array(signature[4...]),
            authenticating: Array(signature[0..<4]) + Array(token.text.utf8),
            using: key.subkey(for: .tokenSigning)
        )
        guard valid else { return .failure(.forged) }
        return .success((token, key.id != keyRing.current.id))
    }

    static func bytes(of id: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: id >> 24), UInt8(truncatingIfNeeded: id >> 16), UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)]
    }
}
