import SessionKit
import Vapor

/// Keeps Vapor's `req.auth` signed in across requests through the SessionKit session, in place
/// of Vapor's `SessionAuthenticator`, which needs Vapor's own `SessionsMiddleware`.
///
/// Register it after ``SessionKitMiddleware``; handlers keep using `req.auth.login(_:)`,
/// `req.auth.require(_:)` and `req.auth.logout(_:)` unchanged:
///
/// ```swift
/// app.middleware.use(SessionKitMiddleware(engine: engine))
/// app.middleware.use(SessionKitAuthenticator<User> { id, req in try await User.find(id, on: req.db) })
/// ```
///
/// Before the handler it reads the session's signed-in user ID and, if the lookup finds the
/// user, logs it into `req.auth`. After the handler it applies what the handler did to
/// `req.auth` with SessionKit's protections:
/// - a user logged in who is not the session's user is signed in with
///   `SessionHandle.signIn(userID:rememberMe:)`: a new token, the old one dead at once, and the
///   values dropped when another user was signed in;
/// - a user logged out (`req.auth.logout(User.self)`) ends the session
///   (`SessionHandle.destroy()`), so its cookie never authenticates again;
/// - a handler that throws changes nothing here (the engine's outcome policy applies), and a
///   store that fails answers 503 with `Retry-After`, never an anonymous page.
///
/// The user ID is `User.sessionID.description`. A session holds one signed-in user, so use one
/// authenticator, for one `SessionAuthenticatable` type, per route group.
public struct SessionKitAuthenticator<User: SessionAuthenticatable & SendableMetatype>: AsyncMiddleware {
    /// Finds the user a session's user ID names; `nil` when there is none (deleted, say).
    public typealias FindUser = @Sendable (User.SessionID, Request) async throws -> User?

    private let findUser: FindUser

    /// Creates the authenticator around a lookup of users by their session ID.
    public init(_ user: User.Type = User.self, findUser: @escaping FindUser) {
        self.findUser = findUser
    }

    /// Drives an app's existing `AsyncSessionAuthenticator` (the lookup it implements for
    /// Vapor's sessions) from the SessionKit session instead.
    public init<Authenticator: AsyncSessionAuthenticator>(_ authenticator: Authenticator)
    where Authenticator.User == User {
        self.findUser = { id, request in
            try await authenticator.authenticate(sessionID: id, for: request)
            return request.auth.get(User.self)
        }
    }

    /// Logs the session's user into `req.auth`, runs the chain, then applies the handler's log
    /// in or log out to the session.
    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if request.auth.has(User.self) {
            return try await next.respond(to: request)
        }
        let session = request.sessionHandle
        let signedIn = try await session.userID
        var authenticated = false
        if let signedIn, let id = User.SessionID(signedIn), let user = try await findUser(id, request) {
            request.auth.login(user)
            authenticated = true
        }
        let response = try await next.respond(to: request)
        if let user = request.auth.get(User.self) {
            let userID = user.sessionID.description
            if userID != signedIn {
                try await session.signIn(userID: userID)
            }
        } else if authenticated {
            try session.destroy()
        }
        return response
    }
}
