import NIOCore
import NIOPosix
import SessionKit
import SessionKitRESP

/// A client for a Redis (or Valkey) Cluster: it learns which node serves which hash slot from
/// `CLUSTER SLOTS`, keeps a ``RESPConnectionPool`` per node, and sends each pipeline to the
/// primary of its keys' slot.
///
/// - `MOVED`: the slot lives elsewhere now. The map is patched at once, refreshed from the
///   cluster, and the command resent to the new owner.
/// - `ASK`: the slot is migrating and this key is already on the target. The command is resent
///   there once, behind `ASKING`; the map is left alone.
/// - `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, or a node that cannot be reached: the command is
///   retried after a pause that doubles from ``RESPClusterConfiguration/initialRetryPause``;
///   the map is refreshed first when a node could not be reached.
///
/// Each command is retried on its own, so the other commands of a pipeline that succeeded are
/// never run twice, and a command is never resent after its connection broke mid-flight (it
/// may have run). After ``RESPClusterConfiguration/maxAttempts`` the last error reply is
/// returned. Reads always go to primaries: a replica can serve a session that a sign-out
/// already deleted on its primary, so reading from replicas is not offered.
public final class RESPClusterClient: RESPCommandSending {
    /// The configuration the client connects with.
    public let configuration: RESPClusterConfiguration
    private let group: any EventLoopGroup
    private let state = LockedValue(ClusterState())

    struct ClusterState {
        var topology: RESPClusterTopology?
        var refreshedAt: ContinuousClock.Instant?
        var pools: [RESPNodeAddress: RESPConnectionPool] = [:]
        var refresh: Task<RESPClusterTopology, any Error>?
    }

    /// Creates a client; it connects at first use.
    public init(configuration: RESPClusterConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(RESPClientError) {
        guard !configuration.seeds.isEmpty else { throw .invalidURL("a cluster needs at least one seed node") }
        guard configuration.node.database == 0 else { throw .invalidURL("a cluster has only database 0") }
        self.configuration = configuration
        self.group = group
    }

    /// `false`: keys of different slots live on different nodes.
    public var allowsCrossSlotKeys: Bool { false }

    /// The slot map as last fetched, or `nil` before first use.
    public var topology: RESPClusterTopology? { state.withLock { $0.topology } }

    /// Sends `commands` to the primary serving `key`'s slot, following redirects.
    public func send(_ commands: [RESPCommand], touching key: String?) async throws -> [RESPReply] {
        try await route(commands, touching: key) { pool, batch in try await pool.send(batch) }
    }

    /// Sends `commands` to the primary serving `key`'s slot, following redirects, each batch
    /// followed by `WAIT` on that primary (with `onlyIfReplicated`, only when the slot map
    /// lists replicas for the slot).
    public func sendAcknowledged(
        _ commands: [RESPCommand],
        touching key: String?,
        replicas: Int,
        timeout: Duration,
        onlyIfReplicated: Bool
    ) async throws -> [RESPReply] {
        try await route(commands, touching: key) { pool, batch in
            if onlyIfReplicated, (self.replicaCount(touching: key) ?? 0) == 0 { return try await pool.send(batch) }
            return try await pool.sendAcknowledged(batch, replicas: replicas, timeout: timeout)
        }
    }

    /// The replicas the slot map lists for the shard of `key`'s slot (any shard's without a key).
    public func replicaCount(touching key: String?) -> Int? {
        guard let topology = self.topology else { return nil }
        guard let key else { return topology.shards.map(\.replicas.count).min() }
        return topology.shard(forSlot: RESPHashSlot.of(key))?.replicas.count
    }

    private func route(
        _ commands: [RESPCommand],
        touching key: String?,
        sending: (RESPConnectionPool, [RESPCommand]) async throws -> [RESPReply]
    ) async throws -> [RESPReply] {
        guard !commands.isEmpty else { return [] }
        let slot = key.map { RESPHashSlot.of($0) }
        var replies = [RESPReply?](repeating: nil, count: commands.count)
        var pending = Array(commands.indices)
        var askTargets: [Int: RESPNodeAddress] = [:]
        var pause = configuration.initialRetryPause
        var attempt = 0
        while true {
            let topology = try await currentTopology()
            guard let owner = slot.flatMap(topology.primary(forSlot:)) ?? topology.primaries.first else {
                throw RESPClientError.server(kind: "CLUSTERDOWN", message: "no node serves slot \(slot ?? -1)")
            }
            var destinations: [RESPNodeAddress: [Int]] = [:]
            for index in pending { destinations[askTargets[index] ?? owner, default: []].append(index) }
            var retry: [Int] = []
            var refresh = false
            var wait = false
            var unreachable: RESPClientError?
            for (address, indices) in destinations {
                let asking = indices.filter { askTargets[$0] != nil }
                let direct = indices.filter { askTargets[$0] == nil }
                var batch = direct.map { commands[$0] }
                for index in asking { batch += [RESPCommand("ASKING"), commands[index]] }
                let answered: [RESPReply]
                do {
                    answered = try await sending(pool(for: address), batch)
                } catch let error as RESPClientError where error.commandWasNotSent {
                    unreachable = error
                    refresh = true
                    wait = true
                    retry += indices
                    continue
                }
                guard answered.count == batch.count else {
                    throw RESPClientError.unexpectedReply("\(answered.count) replies for \(batch.count) commands")
                }
                let ownReplies = Array(answered.prefix(direct.count)) + stride(from: direct.count + 1, to: answered.count, by: 2).map { answered[$0] }
                for (index, reply) in zip(direct + asking, ownReplies) {
                    askTargets[index] = nil
                    replies[index] = reply
                    switch reply.serverError.flatMap(RESPClusterRedirect.init) {
                    case .moved(let movedSlot, let host, let port):
                        let target = RESPNodeAddress(host: host, port: port)
                        state.withLock { $0.topology = $0.topology?.moving(slot: movedSlot, to: target) }
                        refresh = true
                        retry.append(index)
                    case .ask(_, let host, let port):
                        askTargets[index] = RESPNodeAddress(host: host, port: port)
                        retry.append(index)
                    case .retryLater:
                        wait = true
                        retry.append(index)
                    case nil:
                        break
                    }
                }
            }
            attempt += 1
            if retry.isEmpty || attempt >= configuration.maxAttempts {
                if let unreachable, retry.contains(where: { replies[$0] == nil }) { throw unreachable }
                return replies.map { $0 ?? .null }
            }
            if refresh { _ = try? await sharedRefresh() }
            if wait {
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    throw RESPClientError.cancelled
                }
                pause = min(pause * 2, configuration.maxRetryPause)
            }
            pending = retry
        }
    }

