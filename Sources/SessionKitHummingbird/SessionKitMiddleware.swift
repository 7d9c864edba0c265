public import Hummingbird
public import SessionKit

/// Hummingbird middleware that gives every request a lazily loaded session and writes back
/// only what the handler changed.
///
/// It does header plumbing only; every decision is the ``SessionKit/SessionEngine``'s:
/// - before the handler: reads the token from the request fields (no store call);
/// - after the handler: commits the session and adds `Set-Cookie`, `Vary` and
///   `Cache-Control` when needed;
/// - errors: a ``SessionKit/SessionError`` (store down, conflict, session cap) becomes its
///   HTTP status with `Retry-After` for 503. A handler that throws an `HTTPResponseError`
///   (a 4xx, say) still gets its session committed, so a flash message set before the error
///   survives; any other error discards the request's session changes, like a rolled-back
///   transaction.
public struct SessionKitMiddleware<Context: SessionRequestContext>: RouterMiddleware {
    /// The engine that makes the session decisions.
    public let engine: SessionEngine

    /// Creates the middleware around an engine.
    public init(engine: SessionEngine) {
        self.engine = engine
    }

    /// Runs the handler with a session and commits it.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let session = engine.begin(request.headers)
        var context = context
        context.session = session
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as SessionError {
            throw httpError(for: error)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        do {
            response.headers.mergeSessionFields(try await engine.commit(session))
        } catch let error as SessionError {
            throw httpError(for: error)
        }
        return response
    }

    private func httpError(for error: SessionError) -> HTTPError {
        HTTPError(
            error.status,
            headers: error.responseFields(retryAfterSeconds: engine.configuration.retryAfterSeconds),
            message: error.publicMessage
        )
    }
}
