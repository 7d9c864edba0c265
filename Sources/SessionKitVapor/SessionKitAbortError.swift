import HTTPTypes
import SessionKit
import Vapor

/// A handler's `AbortError` with the session's header fields added: what
/// ``SessionKitMiddleware`` throws after committing the changes the handler made before it
/// threw (a flash message set before a 4xx).
///
/// Vapor's `AbortError.headers` cannot be changed on an arbitrary error, so the middleware
/// wraps rather than re-creates it: status, reason, identifier, source and log level are the
/// original's, `ErrorMiddleware` renders and logs it as it would the original, and an outer
/// middleware reaches the original through ``underlying``.
public struct SessionKitAbortError: AbortError, DebuggableError {
    /// The error the handler threw.
    public let underlying: any AbortError
    /// The original error's headers followed by the session's fields (`Set-Cookie`, `Vary`,
    /// `Cache-Control`), merged as on a normal response.
    public let headers: HTTPHeaders

    /// Wraps `underlying`, adding the session's response fields to its headers.
    public init(_ underlying: any AbortError, sessionFields: HTTPFields) {
        self.underlying = underlying
        var headers = underlying.headers
        headers.mergeSessionFields(sessionFields)
        self.headers = headers
    }

    /// The original error's status.
    public var status: HTTPResponseStatus { underlying.status }
    /// The original error's reason.
    public var reason: String { underlying.reason }
    /// The original error's identifier when it has one, else the status code (Vapor's default).
    public var identifier: String { (underlying as? any DebuggableError)?.identifier ?? String(status.code) }
    /// Where the original error was thrown, when it recorded it.
    public var source: ErrorSource? { (underlying as? any DebuggableError)?.source }
    /// The original error's log level (Vapor's default for others).
    public var logLevel: Logger.Level { (underlying as? any DebuggableError)?.logLevel ?? .warning }
}
