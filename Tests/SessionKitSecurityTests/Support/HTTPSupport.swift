import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SessionDemoApp
import SessionKitTesting
import Testing

/// A one-cookie jar for the session cookie: sends back what the last response set, like a
/// browser; a deleting cookie empties it.
struct CookieJar: Sendable {
    let name: String
    var value: String?
    var userAgent: String?

    init(name: String, value: String? = nil, userAgent: String? = nil) {
        self.name = name
        self.value = value
        self.userAgent = userAgent
    }

    func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var fields = extra
        if let value { fields.append(HTTPField(name: .cookie, value: "\(name)=\(value)")) }
        if let userAgent { fields[.userAgent] = userAgent }
        return fields
    }

    mutating func update(from response: TestResponse) {
        guard let cookie = sessionSetCookie(in: response, name: name) else { return }
        value = cookie.isDeletion ? nil : cookie.value
    }
}

/// The `Set-Cookie` fields of a response for the cookie `name`, parsed.
func sessionSetCookies(in response: TestResponse, name: String) -> [SetCookie] {
    response.headers[values: .setCookie].compactMap(SetCookie.init).filter { $0.name == name }
}

func sessionSetCookie(in response: TestResponse, name: String) -> SetCookie? {
    sessionSetCookies(in: response, name: name).first
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    var jsonArray: [[String: Any]]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]]
    }

    var hasSetCookie: Bool { !headers[values: .setCookie].isEmpty }

    /// `user` of a `/api/me` answer (`nil` for anonymous or a non-JSON body).
    var user: String? { jsonObject?["user"] as? String }

    /// Whether this is a `/api/me` answer for an anonymous visitor with an empty session.
    var isAnonymousMe: Bool {
        guard let json = jsonObject else { return false }
        return json["user"] is NSNull && json["visits"] as? Int == 0
    }
}

/// Request fields from name/value pairs.
func fields(_ pairs: KeyValuePairs<HTTPField.Name, String>) -> HTTPFields {
    var result = HTTPFields()
    for (name, value) in pairs { result.append(HTTPField(name: name, value: value)) }
    return result
}

/// `application/x-www-form-urlencoded` encoding.
func formBody(_ fields: KeyValuePairs<String, String>) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return fields.map { key, value in
        "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
    }.joined(separator: "&")
}

func extract(_ text: String, after prefix: String, until terminator: Character) -> String? {
    guard let start = text.range(of: prefix)?.upperBound else { return nil }
    guard let end = text[start...].firstIndex(of: terminator) else { return nil }
    return String(text[start..<end])
}

/// The hidden `_csrf` field of a demo page.
func csrfToken(in page: String) -> String? {
    extract(page, after: "name=\"_csrf\" value=\"", until: "\"")
}

enum Demo {
    static let json: HTTPFields = [.contentType: "application/json"]
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    static func loginBody(user: String, password: String = DemoApplication.password) -> String {
        "{\"user\":\"\(user)\",\"password\":\"\(password)\"}"
    }
}

/// Lower-case hex SHA-256 of a token's text: what a server-side store keys the session by.
func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
}

/// Unpadded base64url decoding (test-side, independent of SessionKit's).
func base64URLDecode(_ text: String) -> [UInt8]? {
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while standard.count % 4 != 0 { standard += "=" }
    return Data(base64Encoded: standard).map(Array.init)
}

/// A random 43-character base64url string that SessionKit accepts as a well-formed token
/// (canonical last character) but never issued.
func randomWellFormedToken() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    return Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

func isUUIDShaped(_ text: String) -> Bool {
    text.range(of: "^[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}$", options: .regularExpression) != nil
}

func isBase64URLToken(_ text: String, length: Int) -> Bool {
    text.utf8.count == length && text.utf8.allSatisfy(SecretScanner.isBase64URL)
}
