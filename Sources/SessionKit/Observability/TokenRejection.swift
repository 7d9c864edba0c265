import Crypto
import Foundation

/// Why the engine ignored what a request sent under the session's name. Each case is a value
/// of the `reason` dimension of `sessionkit_rejected_tokens_total` and of the security-event
/// log line, so the set is fixed and small.
enum TokenRejection: String, Error, CaseIterable {
    /// The cookie or header appeared more than once.
    case duplicate
    /// Longer than any token or sealed cookie can be.
    case oversized
    /// Not a token at all (wrong length or alphabet).
    case malformed
    /// The signature (signed tokens) or the authentication tag (sealed cookies) does not match.
    case forged
    /// Signed or sealed with a key ID the key ring does not hold: a retired (revoked) key, or
    /// a forgery that guessed the format.
    case unknownKey = "unknown_key"
    /// A sealed cookie its user's revocation epoch has ended (sign-out everywhere).
    case revoked
    /// A sealed cookie past its own expiry: normal ageing, not an attack.
    case expired

    /// Whether the engine logs it as a security event (`expired` is only normal ageing).
    var isSecurityEvent: Bool { self != .expired }

    /// A correlation reference for what was sent: the first 12 hex digits of its SHA-256, the
    /// same length as ``SessionStorageID/logPrefix``. Repeated attempts with one value share it;
    /// it reveals nothing about the value.
    static func reference(for raw: Substring) -> String {
        SessionStorageID(digest: SHA256.hash(data: Array(raw.utf8))).logPrefix
    }
}
