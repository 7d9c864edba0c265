import Foundation

/// A typed name for one value in a session.
///
/// Declare keys once and use them everywhere:
/// ```swift
/// extension SessionKey where Value == Cart {
///     static let cart = SessionKey("cart")
/// }
/// let cart = try await session.get(.cart)
/// ```
/// Names starting with `_sk.` are reserved for SessionKit's own values (flash, CSRF,
/// remember-me): setting or removing such a key throws ``SessionError/reservedKey(_:)`` (400),
/// so an app that derives key names from input cannot be made to set `_sk.persistent`.
/// A name must also be in Unicode Normalization Form C and free of NUL (otherwise
/// ``SessionError/invalidKey(_:)``, 400): stores compare names by bytes, Swift by canonical
/// equivalence, and NFC is the one spelling on which the two agree. Any other name works on
/// every store: quotes, backslashes, dots, `$`, brackets, `%`, emoji, long names.
public struct SessionKey<Value: Codable & Sendable>: Sendable, Hashable {
    /// The name the value is stored under.
    public let name: String
    /// Set only for SessionKit's own keys, which may use the reserved prefix.
    let isSessionKitOwn: Bool

    /// Creates a key with the given name.
    public init(_ name: String) {
        self.name = name
        self.isSessionKitOwn = false
    }

    /// One of SessionKit's own keys, under a reserved name.
    init(reserved name: String) {
        self.name = name
        self.isSessionKitOwn = true
    }

    /// Keys are equal when their names are.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.name == rhs.name }

    /// Hashes the name.
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// Whether an app key uses the reserved `_sk.` prefix (compared by bytes).
    var isReservedName: Bool {
        !isSessionKitOwn && name.utf8.starts(with: ReservedKeys.prefix.utf8)
    }

    /// Why the engine refuses to set or remove this key, if it does.
    var refusal: SessionError? {
        if isReservedName { return .reservedKey(name) }
        let bytes = name.utf8
        if bytes.contains(0) { return .invalidKey(name) }
        // ASCII is always NFC; only other names pay for the normalisation.
        if !bytes.allSatisfy({ $0 < 0x80 }), !name.precomposedStringWithCanonicalMapping.utf8.elementsEqual(bytes) {
            return .invalidKey(name)
        }
        return nil
    }
}

/// The names SessionKit itself stores values under.
enum ReservedKeys {
    static let prefix = "_sk."
    static let flash = "_sk.flash"
    static let csrf = "_sk.csrf"
    static let persistent = "_sk.persistent"
}
