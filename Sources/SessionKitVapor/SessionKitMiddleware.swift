import HTTPTypes
import SessionKit
import Vapor

/// Vapor middleware that gives every request a lazily loaded SessionKit session and writes
/// back only what the handler changed.
///
/// ```swift
/// app.middleware.use(SessionKitMiddleware(engine: engine))
/// app.post("visit") { req async throws -> Int in
///     let visits = (try await req.sessionHandle.get(.visits) ?? 0) + 1
///     try await req.sessionHandle.set(.visits, visits)
///     return visits
/// }
/// ```
/// It is header plumbing only; the ``SessionKit/SessionEngine`` decides everything, exactly
/// as with the Hummingbird adapter:
/// - a ``SessionKit/SessionError`` (store down, conflict, session cap) becomes an `Abort` with
///   the same status and headers (`Retry-After` on 503);
/// - a handler that throws an `AbortError` still gets its session committed (a flash message
///   set before a 4xx survives) and the session's headers are added to the error;
/// - any other error discards the request's session changes.
public struct SessionKitMiddleware: AsyncMiddleware {
    /// The engine that makes the session decisions.
    public let engine: SessionEngine

    /// Creates the middleware around an engine.
    public init(engine: SessionEngine) {
        self.engine = engine
    }

    /// Runs the rest of the chain with a session and commits it.
    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let session = engine.begin(sessionFields(of: request.headers))
        request.storage[SessionHandleStorageKey.self] = session
        let response: Response
        do {
            response = try await next.respond(to: request)
        } catch let error as SessionError {
            throw abort(error)
        } catch let error as any AbortError {
            var headers = error.headers
            do {
                headers.mergeSessionFields(try await engine.commit(session))
            } catch let sessionError as SessionError {
                throw abort(sessionError)
            }
            throw Abort(error.status, headers: headers, reason: error.reason)
        }
        do {
            response.headers.mergeSessionFields(try await engine.commit(session))
        } catch let error as SessionError {
            throw abort(error)
        }
        return response
    }

    /// Copies only the request fields the engine reads (cookies, user agent, the token
    /// header), so a request that never touches its session costs no header conversion.
    private func sessionFields(of headers: HTTPHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for value in headers[.cookie] {
            fields.append(HTTPField(name: .cookie, value: value))
        }
        let agents = headers[.userAgent]
        if !agents.isEmpty {
            // Joined like HTTPFields joins repeated fields, so both adapters record the same value.
            fields[.userAgent] = agents.joined(separator: ", ")
        }
        if case .header(let name) = engine.configuration.transport {
            for value in headers[name.rawName] {
                fields.append(HTTPField(name: name, value: value))
            }
        }
        return fields
    }

    private func abort(_ error: SessionError) -> Abort {
        var headers = HTTPHeaders()
        for field in error.responseFields(retryAfterSeconds: engine.configuration.retryAfterSeconds) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        return Abort(HTTPResponseStatus(statusCode: error.status.code), headers: headers, reason: error.publicMessage)
    }
}

/// Where the middleware keeps the request's session.
struct SessionHandleStorageKey: StorageKey {
    typealias Value = SessionHandle
}

extension Request {
    /// This request's SessionKit session; ``SessionKit/SessionHandle/inactive`` (every call
    /// throws) when ``SessionKitMiddleware`` is not installed.
    ///
    /// Named `sessionHandle` because Vapor already owns `req.session` (its own
    /// `SessionsMiddleware` API) and `req.sessions`; the two can live side by side.
    public var sessionHandle: SessionHandle {
        storage[SessionHandleStorageKey.self] ?? .inactive
    }
}

extension HTTPHeaders {
    /// Adds the engine's session fields the way ``HTTPTypes/HTTPFields/mergeSessionFields(_:)``
    /// does for Hummingbird: `Cache-Control` replaced, `Vary` extended, the rest appended.
    mutating func mergeSessionFields(_ sessionFields: HTTPFields) {
        for field in sessionFields {
            switch field.name {
            case .cacheControl:
                replaceOrAdd(name: .cacheControl, value: HTTPFields.stricterCacheControl(first(name: .cacheControl), field.value))
            case .vary:
                let existing = self[.vary].flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
                if !existing.contains(field.value.lowercased()) && !existing.contains("*") { add(name: .vary, value: field.value) }
            default:
                add(name: field.name.rawName, value: field.value)
            }
        }
    }
}
