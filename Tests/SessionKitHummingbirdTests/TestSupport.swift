import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SessionKit
import SessionKitHummingbird
import HTTPTestSupport
import SessionKitTesting

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

/// An error that is not an `HTTPResponseError`.
struct BoomError: Error {}

/// The routes the adapter test apps share, over `BasicSessionKitRequestContext`:
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
    static func add(to router: Router<SessionKitHummingbird.BasicSessionKitRequestContext>, engine: SessionEngine) {
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
