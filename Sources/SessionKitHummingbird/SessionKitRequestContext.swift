public import Hummingbird
public import SessionKit

/// A Hummingbird request context that carries a session.
///
/// Add one stored property to your context and the middleware fills it in:
/// ```swift
/// struct AppContext: SessionKitRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var session: SessionHandle = .inactive
///     init(source: Source) { coreContext = .init(source: source) }
/// }
/// ```
/// Handlers then use `try await context.session.get(.cart)`.
public protocol SessionKitRequestContext: RequestContext {
    /// This request's session; `SessionHandle.inactive` until ``SessionKitMiddleware`` runs.
    var session: SessionHandle { get set }
}

/// A ready-made context with nothing but a session, for apps that need no other per-request state.
public struct BasicSessionKitRequestContext: SessionKitRequestContext {
    /// Hummingbird's own per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// This request's session.
    public var session: SessionHandle

    /// Creates the context for a new request.
    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.session = .inactive
    }
}
