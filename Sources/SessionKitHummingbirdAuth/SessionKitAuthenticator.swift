public import Hummingbird
public import HummingbirdAuth
public import SessionKit
public import SessionKitHummingbird

/// Resolves the session's signed-in user into hummingbird-auth's `context.identity`, in the
/// style of hummingbird-auth's `SessionAuthenticator`, so handlers that use
/// `context.identity` or `context.requireIdentity()` keep working on a SessionKit session.
///
/// Add it after `SessionKitMiddleware`, on a context that conforms to both
/// `SessionKitRequestContext` and `AuthRequestContext` (or use
/// ``BasicSessionKitAuthRequestContext``):
///
/// ```swift
/// router.add(middleware: SessionKitMiddleware(engine: engine))
/// router.add(middleware: SessionKitAuthenticator(users: users))  // a UserSessionRepository<String, User>
/// router.get("/me") { _, context in try context.requireIdentity().name }
/// ```
///
/// The repository (or closure) receives the session's user ID, the one a handler signed in
/// with `SessionHandle.signIn(userID:rememberMe:)`, which replaces hummingbird-auth's
/// `context.sessions.createSession(_:)`: it rotates the token and kills the old one at once.
/// A request without a signed-in session gets no identity and costs no store call when it
/// carries no cookie; a store that fails answers 503 with `Retry-After`, never an anonymous
/// request.
public struct SessionKitAuthenticator<
    Context: AuthRequestContext & SessionKitRequestContext,
    Repository: UserSessionRepository<String, Context.Identity>
>: AuthenticatorMiddleware {
    /// The identity the authenticator attaches to the context.
    public typealias Identity = Context.Identity

    /// The users, looked up by the session's user ID.
    public let users: Repository

    /// Creates the authenticator over a repository of users keyed by their user ID.
    public init(users: Repository, context: Context.Type = Context.self) {
        self.users = users
    }

    /// Creates the authenticator over a closure that looks a user up by their user ID.
    public init(
        context: Context.Type = Context.self,
        getUser: @escaping @Sendable (String, UserRepositoryContext) async throws -> Context.Identity?
    ) where Repository == UserSessionClosureRepository<String, Context.Identity> {
        self.users = UserSessionClosureRepository(getUser)
    }

    /// The user the session is signed in as, or `nil` for an anonymous session or an unknown
    /// user.
    public func authenticate(request: Request, context: Context) async throws -> Context.Identity? {
        guard let userID = try await context.session.userID else { return nil }
        return try await users.getUser(from: userID, context: UserRepositoryContext(logger: context.logger))
    }
}

/// A request context with a SessionKit session and a hummingbird-auth identity, for apps
/// whose context needs nothing else.
public struct BasicSessionKitAuthRequestContext<Identity: Sendable>: SessionKitRequestContext, AuthRequestContext {
    /// Hummingbird's core context storage.
    public var coreContext: CoreRequestContextStorage
    /// This request's session; set by `SessionKitMiddleware`.
    public var session: SessionHandle
    /// The signed-in user; set by ``SessionKitAuthenticator``.
    public var identity: Identity?

    /// Creates the context for a request.
    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.session = .inactive
        self.identity = nil
    }
}
