/// A cluster node's address.
public struct RESPNodeAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host name or IP address.
    public var host: String
    /// The port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`.
    public var description: String { "\(host):\(port)" }
}

/// Which nodes serve which slots, as `CLUSTER SLOTS` reported it: a pure value, rebuilt on
/// every refresh, so routing never sees a half-updated map.
public struct RESPClusterTopology: Sendable, Equatable {
    /// One contiguous range of slots and the nodes that hold it.
    public struct Shard: Sendable, Equatable {
        /// The slots, inclusive at both ends.
        public var slots: ClosedRange<Int>
        /// The node that takes writes for these slots.
        public var primary: RESPNodeAddress
        /// Its replicas.
        public var replicas: [RESPNodeAddress]
    }

    /// The ranges, sorted by their first slot.
    public let shards: [Shard]
    /// For each slot, the index of its shard in ``shards`` (or -1 while no node covers it).
    private let shardOfSlot: [Int16]

    /// Builds the map from a `CLUSTER SLOTS` reply (RESP2 or RESP3).
    ///
    /// Each entry is `[start, end, [host, port, id, …], [replica host, port, id, …]…]`. An
    /// empty host means "the address you reached me on" (Redis ≥ 7 may answer so); it is
    /// replaced by `seed`'s host.
    public init(clusterSlots reply: RESPReply, reachedAt seed: RESPNodeAddress) throws(RESPClientError) {
        guard let entries = reply.array else { throw .unexpectedReply("CLUSTER SLOTS: not an array") }
        var shards: [Shard] = []
        for entry in entries {
            guard let fields = entry.array, fields.count >= 3, let start = fields[0].int, let end = fields[1].int,
                0 <= start, start <= end, end < RESPHashSlot.count
            else { throw .unexpectedReply("CLUSTER SLOTS: malformed slot range") }
            var nodes: [RESPNodeAddress] = []
            for node in fields[2...] {
                guard let parts = node.array, parts.count >= 2, let port = parts[1].int else {
                    throw .unexpectedReply("CLUSTER SLOTS: malformed node")
                }
                let host = parts[0].string ?? ""
                nodes.append(RESPNodeAddress(host: host.isEmpty || host == "?" ? seed.host : host, port: Int(port)))
            }
            shards.append(Shard(slots: Int(start)...Int(end), primary: nodes[0], replicas: Array(nodes.dropFirst())))
        }
        self.init(shards: shards)
    }

    /// Builds the map from shards.
    public init(shards: [Shard]) {
        let sorted = shards.sorted { $0.slots.lowerBound < $1.slots.lowerBound }
        var map = [Int16](repeating: -1, count: RESPHashSlot.count)
        for (index, shard) in sorted.enumerated() {
            for slot in shard.slots { map[slot] = Int16(index) }
        }
        self.shards = sorted
        self.shardOfSlot = map
    }

    /// Whether every slot has a primary.
    public var coversAllSlots: Bool { !shardOfSlot.contains(-1) }

    /// The primary that serves `slot`, if any node does.
    public func primary(forSlot slot: Int) -> RESPNodeAddress? {
        shard(forSlot: slot)?.primary
    }

    /// The shard that serves `slot`, if any.
    public func shard(forSlot slot: Int) -> Shard? {
        guard (0..<RESPHashSlot.count).contains(slot) else { return nil }
        let index = Int(shardOfSlot[slot])
        return index < 0 ? nil : shards[index]
    }

    /// Every primary, each once, in slot order.
    public var primaries: [RESPNodeAddress] {
        var seen = Set<RESPNodeAddress>()
        return shards.map(\.primary).filter { seen.insert($0).inserted }
    }

    /// The same map with `slot` moved to `primary` (after a `MOVED`, until the next refresh).
    public func moving(slot: Int, to primary: RESPNodeAddress) -> RESPClusterTopology {
        var shards = self.shards.flatMap { shard -> [Shard] in
            guard shard.slots.contains(slot) else { return [shard] }
            var pieces: [Shard] = []
            if shard.slots.lowerBound < slot {
                pieces.append(Shard(slots: shard.slots.lowerBound...(slot - 1), primary: shard.primary, replicas: shard.replicas))
            }
            if slot < shard.slots.upperBound {
                pieces.append(Shard(slots: (slot + 1)...shard.slots.upperBound, primary: shard.primary, replicas: shard.replicas))
            }
            return pieces
        }
        shards.append(Shard(slots: slot...slot, primary: primary, replicas: []))
        return RESPClusterTopology(shards: shards)
    }
}
