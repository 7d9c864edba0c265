/// Everything that can go wrong talking to Redis or Valkey, typed.
public enum RESPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered a command with an error reply. `kind` is its first word
    /// (`ERR`, `WRONGTYPE`, `NOAUTH`, `WRONGPASS`, `LOADING`, `NOSCRIPT`, `READONLY`, …).
    case server(kind: String, message: String)
    /// The connection closed (or could not be opened) before the reply arrived.
    case connectionClosed(reason: String)
    /// No reply within the command timeout; the connection is closed, since a late reply
    /// would be matched to the wrong command.
    case timedOut
    /// The server sent bytes that are not valid RESP, or a reply over the configured limits.
    case protocolViolation(reason: String)
    /// The pool is backing off after failed connection attempts.
    case backingOff(retryInMilliseconds: Int)
    /// A reply had a shape the caller did not expect.
    case unexpectedReply(String)
    /// The connection URL is malformed.
    case invalidURL(String)
    /// The caller's task was cancelled before the reply arrived. The command may still run on
    /// the server; its reply is dropped and the connection stays usable.
    case cancelled

    /// Parses an error reply's text into its kind and message.
    public init(serverReply text: String) {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let kind = parts.first.map(String.init) ?? "ERR"
        self = .server(kind: kind, message: parts.count > 1 ? String(parts[1]) : "")
    }

    /// Whether the failure is the server's "busy loading the dataset" state.
    public var isLoading: Bool { if case .server("LOADING", _) = self { return true } else { return false } }
    /// Whether the server wants authentication (`NOAUTH`) or rejected the credentials (`WRONGPASS`).
    public var isAuthenticationError: Bool {
        if case .server(let kind, _) = self { return kind == "NOAUTH" || kind == "WRONGPASS" }
        return false
    }

    /// A description that never includes credentials.
    public var description: String {
        switch self {
        case .server(let kind, let message): return "Redis error \(kind): \(message)"
        case .connectionClosed(let reason): return "Redis connection closed: \(reason)"
        case .timedOut: return "Redis command timed out"
        case .protocolViolation(let reason): return "Redis protocol violation: \(reason)"
        case .backingOff(let milliseconds): return "Redis unreachable; reconnecting in \(milliseconds) ms"
        case .unexpectedReply(let reply): return "unexpected Redis reply: \(reply)"
        case .invalidURL(let reason): return "invalid Redis URL: \(reason)"
        case .cancelled: return "Redis command cancelled"
        }
    }
}
