import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SessionKitTesting

/// A one-cookie jar for the session cookie: keeps the value a response set and sends it back
/// as `Cookie: name=value`, the way a browser would; a deleting cookie empties it.
public struct CookieJar: Sendable {
    /// The session cookie's name.
    public let name: String
    /// The value held, if any.
    public var value: String?
    /// Sent as `User-Agent` with every request when set (to tell "devices" apart).
    public var userAgent: String?

    /// Creates a jar, optionally holding a value already.
    public init(name: String, value: String? = nil, userAgent: String? = nil) {
        self.name = name
        self.value = value
        self.userAgent = userAgent
    }

    /// The request fields: `extra`, plus the cookie and the user agent.
    public func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var fields = extra
        if let value { fields.append(HTTPField(name: .cookie, value: "\(name)=\(value)")) }
        if let userAgent { fields[.userAgent] = userAgent }
        return fields
    }

    /// Takes the session cookie from a response, if it set one; a deleting cookie empties the jar.
    @discardableResult
    public mutating func update(from response: TestResponse) -> SetCookie? {
        guard let cookie = sessionSetCookie(in: response, name: name) else { return nil }
        value = cookie.isDeletion ? nil : cookie.value
        return cookie
    }
}

/// All `Set-Cookie` fields of a response for the cookie `name`, parsed.
public func sessionSetCookies(in response: TestResponse, name: String) -> [SetCookie] {
    response.headers[values: .setCookie].compactMap(SetCookie.init).filter { $0.name == name }
}

/// The first `Set-Cookie` of a response for the cookie `name` (nil when there is none).
public func sessionSetCookie(in response: TestResponse, name: String) -> SetCookie? {
    sessionSetCookies(in: response, name: name).first
}

extension TestResponse {
    /// The body as UTF-8 text.
    public var text: String { String(buffer: body) }

    /// The body parsed as a JSON object (`nil` when it is not one).
    public var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// The body parsed as a JSON array of objects (`nil` when it is not one).
    public var jsonArray: [[String: Any]]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]]
    }

    /// Whether the response has any `Set-Cookie` field at all.
    public var hasSetCookie: Bool { !headers[values: .setCookie].isEmpty }
}

/// Header fields from name/value pairs.
public func fields(_ pairs: KeyValuePairs<HTTPField.Name, String>) -> HTTPFields {
    var result = HTTPFields()
    for (name, value) in pairs { result.append(HTTPField(name: name, value: value)) }
    return result
}

/// `application/x-www-form-urlencoded` encoding of form fields.
public func formBody(_ fields: KeyValuePairs<String, String>) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return fields.map { key, value in
        "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
    }.joined(separator: "&")
}

/// The text between `prefix` and the next `terminator` in `text`.
public func extract(_ text: String, after prefix: String, until terminator: Character) -> String? {
    guard let start = text.range(of: prefix)?.upperBound else { return nil }
    guard let end = text[start...].firstIndex(of: terminator) else { return nil }
    return String(text[start..<end])
}
