import SessionKitRESP

/// Where and how to reach a Redis (or Valkey) Cluster.
public struct RESPClusterConfiguration: Sendable {
    /// Nodes to ask for the slot map at first use; any one of them suffices. Later refreshes
    /// ask the nodes the map names first, then these.
    public var seeds: [RESPNodeAddress]
    /// How every node connection is made (credentials, TLS, protocol, pool size, timeouts);
    /// its `host` and `port` are replaced per node, and its database must be 0 (a cluster has
    /// no other).
    public var node: RESPClientConfiguration
    /// How many times one command may be redirected (`MOVED`, `ASK`) or retried (`TRYAGAIN`,
    /// `CLUSTERDOWN`, `LOADING`, a node that cannot be reached) before its error is returned
    /// (default 16).
    public var maxAttempts: Int
    /// The first pause before retrying a transient cluster error, doubled each time up to
    /// ``maxRetryPause`` (default 10 ms).
    public var initialRetryPause: Duration
    /// The longest pause between retries (default 250 ms). The engine's store timeout bounds
    /// the whole call.
    public var maxRetryPause: Duration
    /// How old the slot map may grow before a request refreshes it (default 30 seconds); it is
    /// also refreshed after every `MOVED` and after a node cannot be reached.
    public var topologyRefreshInterval: Duration

    /// Creates a configuration.
    public init(
        seeds: [RESPNodeAddress],
        node: RESPClientConfiguration = RESPClientConfiguration(),
        maxAttempts: Int = 16,
        initialRetryPause: Duration = .milliseconds(10),
        maxRetryPause: Duration = .milliseconds(250),
        topologyRefreshInterval: Duration = .seconds(30)
    ) {
        self.seeds = seeds
        self.node = node
        self.maxAttempts = maxAttempts
        self.initialRetryPause = initialRetryPause
        self.maxRetryPause = maxRetryPause
        self.topologyRefreshInterval = topologyRefreshInterval
    }

    /// Parses `redis-cluster://[user[:password]@]host[:port][,host[:port]…][?protocol=3]`;
    /// `rediss-cluster://` turns on TLS. Ports default to 6379; a database number is refused.
    public init(url text: String) throws(RESPClientError) {
        let usage = "expected redis-cluster://[user[:password]@]host[:port][,host[:port]…]"
        let schemes = ["redis-cluster://": false, "rediss-cluster://": true]
        guard let (prefix, useTLS) = schemes.first(where: { text.hasPrefix($0.key) }) else { throw .invalidURL(usage) }
        let parts = try RESPMultiHostURL(text, prefix: prefix, defaultPort: 6379, usage: usage)
        guard parts.database == 0 else { throw .invalidURL("a cluster has only database 0") }
        let seeds = parts.hosts
        let node = try parts.nodeConfiguration(useTLS: useTLS)
        self.init(seeds: seeds, node: node)
    }
}
