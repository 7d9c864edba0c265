/// A typed name for one value in a session.
///
/// Declare keys once and use them everywhere:
/// ```swift
/// extension SessionKey where Value == Cart {
///     static let cart = SessionKey("cart")
/// }
/// let cart = try await session.get(.cart)
/// ```
/// Names starting with `_sk.` are reserved for SessionKit's own values (flash, CSRF, remember-me).
public struct SessionKey<Value: Codable & Sendable>: Sendable, Hashable {
    /// The name the value is stored under.
    public let name: String

    /// Creates a key with the given name.
    public init(_ name: String) {
        self.name = name
    }
}

/// The names SessionKit itself stores values under.
enum ReservedKeys {
    static let prefix = "_sk."
    static let flash = "_sk.flash"
    static let csrf = "_sk.csrf"
    static let persistent = "_sk.persistent"
}
