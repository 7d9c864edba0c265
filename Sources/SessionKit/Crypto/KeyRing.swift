import Crypto
import Foundation

/// The secrets SessionKit seals cookies, signs tokens and derives CSRF keys with.
///
/// A ring has one **current** key (used for everything new), any number of **previous** keys
/// (still accepted, so values made before a rotation keep working and are re-issued under the
/// current key), and a list of **revoked** key names (rejected like forged input). Each key has
/// a name; values carry a 4-byte key ID derived from the name, so the right key is picked
/// directly, never by trial decryption.
///
/// No secret is used directly: each purpose gets its own subkey through HKDF-SHA256
/// (``Purpose``), so the sealing key never doubles as the signing key.
///
/// Load it from the environment at start-up:
/// ```sh
/// export SESSIONKIT_KEYS="2026-11=$(openssl rand -base64 32),2026-05=…,-2025-11"
/// ```
/// The first entry is current, later ones are previous, a leading `-` revokes a name.
public struct KeyRing: Sendable {
    /// What a derived subkey is for.
    public enum Purpose: String, Sendable, CaseIterable {
        /// Sealing client-side session cookies (AES-GCM).
        case cookieSealing = "sessionkit/v1/cookie-sealing"
        /// Signing server-side session tokens (HMAC-SHA256).
        case tokenSigning = "sessionkit/v1/token-signing"
        /// CSRF tokens derived by the application (HMAC-SHA256).
        case csrf = "sessionkit/v1/csrf"
    }

    /// One named secret.
    public struct Key: Sendable {
        /// The key's name (e.g. its creation month).
        public let name: String
        /// The 4-byte identifier values carry to say which key made them.
        public let id: UInt32
        let subkeys: [Purpose: SymmetricKey]

        /// Creates a key; the secret must be at least 32 bytes and not a placeholder (all zeros,
        /// one repeated byte: fewer than 8 distinct byte values).
        public init(name: String, secret: [UInt8]) throws(SessionConfigurationError) {
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") }) else {
                throw SessionConfigurationError("key name \(String(reflecting: name)) must be non-empty printable ASCII without spaces, ',' or '='")
            }
            guard secret.count >= 32 else {
                throw SessionConfigurationError(
                    "key \(name) has \(secret.count) bytes; keys need at least 32 random bytes. Generate one with: openssl rand -base64 32"
                )
            }
            // 32 random bytes hold about 25 distinct values; fewer than 8 means a placeholder
            // (all zeros, one repeated character), not a key.
            guard Set(secret).count >= 8 else {
                throw SessionConfigurationError(
                    "key \(name) does not look random (\(Set(secret).count) distinct byte values). Generate one with: openssl rand -base64 32"
                )
            }
            self.init(checkedName: name, secret: secret)
        }

        /// Derives the subkeys of a key whose name and length were already checked.
        init(checkedName name: String, secret: [UInt8]) {
            self.name = name
            self.id = KeyRing.keyID(forName: name)
            let master = SymmetricKey(data: secret)
            var subkeys: [Purpose: SymmetricKey] = [:]
            for purpose in Purpose.allCases {
                subkeys[purpose] = HKDF<SHA256>.deriveKey(
                    inputKeyMaterial: master,
                    salt: Array("SessionKit key ring".utf8),
                    info: Array(purpose.rawValue.utf8),
                    outputByteCount: 32
                )
            }
            self.subkeys = subkeys
        }

