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
/// It is header plumbing only; the `SessionEngine` decides everything, exactly
/// as with the Hummingbird adapter:
/// - a `SessionError` (store down, conflict, session cap) becomes an `Abort` with
///   the same status and headers (`Retry-After` on 503);
/// - what a handler's own error commits is the engine's `HandlerOutcome` policy:
///   after an `AbortError` value changes (a flash message set before a 4xx) are kept, but a
///   sign-in or regenerate is not committed; the error comes back as a ``SessionKitAbortError``
///   that keeps the original (status, reason, identifier, source) and adds the session's headers;
/// - any other error discards the request's session changes.
public struct SessionKitMiddleware: AsyncMiddleware {
    /// The engine that makes the session decisions.
    public let engine: SessionEngine

    /// Creates the middleware around an engine.
    public init(engine: SessionEngine) {
        self.engine = engine
    }

    /// Runs the rest of the chain with a session and ends it by the engine's outcome policy.
    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let session = engine.begin(sessionFields(of: request.headers))
        request.storage[SessionHandleStorageKey.self] = session
        let response: Response
        do {
            response = try await next.respond(to: request)
        } catch let error as SessionError {
            throw abort(error)
        } catch let error as any AbortError {
            throw SessionKitAbortError(error, sessionFields: try await finish(session, after: .threwHTTPError))
        } catch {
            _ = try? await engine.finish(session, after: .threw)
            throw error
        }
        response.headers.mergeSessionFields(try await finish(session, after: .returned))
        return response
    }

    private func finish(_ session: SessionHandle, after outcome: HandlerOutcome) async throws -> HTTPFields {
        do {
            return try await engine.finish(session, after: outcome)
        } catch let error as SessionError {
            throw abort(error)
        }
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
        let failure = engine.failureResponse(for: error)
        var headers = HTTPHeaders()
        for field in failure.fields {
            headers.add(name: field.name.rawName, value: field.value)
        }
        return Abort(HTTPResponseStatus(statusCode: failure.status.code), headers: headers, reason: failure.message)
    }
}

/// Where the middleware keeps the request's session.
struct SessionHandleStorageKey: StorageKey {
    typealias Value = SessionHandle
}

extension Request {
    /// This request's SessionKit session; `SessionHandle.inactive` (every call
    /// throws) when ``SessionKitMiddleware`` is not installed.
    ///
    /// Named `sessionHandle` because Vapor already owns `req.session` (its own
    /// `SessionsMiddleware` API) and `req.sessions`; the two can live side by side.
    public var sessionHandle: SessionHandle {
        storage[SessionHandleStorageKey.self] ?? .inactive
    }
}

extension HTTPHeaders {
    /// Adds the engine's session fields by the same `SessionFieldMerge` the
    /// Hummingbird adapter applies to `HTTPFields`, so both answer with identical headers.
    mutating func mergeSessionFields(_ sessionFields: HTTPFields) {
        guard !sessionFields.isEmpty else { return }
        let merge = SessionFieldMerge(sessionFields, cacheControl: first(name: .cacheControl), vary: self[.vary])
        if let cacheControl = merge.cacheControl { replaceOrAdd(name: .cacheControl, value: cacheControl) }
        for entry in merge.addedVary { add(name: .vary, value: entry) }
        for field in merge.appended { add(name: field.name.rawName, value: field.value) }
    }
}
