import HTTPTypes

/// How a request's handler ended, as an adapter saw it. The engine's ``SessionEngine/finish(_:after:)``
/// turns it into what is committed, so both adapters follow one policy.
public enum HandlerOutcome: Sendable, Equatable {
    /// The handler returned a response: everything it did is committed.
    case returned
    /// The handler threw an error the framework answers with an HTTP status (Hummingbird's
    /// `HTTPResponseError`, Vapor's `AbortError`). Value changes (a flash message, a counter)
    /// and a `destroy()` are committed; a `signIn` or `regenerate()` is not, so a request that
    /// answers 4xx never changes who is signed in.
    case threwHTTPError
    /// The handler threw any other error: the request's session changes are discarded, like a
    /// rolled-back transaction (atomic changes already written by ``SessionHandle/modify(_:_:)``
    /// or ``SessionHandle/increment(_:by:)`` stay: they were saved when they returned).
    case threw
}

/// What an adapter answers when the session fails: the same status, fields and message on
/// every framework.
public struct SessionFailureResponse: Sendable, Equatable {
    /// The HTTP status (503 for a store outage, 409 for a conflict, …).
    public let status: HTTPResponse.Status
    /// The fields to add (`Retry-After` for 503, `Cache-Control: no-store`).
    public let fields: HTTPFields
    /// A message safe to show a client: no tokens, no store internals.
    public let message: String
}

extension SessionEngine {
    /// Ends a request by the one outcome policy (see ``HandlerOutcome``) and returns the header
    /// fields to add to the response. Throws ``SessionError`` when a needed write fails: the
    /// adapter then answers ``failureResponse(for:)`` instead of pretending the change was saved.
    public func finish(_ handle: SessionHandle, after outcome: HandlerOutcome) async throws -> HTTPFields {
        switch outcome {
        case .returned:
            break
        case .threwHTTPError:
            handle.state.withLock { $0.dropPrivilegeChange() }
        case .threw:
            handle.state.withLock { $0.phase = .committed }
            return HTTPFields()
        }
        return try await commit(handle)
    }

    /// The response for a session failure, with this engine's `Retry-After`.
    public func failureResponse(for error: SessionError) -> SessionFailureResponse {
        SessionFailureResponse(
            status: error.status,
            fields: error.responseFields(retryAfterSeconds: configuration.retryAfterSeconds),
            message: error.publicMessage
        )
    }
}
