/// How the session cookie is named and which attributes it carries.
///
/// The defaults are the safe ones: `__Host-id`, `Secure`, `HttpOnly`, `SameSite=Lax`,
/// `Path=/`, no `Domain`, and no expiry (the cookie ends with the browser session unless the
/// session asked for "remember me"). The name says nothing about the library or framework.
///
/// Every combination is checked when the engine is created (``validate()``): a `__Host-`
/// name without `Secure` or with a `Domain` or another `Path`, a `__Secure-` name without
/// `Secure`, `SameSite=None` without `Secure`, and any `;`, CR, LF or control character in a
/// name or attribute fail with a ``SessionConfigurationError`` instead of producing a header
/// a browser would ignore or misread.
public struct SessionCookieOptions: Sendable, Equatable {
    /// The `SameSite` attribute.
    public enum SameSite: String, Sendable, Equatable {
        /// Sent on same-site requests and top-level cross-site navigations (the default).
        case lax = "Lax"
        /// Sent on same-site requests only.
        case strict = "Strict"
        /// Sent everywhere; requires `Secure`.
        case none = "None"
    }

    /// The cookie name (default `__Host-id`).
    public var name: String
    /// Whether the cookie is only sent over HTTPS (default `true`).
    public var secure: Bool
    /// Whether scripts are denied access to the cookie (default `true`).
    public var httpOnly: Bool
    /// The `SameSite` attribute (default `.lax`).
    public var sameSite: SameSite
    /// The `Path` attribute (default `/`).
    public var path: String
    /// The `Domain` attribute (default none: the cookie stays on the exact host).
    public var domain: String?
    /// Whether to add `Partitioned` (CHIPS), for cookies used inside third-party frames.
    public var partitioned: Bool

    /// Creates cookie options; the defaults are the secure production settings.
    public init(
        name: String = "__Host-id",
        secure: Bool = true,
        httpOnly: Bool = true,
        sameSite: SameSite = .lax,
        path: String = "/",
        domain: String? = nil,
        partitioned: Bool = false
    ) {
        self.name = name
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
        self.path = path
        self.domain = domain
        self.partitioned = partitioned
    }

    /// Options for plain-HTTP development on loopback: name `id`, not `Secure`. Browsers drop
    /// `Secure` cookies on `http://127.0.0.1`, so local demos need this; never use it in
    /// production.
    public static var insecureLocalDevelopment: SessionCookieOptions {
        SessionCookieOptions(name: "id", secure: false)
    }

    /// Checks the options; throws a ``SessionConfigurationError`` that says what to change.
    public func validate() throws {
        guard !name.isEmpty else { throw SessionConfigurationError("the cookie name is empty") }
        guard name.utf8.allSatisfy(Self.isTokenCharacter) else {
            throw SessionConfigurationError(
                "the cookie name \(String(reflecting: name)) contains a character not allowed in a cookie name (separators, spaces, ';', '=', control characters)"
            )
        }
        try Self.checkAttribute("Path", path)
        guard path.hasPrefix("/") else { throw SessionConfigurationError("the cookie Path must start with '/'") }
        if let domain {
            try Self.checkAttribute("Domain", domain)
            guard !domain.isEmpty else { throw SessionConfigurationError("the cookie Domain is empty; use nil for none") }
        }
        if sameSite == .none && !secure {
            throw SessionConfigurationError("SameSite=None requires Secure (browsers reject it otherwise)")
        }
        if partitioned && !secure {
            throw SessionConfigurationError("Partitioned requires Secure")
        }
        // Browsers match the prefixes case-insensitively (RFC 6265bis), so must this check.
        if Self.hasPrefix(name, "__host-") {
            guard secure else { throw SessionConfigurationError("a __Host- cookie requires Secure; use the name \"id\" for plain-HTTP development") }
            guard domain == nil else { throw SessionConfigurationError("a __Host- cookie must not have a Domain") }
            guard path == "/" else { throw SessionConfigurationError("a __Host- cookie requires Path=/") }
        }
        if Self.hasPrefix(name, "__secure-") && !secure {
            throw SessionConfigurationError("a __Secure- cookie requires Secure")
        }
    }

    /// Whether `name` starts with the lowercase ASCII `prefix`, ignoring ASCII case.
    static func hasPrefix(_ name: String, _ prefix: String) -> Bool {
        let bytes = Array(name.utf8)
        let expected = Array(prefix.utf8)
        guard bytes.count >= expected.count else { return false }
        return zip(bytes, expected).allSatisfy { byte, lower in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == lower
        }
    }

    private static func checkAttribute(_ attribute: String, _ value: String) throws {
        for byte in value.utf8 where byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: ";") {
            throw SessionConfigurationError(
                "the cookie \(attribute) \(String(reflecting: value)) contains ';', CR, LF or a control character (byte 0x\(String(byte, radix: 16)))"
            )
        }
        guard value.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw SessionConfigurationError("the cookie \(attribute) \(String(reflecting: value)) contains non-ASCII characters")
        }
    }

    /// RFC 9110 `tchar`: the characters allowed in a cookie name.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
