import Foundation

/// Builds `Set-Cookie` values for the session cookie from validated options.
///
/// The fixed attribute suffix is rendered once at configuration time; a request only adds the
/// value and, for persistent cookies, `Max-Age` and `Expires`.
struct SetCookieBuilder: Sendable {
    let name: String
    private let attributes: String

    init(options: SessionCookieOptions) {
        self.name = options.name
        var attributes = "; Path=\(options.path)"
        if let domain = options.domain { attributes += "; Domain=\(domain)" }
        if options.secure { attributes += "; Secure" }
        if options.httpOnly { attributes += "; HttpOnly" }
        attributes += "; SameSite=\(options.sameSite.rawValue)"
        if options.partitioned { attributes += "; Partitioned" }
        self.attributes = attributes
    }

    /// A cookie carrying `value`; persistent (with `Max-Age` and `Expires`) when `expiresAt`
    /// is given, a browser-session cookie otherwise.
    func cookie(value: String, expiresAt: Date?, now: Date) -> String {
        guard let expiresAt else { return "\(name)=\(value)\(attributes)" }
        let maxAge = max(0, Int(expiresAt.timeIntervalSince(now).rounded(.down)))
        return "\(name)=\(value)\(attributes); Max-Age=\(maxAge); Expires=\(HTTPDate.format(expiresAt))"
    }

    /// A cookie that deletes the session cookie: same name, Path and Domain, empty value,
    /// `Max-Age=0` and an `Expires` in the past.
    func deletion() -> String {
        "\(name)=\(attributes); Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    }
}
