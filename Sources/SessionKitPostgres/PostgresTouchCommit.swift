/// How a ``PostgresSessionStore`` commits a touch: an update that changes no key and only moves
/// the idle expiry forward (the engine sends one at most every `touchInterval` per session).
///
/// With synchronous replication (`synchronous_standby_names`) every commit waits until a
/// standby has the write, which is what makes a sign-out survive the primary's loss. A touch
/// does not need that: losing one in a crash only leaves the session's idle expiry where the
/// previous write put it, as if that one request had not come (a user who came back just before
/// the idle timeout can then hit it soon after a failover). ``asynchronous`` commits touches with
/// `synchronous_commit = off` for that one transaction, so they wait for neither the standby
/// nor the local disk; every other write keeps the server's setting.
public enum PostgresTouchCommit: String, Sendable, Equatable, CaseIterable {
    /// Touches commit like every other write, with the server's `synchronous_commit` (the default).
    case durable
    /// Touches commit with `synchronous_commit = off`: they do not wait for a synchronous
    /// standby (and keep working while it is down), at the price that a crash of the primary can
    /// lose the last touches. Versioned writes are never relaxed: a lost version bump could
    /// make an acknowledged version number reappear.
    case asynchronous
}
