import SessionKitRESP

/// One Sentinel's answer to `SENTINEL MASTER NAME`: where it says the primary is, the
/// configuration epoch of that view, and how many replicas it knows for it.
///
/// A pure value, so choosing among Sentinels that disagree during a failover is tested
/// without servers.
struct RESPSentinelView: Equatable {
    /// Where this Sentinel says the primary is.
    var address: RESPNodeAddress
    /// The epoch of the failover that produced this view; a later failover has a higher one.
    var configEpoch: Int64
    /// The replicas this Sentinel knows for the primary, reachable or not (`num-slaves`).
    var replicas: Int

    /// Reads a `SENTINEL MASTER` reply (a flat list of names and values in RESP2, a map in
    /// RESP3); `nil` when it lacks an address.
    init?(reply: RESPReply) {
        var fields: [String: String] = [:]
        switch reply {
        case .array(let items):
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                if let name = items[index].string, let value = items[index + 1].string { fields[name] = value }
            }
        case .map(let pairs):
            for (name, value) in pairs {
                if let name = name.string, let value = value.string { fields[name] = value }
            }
        default:
            return nil
        }
        guard let host = fields["ip"], !host.isEmpty, let port = fields["port"].flatMap({ Int($0) }) else { return nil }
        self.init(
            address: RESPNodeAddress(host: host, port: port),
            configEpoch: fields["config-epoch"].flatMap { Int64($0) } ?? 0,
            replicas: fields["num-slaves"].flatMap { Int($0) } ?? 0
        )
    }

    init(address: RESPNodeAddress, configEpoch: Int64, replicas: Int) {
        self.address = address
        self.configEpoch = configEpoch
        self.replicas = replicas
    }

    /// The addresses the Sentinels name, most current first: the highest configuration epoch
    /// wins (the Sentinel that ran the latest failover knows first; the others learn within
    /// seconds), then the address more Sentinels name. Each address once.
    static func ranked(_ views: [RESPSentinelView]) -> [RESPSentinelView] {
        let votes = Dictionary(grouping: views, by: \.address).mapValues(\.count)
        var best: [RESPNodeAddress: RESPSentinelView] = [:]
        for view in views where best[view.address].map({ view.configEpoch > $0.configEpoch }) ?? true {
            best[view.address] = view
        }
        return best.values.sorted { lhs, rhs in
            if lhs.configEpoch != rhs.configEpoch { return lhs.configEpoch > rhs.configEpoch }
            let (left, right) = (votes[lhs.address] ?? 0, votes[rhs.address] ?? 0)
            if left != right { return left > right }
            return lhs.address.description < rhs.address.description
        }
    }
}
