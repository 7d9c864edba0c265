import HTTPTypes

/// Errors the engine raises while handling a request's session. Each carries the HTTP status
/// and header fields an adapter answers with, so Hummingbird and Vapor map them identically.
///
/// A struct with a ``Code`` rather than an enum (postgres-nio's `PSQLError` shape), so a new
/// kind of error is a new static member, not a source-breaking enum case. Match a kind with
/// `error.code == .conflict`, in a `catch` clause with `catch SessionError.Code.storeUnavailable`
/// (any details) or `catch SessionError.conflict` (this exact error); the details of a kind are
/// the optional properties its factory sets.
public struct SessionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of error; compare with `==` or match in `catch` clauses.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case storeUnavailable, typeMismatch, encodingFailed, conflict, tooManySessions
            case notActive, cookieTooLarge, unsupported, reservedKey, invalidKey, sessionTooLarge
        }
        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        /// The store failed or timed out (503 with `Retry-After`).
        public static let storeUnavailable = Code(.storeUnavailable)
        /// A stored value could not be decoded as the type the key declares (500).
        public static let typeMismatch = Code(.typeMismatch)
        /// A value could not be encoded as JSON (500).
        public static let encodingFailed = Code(.encodingFailed)
        /// Versioned mode: another request changed the session since it was read (409).
        public static let conflict = Code(.conflict)
        /// The user already has the maximum number of sessions and the policy is to refuse (403).
        public static let tooManySessions = Code(.tooManySessions)
        /// The session was used after the request's commit, or outside the middleware (500).
        public static let notActive = Code(.notActive)
        /// A sealed cookie would exceed what browsers keep (500).
        public static let cookieTooLarge = Code(.cookieTooLarge)
        /// The configured store cannot do what the handler asked (500).
        public static let unsupported = Code(.unsupported)
        /// A key under SessionKit's reserved `_sk.` prefix was set or removed (400).
        public static let reservedKey = Code(.reservedKey)
        /// A key name contains NUL or is not in Unicode Normalization Form C (400).
        public static let invalidKey = Code(.invalidKey)
        /// A write would take the session over its key or byte limit (413).
        public static let sessionTooLarge = Code(.sessionTooLarge)

        /// The code's name, for logs.
        public var description: String { base.rawValue }

        /// Matches any ``SessionError`` with this code, for `catch` clauses.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? SessionError)?.code == code
        }
    }

    /// The kind of error.
    public let code: Code
    /// The store's failure, for ``Code/storeUnavailable``.
    public let storeError: SessionStoreError?
    /// The session key involved, for ``Code/typeMismatch``, ``Code/encodingFailed`` and
    /// ``Code/reservedKey``.
    public let key: String?
    /// The Swift type the key was read as, for ``Code/typeMismatch``.
    public let expectedType: String?
    /// The limit that was reached: sessions per user for ``Code/tooManySessions``, bytes for
    /// ``Code/cookieTooLarge``.
    public let limit: Int?
    /// The size in bytes: the sealed cookie's for ``Code/cookieTooLarge``, the session's keys
    /// and values for ``Code/sessionTooLarge``.
    public let size: Int?
    /// For ``Code/sessionTooLarge``: how many keys the session would hold.
    public let keys: Int?
    /// For ``Code/sessionTooLarge``: the per-session key limit (``limit`` is the byte limit).
    public let maxKeys: Int?
    /// What the store lacks, for ``Code/unsupported``.
    public let detail: String?

    private init(
        _ code: Code,
        storeError: SessionStoreError? = nil,
        key: String? = nil,
        expectedType: String? = nil,
        limit: Int? = nil,
        size: Int? = nil,
        keys: Int? = nil,
        maxKeys: Int? = nil,
        detail: String? = nil
    ) {
        self.code = code
        self.storeError = storeError
        self.key = key
        self.expectedType = expectedType
        self.limit = limit
        self.size = size
        self.keys = keys
        self.maxKeys = maxKeys
        self.detail = detail
    }

    /// The store failed or timed out; the request cannot be answered without risking data
    /// loss or a silent sign-out. Answered with 503 and `Retry-After`.
    public static func storeUnavailable(_ error: SessionStoreError) -> SessionError {
        SessionError(.storeUnavailable, storeError: error)
    }
    /// A stored value could not be decoded as the type the key declares.
    public static func typeMismatch(key: String, expected: String) -> SessionError {
        SessionError(.typeMismatch, key: key, expectedType: expected)
    }
    /// A value could not be encoded as JSON.
    public static func encodingFailed(key: String) -> SessionError { SessionError(.encodingFailed, key: key) }
    /// Versioned mode: another request changed the session since it was read. Answered 409.
    public static let conflict = SessionError(.conflict)
    /// The user already has the maximum number of sessions and the policy is to refuse.
    public static func tooManySessions(limit: Int) -> SessionError { SessionError(.tooManySessions, limit: limit) }
    /// The session was used after the request's commit, or by a request the middleware
    /// never saw (a programming error in the app).
    public static let notActive = SessionError(.notActive)
    /// A sealed cookie would exceed what browsers keep (name + value over `limit` bytes).
    /// Answered 500 instead of silently dropping the cookie; move large data to a server store.
    public static func cookieTooLarge(size: Int, limit: Int) -> SessionError {
        SessionError(.cookieTooLarge, limit: limit, size: size)
    }
    /// The handler asked for something the configured store cannot do (for example listing a
    /// user's sessions on a store without ``SessionUserIndexing``). A programming error: 500.
    public static func unsupported(_ detail: String) -> SessionError { SessionError(.unsupported, detail: detail) }
    /// The app tried to set or remove a key under SessionKit's reserved `_sk.` prefix
    /// (typically a key name derived from input). Answered 400; nothing is written.
    public static func reservedKey(_ key: String) -> SessionError { SessionError(.reservedKey, key: key) }
    /// The app tried to set or remove a key whose name contains NUL (U+0000) or is not in
    /// Unicode Normalization Form C. Keys compare by their bytes in every store, so two
    /// spellings of one name (`"é"` precomposed and decomposed) would be two keys in the store
    /// but one in Swift; requiring NFC makes the two agree. Answered 400; nothing is written.
    public static func invalidKey(_ key: String) -> SessionError { SessionError(.invalidKey, key: key) }

    /// A write would take the session to `keys` keys or `bytes` bytes, over `maxKeys` or
    /// `maxBytes` (``SessionConfiguration/maxKeysPerSession``, ``SessionConfiguration/maxBytesPerSession``).
    /// Answered 413; nothing is written, the session keeps what it had.
    public static func sessionTooLarge(keys: Int, bytes: Int, maxKeys: Int, maxBytes: Int) -> SessionError {
        SessionError(.sessionTooLarge, limit: maxBytes, size: bytes, keys: keys, maxKeys: maxKeys)
    }

    /// Matches an error equal to this one, for `catch` clauses (`catch SessionError.conflict`).
    public static func ~= (pattern: SessionError, error: any Error) -> Bool {
        (error as? SessionError) == pattern
    }

    /// The HTTP status an adapter answers with.
    public var status: HTTPResponse.Status {
        switch code.base {
        case .storeUnavailable: return .serviceUnavailable
        case .typeMismatch, .encodingFailed, .notActive, .cookieTooLarge, .unsupported: return .internalServerError
        case .conflict: return .conflict
        case .tooManySessions: return .forbidden
        case .reservedKey, .invalidKey: return .badRequest
        case .sessionTooLarge: return .contentTooLarge
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
        switch code.base {
        case .storeUnavailable: return "Session storage is temporarily unavailable. Please retry."
        case .typeMismatch, .encodingFailed, .notActive, .unsupported: return "Internal session error."
        case .conflict: return "The session was changed by another request. Please retry."
        case .tooManySessions: return "Too many active sessions (limit \(limit ?? 0)). Sign out elsewhere first."
        case .reservedKey: return "This session key name is reserved."
        case .invalidKey: return "This session key name contains NUL or is not in Unicode NFC."
        case .cookieTooLarge: return "The session cookie would be \(size ?? 0) bytes, over the \(limit ?? 0)-byte limit."
        case .sessionTooLarge: return "The session would exceed its limit of \(maxKeys ?? 0) keys or \(limit ?? 0) bytes."
        }
    }

    /// The code and its details, for logs (session keys are app-chosen names, never values).
    public var description: String {
        var parts = ["SessionError.\(code)"]
        if let storeError { parts.append("store: \(storeError)") }
        if let key { parts.append("key: \(key)") }
        if let expectedType { parts.append("expected: \(expectedType)") }
        if let size { parts.append("size: \(size)") }
        if let keys { parts.append("keys: \(keys)") }
        if let maxKeys { parts.append("maxKeys: \(maxKeys)") }
        if let limit { parts.append("limit: \(limit)") }
        if let detail { parts.append(detail) }
        return parts.joined(separator: ", ")
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
