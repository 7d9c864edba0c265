public import Hummingbird
public import SessionKit

/// Hummingbird middleware that gives every request a lazily loaded session and writes back
/// only what the handler changed.
///
/// It does header plumbing only; every decision is the `SessionEngine`'s:
/// - before the handler: reads the token from the request fields (no store call);
/// - after the handler: commits the session and adds `Set-Cookie`, `Vary` and
///   `Cache-Control` when needed;
/// - errors: a `SessionError` (store down, conflict, session cap) becomes its
///   HTTP status with `Retry-After` for 503. What a handler's own error commits is the
///   engine's `HandlerOutcome` policy: after an `HTTPResponseError` (a 4xx, say)
///   value changes such as a flash message are kept but a sign-in or regenerate is not; any
///   other error discards the request's session changes, like a rolled-back transaction.
public struct SessionKitMiddleware<Context: SessionKitRequestContext>: RouterMiddleware {
    /// The engine that makes the session decisions.
    public let engine: SessionEngine

    /// Creates the middleware around an engine.
    public init(engine: SessionEngine) {
        self.engine = engine
    }

    /// Runs the handler with a session and ends it by the engine's outcome policy.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let session = engine.begin(request.headers)
        var context = context
        context.session = session
        var response: Response
        let outcome: HandlerOutcome
        do {
            response = try await next(request, context)
            outcome = .returned
        } catch let error as SessionError {
            throw httpError(for: error)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
            outcome = .threwHTTPError
        } catch {
            _ = try? await engine.finish(session, after: .threw)
            throw error
        }
        do {
            response.headers.mergeSessionFields(try await engine.finish(session, after: outcome))
        } catch let error as SessionError {
            throw httpError(for: error)
        }
        return response
    }

    private func httpError(for error: SessionError) -> HTTPError {
        let failure = engine.failureResponse(for: error)
        return HTTPError(failure.status, headers: failure.fields, message: failure.message)
    }
}
