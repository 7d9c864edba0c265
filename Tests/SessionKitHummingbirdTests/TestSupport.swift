import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SessionKit
import SessionKitHummingbird
import SessionKitTesting

/// A one-cookie jar for the session cookie: keeps the value a response set and sends it back
/// as `Cookie: name=value`, the way a browser would.
struct CookieJar {
    /// The session cookie's name.
    let name: String
    /// The value held, if any.
    var value: String?
    /// Sent as `User-Agent` with every request when set (to tell "devices" apart).
    var userAgent: String?

    init(name: String, value: String? = nil, userAgent: String? = nil) {
        self.name = name
        self.value = value
        self.userAgent = userAgent
    }

    /// The request fields: `extra`, plus the cookie and the user agent.
    func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var fields = extra
        if let value {
            fields.append(HTTPField(name: .cookie, value: "\(name)=\(value)"))
        }
        if let userAgent {
            fields[.userAgent] = userAgent
        }
        return fields
    }

    /// Takes the session cookie from a response, if it set one; a deleting cookie empties the jar.
    @discardableResult
    mutating func update(from response: TestResponse) -> SetCookie? {
        guard let cookie = sessionSetCookie(in: response, name: name) else { return nil }
        value = cookie.isDeletion ? nil : cookie.value
        return cookie
    }
}

/// All `Set-Cookie` fields of a response for the cookie `name`, parsed.
func sessionSetCookies(in response: TestResponse, name: String) -> [SetCookie] {
    response.headers[values: .setCookie].compactMap(SetCookie.init).filter { $0.name == name }
}

/// The one `Set-Cookie` of a response for the cookie `name` (nil when there is none).
func sessionSetCookie(in response: TestResponse, name: String) -> SetCookie? {
    sessionSetCookies(in: response, name: name).first
}

extension TestResponse {
    /// The body as UTF-8 text.
    var text: String { String(buffer: body) }

    /// The body parsed as a JSON object (`nil` when it is not one).
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// The body parsed as a JSON array of objects (`nil` when it is not one).
    var jsonArray: [[String: Any]]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]]
    }

    /// Whether the response has any `Set-Cookie` field at all.
    var hasSetCookie: Bool { !headers[values: .setCookie].isEmpty }
}

extension TestClientProtocol {
    /// Sends a request with the jar's cookie and keeps any session cookie the response sets.
    func send(
        _ uri: String,
        _ method: HTTPRequest.Method = .get,
        jar: inout CookieJar,
        headers: HTTPFields = [:],
        body: String? = nil
    ) async throws -> TestResponse {
        let response = try await execute(
            uri: uri,
            method: method,
            headers: jar.headers(headers),
            body: body.map { ByteBuffer(string: $0) }
        )
        jar.update(from: response)
        return response
    }
}

/// `application/x-www-form-urlencoded` encoding of form fields.
func formBody(_ fields: KeyValuePairs<String, String>) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return fields.map { key, value in
        "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
    }.joined(separator: "&")
}

/// The text between `prefix` and the next `terminator` in `text`.
func extract(_ text: String, after prefix: String, until terminator: Character) -> String? {
    guard let start = text.range(of: prefix)?.upperBound else { return nil }
    guard let end = text[start...].firstIndex(of: terminator) else { return nil }
    return String(text[start..<end])
}

/// Header fields from name/value pairs (names that are not valid are a test bug).
func fields(_ pairs: KeyValuePairs<HTTPField.Name, String>) -> HTTPFields {
    var result = HTTPFields()
    for (name, value) in pairs { result.append(HTTPField(name: name, value: value)) }
    return result
}

/// An error that is not an `HTTPResponseError`.
struct BoomError: Error {}

/// The routes the adapter test apps share, over `BasicSessionRequestContext`:
///
/// | Route | What it does |
/// |---|---|
/// | `/plain` | never touches the session |
/// | `/read` | reads ``counter`` (`none` when unset) |
/// | `/whoami` | the signed-in user (`anonymous`) |
/// | `/counter` | increments ``counter`` |
/// | `/login?user=NAME&remember=1` | signs in (default `alice`), optionally remembered |
/// | `/regenerate` | new token, same data |
/// | `/logout` | destroys the session |
enum SharedTestRoutes {
    /// The counter the routes read and increment.
    static let counter = SessionKey<Int>("counter")

    /// Adds the shared routes and the SessionKit middleware for `engine` to `router`.
    static func add(to router: Router<SessionKitHummingbird.BasicSessionRequestContext>, engine: SessionEngine) {
        router.add(middleware: SessionKitMiddleware(engine: engine))
        router.get("/plain") { _, _ in "plain" }
        router.get("/read") { _, context in
            try await context.session.get(counter).map(String.init) ?? "none"
        }
        router.get("/whoami") { _, context in
            try await context.session.userID ?? "anonymous"
        }
        router.get("/counter") { _, context in
            let value = (try await context.session.get(counter) ?? 0) + 1
            try await context.session.set(counter, value)
            return String(value)
        }
        router.get("/login") { request, context in
            let user = request.uri.queryParameters.get("user") ?? "alice"
            let remember = request.uri.queryParameters.get("remember") == "1"
            try await context.session.signIn(userID: user, rememberMe: remember)
            return "signed in \(user)"
        }
        router.get("/regenerate") { _, context in
            try await context.session.regenerate()
            return "regenerated"
        }
        router.get("/logout") { _, context in
            try context.session.destroy()
            return "bye"
        }
    }
}
