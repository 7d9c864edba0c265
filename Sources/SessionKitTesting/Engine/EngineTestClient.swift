import HTTPTypes
import SessionKit

/// Drives a `SessionEngine` the way an adapter does, with a one-cookie jar, so
/// engine behaviour can be tested without an HTTP server.
///
/// ```swift
/// let client = EngineTestClient(engine: engine)
/// let response = try await client.request { session in try await session.set(.count, 1) }
/// #expect(response.setCookie != nil)
/// ```
public final class EngineTestClient: Sendable {
    /// What one request produced.
    public struct Response: Sendable {
        /// The fields the engine asked to add to the response.
        public var fields: HTTPFields
        /// The parsed `Set-Cookie` for the session cookie, if any.
        public var setCookie: SetCookie?
        /// The handler's result, rendered with `String(describing:)`.
        public var result: String
    }

    /// The engine under test.
    public let engine: SessionEngine
    private let jar = LockedValue<String?>(nil)

    /// Creates a client with an empty cookie jar.
    public init(engine: SessionEngine) {
        self.engine = engine
    }

    /// The session cookie value the client holds.
    public var cookie: String? {
        get { jar.withLock { $0 } }
        set { jar.withLock { $0 = newValue } }
    }

    /// Sends one request: the jar's cookie (unless `headers` already has a `Cookie` field),
    /// runs `handler` with the session, commits, and stores any new cookie in the jar.
    @discardableResult
    public func request<Result: Sendable>(
        headers: HTTPFields = [:],
        _ handler: @Sendable (SessionHandle) async throws -> Result
    ) async throws -> (value: Result, response: Response) {
        var fields = headers
        if fields[.cookie] == nil, let cookie {
            fields[.cookie] = "\(engine.configuration.cookie.name)=\(cookie)"
        }
        let handle = engine.begin(fields)
        let value = try await handler(handle)
        let responseFields = try await engine.commit(handle)
        let setCookie = responseFields[values: .setCookie].compactMap(SetCookie.init).first {
            $0.name == engine.configuration.cookie.name
        }
        if let setCookie {
            cookie = setCookie.isDeletion ? nil : setCookie.value
        }
        return (value, Response(fields: responseFields, setCookie: setCookie, result: String(describing: value)))
    }

    /// Sends one request whose handler returns nothing.
    @discardableResult
    public func send(headers: HTTPFields = [:], _ handler: @Sendable (SessionHandle) async throws -> Void = { _ in }) async throws -> Response {
        try await request(headers: headers, handler).response
    }
}