    /// The pools of the current map's primaries.
    public func primaryPools() async throws -> [RESPConnectionPool] {
        try await currentTopology().primaries.map(pool(for:))
    }

    /// The pools of the primaries of a freshly fetched slot map.
    public func refreshedPrimaryPools() async throws -> [RESPConnectionPool]? {
        try await sharedRefresh().primaries.map(pool(for:))
    }

    /// Closes every node's connections.
    public func close() async {
        let pools = state.withLock { state -> [RESPConnectionPool] in
            defer { state.pools = [:] }
            return Array(state.pools.values)
        }
        for pool in pools { await pool.close() }
    }

    /// Fetches the slot map now, whatever its age.
    @discardableResult
    public func refreshTopology() async throws -> RESPClusterTopology {
        try await sharedRefresh()
    }

    // MARK: Topology

    private func currentTopology() async throws -> RESPClusterTopology {
        let (topology, refreshedAt) = state.withLock { ($0.topology, $0.refreshedAt) }
        if let topology, let refreshedAt, ContinuousClock.now - refreshedAt < configuration.topologyRefreshInterval {
            return topology
        }
        do {
            return try await sharedRefresh()
        } catch {
            // A stale map beats none: the nodes will redirect what moved.
            if let topology { return topology }
            throw error
        }
    }

    /// Refreshes the map; concurrent callers share one `CLUSTER SLOTS` round trip.
    private func sharedRefresh() async throws -> RESPClusterTopology {
        let task = state.withLock { state -> Task<RESPClusterTopology, any Error> in
            if let running = state.refresh { return running }
            let candidates = Self.candidates(state.topology, seeds: configuration.seeds)
            let task = Task { try await self.fetchTopology(from: candidates) }
            state.refresh = task
            return task
        }
        do {
            let topology = try await task.value
            state.withLock { state in
                state.topology = topology
                state.refreshedAt = .now
                if state.refresh == task { state.refresh = nil }
            }
            return topology
        } catch {
            state.withLock { state in
                if state.refresh == task { state.refresh = nil }
            }
            throw error
        }
    }

    private func fetchTopology(from candidates: [RESPNodeAddress]) async throws -> RESPClusterTopology {
        var lastError: any Error = RESPClientError.server(kind: "CLUSTERDOWN", message: "no node answered CLUSTER SLOTS")
        for address in candidates {
            do {
                let reply = try await pool(for: address).send(RESPCommand("CLUSTER", ["SLOTS"]))
                let topology = try RESPClusterTopology(clusterSlots: reply, reachedAt: address)
                guard !topology.shards.isEmpty else { continue }
                return topology
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Known primaries first, then their replicas, then the seeds; each once.
    static func candidates(_ topology: RESPClusterTopology?, seeds: [RESPNodeAddress]) -> [RESPNodeAddress] {
        var seen = Set<RESPNodeAddress>()
        let known = (topology?.primaries ?? []) + (topology?.shards.flatMap(\.replicas) ?? [])
        return (known + seeds).filter { seen.insert($0).inserted }
    }

    private func pool(for address: RESPNodeAddress) -> RESPConnectionPool {
        state.withLock { state in
            if let pool = state.pools[address] { return pool }
            let pool = RESPConnectionPool(configuration: configuration.node.reaching(address), group: group)
            state.pools[address] = pool
            return pool
        }
    }
}
