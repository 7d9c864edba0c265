import SessionKitRESP

/// Where the Redis store's commands go: one server's ``RESPConnectionPool``, or a
/// ``RESPClusterClient`` that routes each pipeline to the node serving its keys' slot.
public protocol RESPCommandSending: Sendable {
    /// Sends `commands` as one pipeline and returns one reply per command, in order. Every
    /// command touches keys of one hash slot only, and `key` is one of those keys (`nil`: the
    /// commands touch no key, any node will do). Error replies are returned, not thrown.
    func send(_ commands: [RESPCommand], touching key: String?) async throws -> [RESPReply]

    /// Sends `commands` like ``send(_:touching:)``, then `WAIT replicas timeout` on the same
    /// connection, which no other request uses meanwhile. Throws
    /// `RESPClientError.notAcknowledged(replicas:required:)` when fewer replicas confirm in
    /// time. With `onlyIfReplicated`, a primary known to have no replicas (or one whose
    /// replicas the client cannot know) is not asked to wait.
    func sendAcknowledged(
        _ commands: [RESPCommand],
        touching key: String?,
        replicas: Int,
        timeout: Duration,
        onlyIfReplicated: Bool
    ) async throws -> [RESPReply]

    /// Whether one command or script may touch keys of different hash slots (a single server:
    /// yes; a cluster: no, that is `CROSSSLOT`).
    var allowsCrossSlotKeys: Bool { get }

    /// The pool of every primary (one server: its own pool), for commands about a whole node
    /// such as `SCAN` or `SCRIPT FLUSH`.
    func primaryPools() async throws -> [RESPConnectionPool]

    /// The primaries' pools after asking the servers for the current layout again (a cluster:
    /// a fresh slot map, as after a failover), or `nil` when the layout cannot change (one
    /// server). Defaults to `nil`.
    func refreshedPrimaryPools() async throws -> [RESPConnectionPool]?

    /// Closes every connection.
    func close() async
}

extension RESPCommandSending {
    /// `nil`: the layout is fixed.
    public func refreshedPrimaryPools() async throws -> [RESPConnectionPool]? { nil }
}

extension RESPConnectionPool: RESPCommandSending {
    /// Sends on this pool's server, whatever the keys.
    public func send(_ commands: [RESPCommand], touching key: String?) async throws -> [RESPReply] {
        try await send(commands)
    }

    /// Sends on this pool's server, followed by `WAIT`; with `onlyIfReplicated`, without it
    /// (a server named by its address may have no replicas, and the pool does not ask).
    public func sendAcknowledged(
        _ commands: [RESPCommand],
        touching key: String?,
        replicas: Int,
        timeout: Duration,
        onlyIfReplicated: Bool
    ) async throws -> [RESPReply] {
        if onlyIfReplicated { return try await send(commands) }
        return try await sendAcknowledged(commands, replicas: replicas, timeout: timeout)
    }

    /// `true`: one server holds every key.
    public var allowsCrossSlotKeys: Bool { true }

    /// This pool.
    public func primaryPools() async throws -> [RESPConnectionPool] { [self] }
}
