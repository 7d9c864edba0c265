import SessionKitRESP

/// Which of the Redis store's writes wait until replicas hold them (`WAIT`) before the store
/// answers: the durable-acknowledge mode.
///
/// Redis replicates asynchronously. When a primary dies, the replica that takes over lacks the
/// writes the primary acknowledged but had not yet streamed. Most such losses are harmless (a
/// visit counter one behind); a lost sign-out is not: the revoked session comes back on the
/// new primary. A write that must survive is followed by `WAIT replicas timeout` on a
/// connection of its own (never inside a Lua script, where `WAIT` does not block), and fewer
/// confirmations in time fail the call with `SessionStoreError.unavailable`, which the
/// engine answers with 503 and `Retry-After`, never with a silent success.
public struct RedisDurability: Sendable, Hashable, CustomStringConvertible {
    /// Which writes wait for replicas.
    public enum Writes: String, Sendable, Hashable {
        /// None: every write is acknowledged by the primary alone.
        case none
        /// Writes that end or grant a session: destroy (sign-out), rotate (regenerate), sign-in
        /// (including the evictions of a session cap), and sign-out everywhere.
        case securityCritical = "critical"
        /// Every write, touches included.
        case all
    }

    /// The writes that wait, or `nil` for ``automatic``.
    public var writes: Writes?
    /// How many replicas must confirm (default 1).
    public var replicas: Int
    /// How long to wait for them (default 500 ms); keep it under the connection's command
    /// timeout and the engine's store timeout.
    public var timeout: Duration

    /// Creates a setting.
    public init(writes: Writes?, replicas: Int = 1, timeout: Duration = .milliseconds(500)) {
        self.writes = writes
        self.replicas = replicas
        self.timeout = timeout
    }

    /// ``Writes/securityCritical`` when the primary a write goes to has replicas (those the
    /// Sentinels know for it, reachable or not; a cluster shard's in the slot map), otherwise
    /// ``Writes/none``: one server named by its address is never asked to wait. The default.
    public static let automatic = RedisDurability(writes: nil)
    /// No write waits.
    public static let none = RedisDurability(writes: Writes.none)
    /// Security-critical writes wait for one replica.
    public static let securityCritical = RedisDurability(writes: .securityCritical)
    /// Every write waits for one replica.
    public static let allWrites = RedisDurability(writes: .all)

    /// `base` with what a URL's query sets: `acknowledge=none|critical|all|auto` and
    /// `acknowledge_replicas=N` (the rest of `base`, its timeout included, is kept).
    init(url: String, base: RedisDurability) throws(RESPClientError) {
        self = base
        var text = Substring(url)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        guard let mark = text.firstIndex(of: "?") else { return }
        for item in text[text.index(after: mark)...].split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "acknowledge":
                guard pair[1] == "auto" || Writes(rawValue: pair[1]) != nil else {
                    throw .invalidURL("acknowledge must be none, critical, all or auto")
                }
                writes = Writes(rawValue: pair[1])
            case "acknowledge_replicas":
                guard let count = Int(pair[1]), count >= 1 else { throw .invalidURL("acknowledge_replicas must be at least 1") }
                replicas = count
            default:
                continue
            }
        }
    }

    /// Whether a call of `kind` waits: never, always, or only when the primary it goes to has
    /// replicas (``automatic``, decided by the client once it knows that primary).
    func wait(for kind: RedisCallKind) -> RedisWait {
        switch (writes, kind) {
        case (_, .read), (.none?, _), (.securityCritical?, .write), (nil, .write): return .never
        case (.securityCritical?, .securityCritical), (.all?, _): return .always
        case (nil, .securityCritical): return .ifReplicated
        }
    }

    /// `none`, `critical`, `all` or `auto`, with the replica count when it is not 1.
    public var description: String {
        (writes?.rawValue ?? "auto") + (replicas == 1 ? "" : " (\(replicas) replicas)")
    }
}

/// What ``RedisDurability`` asks of one call.
enum RedisWait {
    /// Answer when the primary has applied it.
    case never
    /// Answer when the replicas confirm it.
    case always
    /// Answer when the replicas confirm it if the primary has replicas, else when it applied it.
    case ifReplicated
}

/// What a store call does, for ``RedisDurability``: reads never wait; writes wait by setting.
enum RedisCallKind {
    /// Reads only.
    case read
    /// Writes a session's values or timestamps.
    case write
    /// Ends or grants a session.
    case securityCritical
}
