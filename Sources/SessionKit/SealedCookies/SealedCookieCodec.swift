import Crypto
import Foundation

/// Seals a session into a cookie value and opens it again (AES-GCM-256).
///
/// Layout before base64url: `version (1) | key ID (4) | salt (16) | nonce (12) | ciphertext | tag (16)`.
/// The message key is HKDF-SHA256 over the ring's cookie-sealing subkey with the random salt,
/// so no two cookies share a key. The version, key ID and the cookie *name* are associated
/// data: a value pasted under another cookie name fails authentication. Nothing inside is
/// decoded until the tag verifies, and every failure — short, long, flipped byte, unknown or
/// revoked key, wrong name, expired — is the same `nil`.
struct SealedCookieCodec: Sendable {
    static let version: UInt8 = 1
    static let headerLength = 1 + 4 + 16 + 12
    static let overhead = headerLength + 16
    /// Browsers keep at most 4096 bytes of name + value per cookie.
    static let maxCookieBytes = 4096

    let keyRing: KeyRing
    let cookieName: String

    struct Opened {
        var payload: SealedPayload
        var sealedWithPreviousKey: Bool
    }

    func seal(_ payload: SealedPayload) throws(SessionError) -> String {
        let key = keyRing.current
        let salt = SecureRandom.bytes(16)
        let header = [Self.version] + TokenSigner.bytes(of: key.id)
        let messageKey = Self.messageKey(key, salt: salt)
        let plaintext = payload.encoded()
        let sealedBox: AES.GCM.SealedBox
        do {
            sealedBox = try AES.GCM.seal(plaintext, using: messageKey, nonce: AES.GCM.Nonce(), authenticating: header + Array(cookieName.utf8))
        } catch {
            throw SessionError.encodingFailed(key: "sealed cookie")
        }
        var bytes = header + salt
        bytes += Array(sealedBox.nonce)
        bytes += Array(sealedBox.ciphertext)
        bytes += Array(sealedBox.tag)
        let value = Base64URL.encode(bytes)
        let size = cookieName.utf8.count + 1 + value.utf8.count
        guard size <= Self.maxCookieBytes else {
            throw SessionError.cookieTooLarge(size: size, limit: Self.maxCookieBytes)
        }
        return value
    }

    func open(_ value: Substring, now: Date) -> Result<Opened, TokenRejection> {
        let length = value.utf8.count
        guard length <= Self.maxCookieBytes else { return .failure(.oversized) }
        guard length >= (Self.overhead * 4 + 2) / 3 else { return .failure(.malformed) }
        guard let bytes = Base64URL.decode(value.utf8), bytes.count >= Self.overhead, bytes[0] == Self.version else { return .failure(.malformed) }
        let id = bytes[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let key = keyRing.key(withID: id) else { return .failure(.unknownKey) }
        let salt = Array(bytes[5..<21])
        let header = Array(bytes[0..<5])
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: bytes[21..<33]),
                ciphertext: bytes[33..<(bytes.count - 16)],
                tag: bytes[(bytes.count - 16)...]
            )
            plaintext = try AES.GCM.open(box, using: Self.messageKey(key, salt: salt), authenticating: header + Array(cookieName.utf8))
        } catch {
            return .failure(.forged)
        }
        // Authentic but unreadable means a payload this version cannot decode: treat it as malformed.
        guard let payload = SealedPayload(decoding: Array(plaintext)) else { return .failure(.malformed) }
        guard !payload.record.isExpired(at: now) else { return .failure(.expired) }
        return .success(Opened(payload: payload, sealedWithPreviousKey: key.id != keyRing.current.id))
    }

    private static let messageKeyInfo = Array("sessionkit sealed cookie v1".utf8)

    private static func messageKey(_ key: KeyRing.Key, salt: [UInt8]) -> SymmetricKey {
        HKDFSHA256.deriveKey(inputKeyMaterial: key.subkey(for: .cookieSealing), salt: salt, info: messageKeyInfo)
    }
}