        /// The subkey for one purpose.
        public func subkey(for purpose: Purpose) -> SymmetricKey {
            // Every purpose is derived in init, so the lookup cannot miss; fall back to a
            // fresh derivation-free failure value rather than trapping.
            subkeys[purpose] ?? SymmetricKey(size: .bits256)
        }
    }

    /// The key new values are made with.
    public let current: Key
    /// Older keys, still accepted.
    public let previous: [Key]
    /// Names of keys that must be rejected.
    public let revokedNames: Set<String>
    private let byID: [UInt32: Key]
    private let revokedIDs: Set<UInt32>

    /// Creates a ring; fails when names repeat, a name is both active and revoked, or two
    /// names map to the same key ID.
    public init(current: Key, previous: [Key] = [], revokedNames: Set<String> = []) throws(SessionConfigurationError) {
        var byID: [UInt32: Key] = [:]
        for key in [current] + previous {
            if revokedNames.contains(key.name) {
                throw SessionConfigurationError("key \(key.name) is listed as both active and revoked")
            }
            if let clash = byID[key.id] {
                throw SessionConfigurationError("keys \(clash.name) and \(key.name) have the same name or key ID; rename one")
            }
            byID[key.id] = key
        }
        self.current = current
        self.previous = previous
        self.revokedNames = revokedNames
        self.byID = byID
        self.revokedIDs = Set(revokedNames.map(KeyRing.keyID(forName:)))
    }

    /// Looks up an accepted key by the ID a value carries; `nil` for unknown or revoked IDs.
    public func key(withID id: UInt32) -> Key? {
        guard !revokedIDs.contains(id) else { return nil }
        return byID[id]
    }

    /// Derives the 4-byte key ID for a key name.
    static func keyID(forName name: String) -> UInt32 {
        let digest = SHA256.hash(data: Array("SessionKit key id:\(name)".utf8))
        return digest.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).bigEndian }
    }

    /// Parses a ring from text: comma-separated `name=secret` entries, the first one current;
    /// `-name` revokes a name. Secrets are base64 (standard or url-safe) or hex, prefixed
    /// `base64:` / `hex:` or detected (64+ hex digits are hex).
    public static func parse(_ text: String) throws(SessionConfigurationError) -> KeyRing {
        var keys: [Key] = []
        var revoked: Set<String> = []
        for rawEntry in text.split(separator: ",") {
            let entry = rawEntry.trimmingCharacters(in: .whitespacesAndNewlines)
            if entry.isEmpty { continue }
            if entry.hasPrefix("-") {
                revoked.insert(String(entry.dropFirst()))
                continue
            }
            guard let equals = entry.firstIndex(of: "=") else {
                throw SessionConfigurationError(
                    "key entry \(keys.count + 1) has no '=': write name=secret, with a secret from: openssl rand -base64 32"
                )
            }
            let name = String(entry[..<equals])
            let secretText = String(entry[entry.index(after: equals)...])
            guard let secret = decodeSecret(secretText) else {
                throw SessionConfigurationError("key \(name): the secret is neither base64 nor hex. Generate one with: openssl rand -base64 32")
            }
            keys.append(try Key(name: name, secret: secret))
        }
        guard let first = keys.first else {
            throw SessionConfigurationError("no key configured. Set SESSIONKIT_KEYS=\"k1=$(openssl rand -base64 32)\"")
        }
        return try KeyRing(current: first, previous: Array(keys.dropFirst()), revokedNames: revoked)
    }

    /// Reads a ring from an environment variable (default `SESSIONKIT_KEYS`).
    public static func fromEnvironment(_ variable: String = "SESSIONKIT_KEYS", environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(SessionConfigurationError) -> KeyRing
    {
        guard let text = environment[variable], !text.isEmpty else {
            throw SessionConfigurationError("\(variable) is not set. Set it to \"k1=<secret>\" with a secret from: openssl rand -base64 32")
        }
        return try parse(text)
    }

    /// Makes a ring with one fresh random key, for tests and local development only: values
    /// sealed with it die with the process.
    public static func ephemeral(name: String = "ephemeral") -> KeyRing {
        let secret = SecureRandom.bytes(32)
        return KeyRing(single: Key(checkedName: name, secret: secret))
    }

    /// A ring of exactly one key: nothing can clash.
    private init(single key: Key) {
        self.current = key
        self.previous = []
        self.revokedNames = []
        self.byID = [key.id: key]
        self.revokedIDs = []
    }

    static func decodeSecret(_ text: String) -> [UInt8]? {
        if text.hasPrefix("hex:") { return decodeHex(String(text.dropFirst(4))) }
        if text.hasPrefix("base64:") { return decodeBase64(String(text.dropFirst(7))) }
        if text.count >= 64, let hex = decodeHex(text) { return hex }
        return decodeBase64(text)
    }

    private static func decodeHex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func decodeBase64(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map { Array($0) }
    }
}
