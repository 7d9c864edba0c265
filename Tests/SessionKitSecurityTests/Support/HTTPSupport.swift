import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SessionDemoApp
import HTTPTestSupport
import SessionKitTesting
import Testing

extension TestResponse {
    /// `user` of a `/api/me` answer (`nil` for anonymous or a non-JSON body).
    var user: String? { jsonObject?["user"] as? String }

    /// Whether this is a `/api/me` answer for an anonymous visitor with an empty session.
    var isAnonymousMe: Bool {
        guard let json = jsonObject else { return false }
        return json["user"] is NSNull && json["visits"] as? Int == 0
    }
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
