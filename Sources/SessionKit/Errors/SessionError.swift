import HTTPTypes

/// Errors the engine raises while handling a request's session. Each carries the HTTP status
/// and header fields an adapter answers with, so Hummingbird and Vapor map them identically.
public enum SessionError: Error, Sendable, Equatable {
    /// The store failed or timed out; the request cannot be answered without risking data
    /// loss or a silent sign-out. Answered with 503 and `Retry-After`.
    case storeUnavailable(SessionStoreError)
    /// A stored value could not be decoded as the type the key declares.
    case typeMismatch(key: String, expected: String)
    /// A value could not be encoded as JSON.
    case encodingFailed(key: String)
    /// Versioned mode: another request changed the session since it was read. Answered 409.
    case conflict
    /// The user already has the maximum number of sessions and the policy is to refuse.
    case tooManySessions(limit: Int)
    /// The session was used after the request's commit, or by a request the middleware
    /// never saw (a programming error in the app).
    case notActive
    /// A sealed cookie would exceed what browsers keep (name + value over `limit` bytes).
    /// Answered 500 instead of silently dropping the cookie; move large data to a server store.
    case cookieTooLarge(size: Int, limit: Int)
    /// The handler asked for something the configured store cannot do (for example listing a
    /// user's sessions on a store without ``SessionUserIndexing``). A programming error: 500.
    case unsupported(String)
    /// The app tried to set or remove a key under SessionKit's reserved `_sk.` prefix
    /// (typically a key name derived from input). Answered 400; nothing is written.
    case reservedKey(String)

    /// The HTTP status an adapter answers with.
    public var status: HTTPResponse.Status {
        switch self {
        case .storeUnavailable: return .serviceUnavailable
        case .typeMismatch, .encodingFailed, .notActive, .cookieTooLarge, .unsupported: return .internalServerError
        case .conflict: return .conflict
        case .tooManySessions: return .forbidden
        case .reservedKey: return .badRequest
        }
    }

    /// Extra response fields for the error (`Retry-After` for 503).
    public func responseFields(retryAfterSeconds: Int) -> HTTPFields {
        var fields = HTTPFields()
        if status == .serviceUnavailable {
            fields[.retryAfter] = String(retryAfterSeconds)
        }
        fields[.cacheControl] = "no-store"
        return fields
    }

    /// A message safe to show a client: no tokens, no store internals.
    public var publicMessage: String {
        switch self {
        case .storeUnavailable: return "Session storage is temporarily unavailable. Please retry."
        case .typeMismatch, .encodingFailed, .notActive, .unsupported: return "Internal session error."
        case .conflict: return "The session was changed by another request. Please retry."
        case .tooManySessions(let limit): return "Too many active sessions (limit \(limit)). Sign out elsewhere first."
        case .reservedKey: return "This session key name is reserved."
        case .cookieTooLarge(let size, let limit): return "The session cookie would be \(size) bytes, over the \(limit)-byte limit."
        }
    }
}

/// A configuration that cannot be used safely; thrown when the engine is created, never at
/// request time.
public struct SessionConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and how to fix it.
    public let message: String

    /// Creates an error with an explanation.
    public init(_ message: String) {
        self.message = message
    }

    /// The explanation.
    public var description: String { "SessionKit configuration error: \(message)" }
}
