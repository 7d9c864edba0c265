/// Everything that can go wrong talking to Redis or Valkey, typed.
///
/// A struct with a ``Code`` rather than an enum (postgres-nio's `PSQLError` shape), so a new
/// kind of failure is a new static member, not a source-breaking enum case. Match a kind with
/// `error.code == .timedOut` or, in a `catch` clause, `catch RESPClientError.Code.timedOut`.
public struct RESPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; compare with `==` or match in `catch` clauses.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case server, connectionClosed, timedOut, protocolViolation, backingOff
            case unexpectedReply, invalidURL, cancelled, notAcknowledged, noPrimary
        }
        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server answered with an error reply; ``RESPClientError/serverKind`` is its first word.
        public static let server = Code(.server)
        /// The connection closed (or could not be opened) before the reply arrived.
        public static let connectionClosed = Code(.connectionClosed)
        /// No reply within the command timeout; the connection is closed, since a late reply
        /// would be matched to the wrong command.
        public static let timedOut = Code(.timedOut)
        /// The server sent bytes that are not valid RESP, or a reply over the configured limits.
        public static let protocolViolation = Code(.protocolViolation)
        /// The pool is backing off after failed connection attempts.
        public static let backingOff = Code(.backingOff)
        /// A reply had a shape the caller did not expect.
        public static let unexpectedReply = Code(.unexpectedReply)
        /// The connection URL is malformed.
        public static let invalidURL = Code(.invalidURL)
        /// The write ran on the primary, but fewer replicas than required confirmed it within
        /// the durable-acknowledge timeout (`WAIT`): it may be lost if the primary fails now.
        public static let notAcknowledged = Code(.notAcknowledged)
        /// No server could be confirmed as the writable primary (the Sentinels named none, or
        /// the one they named answers `ROLE` as a replica): a failover is under way.
        public static let noPrimary = Code(.noPrimary)
        /// The caller's task was cancelled before the reply arrived.
        public static let cancelled = Code(.cancelled)

        /// The code's name, for logs.
        public var description: String { base.rawValue }

        /// Matches any ``RESPClientError`` with this code, for `catch` clauses.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? RESPClientError)?.code == code
        }
    }

    /// The kind of failure.
    public let code: Code
    /// For ``Code/server``: the error reply's first word (`ERR`, `WRONGTYPE`, `NOAUTH`,
    /// `WRONGPASS`, `LOADING`, `NOSCRIPT`, `READONLY`, `MOVED`, …).
    public let serverKind: String?
    /// The server's message, or what went wrong; never credentials.
    public let message: String
    /// For ``Code/backingOff``: how long until the pool tries to connect again.
    public let retryInMilliseconds: Int?
    private let unsent: Bool

    private init(_ code: Code, serverKind: String? = nil, message: String = "", retryInMilliseconds: Int? = nil, unsent: Bool = false) {
        self.code = code
        self.serverKind = serverKind
        self.message = message
        self.retryInMilliseconds = retryInMilliseconds
        self.unsent = unsent
    }

    /// Whether the command certainly never reached a server (the pool was backing off, or the
    /// connection could not be opened), so sending it again elsewhere cannot run it twice.
    public var commandWasNotSent: Bool { unsent || code == .backingOff }

    /// The server answered a command with an error reply of `kind` (its first word).
    public static func server(kind: String, message: String) -> RESPClientError {
        RESPClientError(.server, serverKind: kind, message: message)
    }
    /// The connection closed (or could not be opened) before the reply arrived.
    public static func connectionClosed(reason: String) -> RESPClientError { RESPClientError(.connectionClosed, message: reason) }
    /// A connection could not be opened, so nothing was sent (code ``Code/connectionClosed``).
    public static func connectFailed(reason: String) -> RESPClientError {
        RESPClientError(.connectionClosed, message: reason, unsent: true)
    }
    /// No reply within the command timeout.
    public static let timedOut = RESPClientError(.timedOut)
    /// The server sent bytes that are not valid RESP, or a reply over the configured limits.
    public static func protocolViolation(reason: String) -> RESPClientError { RESPClientError(.protocolViolation, message: reason) }
    /// The pool is backing off after failed connection attempts.
    public static func backingOff(retryInMilliseconds: Int) -> RESPClientError {
        RESPClientError(.backingOff, retryInMilliseconds: retryInMilliseconds)
    }
    /// A reply had a shape the caller did not expect.
    public static func unexpectedReply(_ reply: String) -> RESPClientError { RESPClientError(.unexpectedReply, message: reply) }
    /// `WAIT` reported `replicas` confirmations where `required` were asked for.
    public static func notAcknowledged(replicas: Int, required: Int) -> RESPClientError {
        RESPClientError(.notAcknowledged, message: "\(replicas) of \(required) replicas confirmed the write")
    }
    /// No writable primary could be found; `reason` says what each source answered. Nothing
    /// was sent, so the command may be sent again once a primary is known.
    public static func noPrimary(_ reason: String) -> RESPClientError { RESPClientError(.noPrimary, message: reason, unsent: true) }
    /// The connection URL is malformed.
    public static func invalidURL(_ reason: String) -> RESPClientError { RESPClientError(.invalidURL, message: reason) }
    /// The caller's task was cancelled before the reply arrived. The command may still run on
    /// the server; its reply is dropped and the connection stays usable.
    public static let cancelled = RESPClientError(.cancelled)

    /// Parses an error reply's text into its kind and message.
    public init(serverReply text: String) {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let kind = parts.first.map(String.init) ?? "ERR"
        self.init(.server, serverKind: kind, message: parts.count > 1 ? String(parts[1]) : "")
    }

    /// Whether this is a server error reply of `kind` (for example `"WRONGTYPE"`).
    public func isServerError(_ kind: String) -> Bool { code == .server && serverKind == kind }

    /// Whether the failure is the server's "busy loading the dataset" state.
    public var isLoading: Bool { isServerError("LOADING") }
    /// Whether the server wants authentication (`NOAUTH`) or rejected the credentials (`WRONGPASS`).
    public var isAuthenticationError: Bool { isServerError("NOAUTH") || isServerError("WRONGPASS") }

    /// Matches an error equal to this one, for `catch` clauses (`catch RESPClientError.timedOut`).
    public static func ~= (pattern: RESPClientError, error: any Error) -> Bool {
        (error as? RESPClientError) == pattern
    }

    /// A description that never includes credentials.
    public var description: String {
        switch code.base {
        case .server: return "Redis error \(serverKind ?? "ERR"): \(message)"
        case .connectionClosed: return "Redis connection closed: \(message)"
        case .timedOut: return "Redis command timed out"
        case .protocolViolation: return "Redis protocol violation: \(message)"
        case .backingOff: return "Redis unreachable; reconnecting in \(retryInMilliseconds ?? 0) ms"
        case .unexpectedReply: return "unexpected Redis reply: \(message)"
        case .invalidURL: return "invalid Redis URL: \(message)"
        case .cancelled: return "Redis command cancelled"
        case .notAcknowledged: return "Redis write not acknowledged by enough replicas: \(message)"
        case .noPrimary: return "no Redis primary: \(message)"
        }
    }
}
