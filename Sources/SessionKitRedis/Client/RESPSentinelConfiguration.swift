import SessionKitRESP

/// Where and how to reach a Redis primary that Redis Sentinel watches and fails over.
public struct RESPSentinelConfiguration: Sendable {
    /// The Sentinels to ask for the current primary, in order; the one that last answered is
    /// asked first next time (the Sentinel client specification's rule).
    public var sentinels: [RESPNodeAddress]
    /// The name the Sentinels monitor the primary under (`sentinel monitor NAME …`).
    public var primaryName: String
    /// How primary connections are made (credentials, database, TLS, protocol, pool size,
    /// timeouts); `host` and `port` are replaced by the address the Sentinels name.
    public var node: RESPClientConfiguration
    /// How Sentinel connections are made (default: no credentials, RESP2, one connection,
    /// 1-second timeouts); `host` and `port` are replaced per Sentinel.
    public var sentinel: RESPClientConfiguration
    /// How many times a command that could not be sent (no primary confirmed yet, the primary
    /// unreachable, or `READONLY` from a primary just demoted) is tried before its error is
    /// returned (default 8). A command whose connection broke after it was sent is never
    /// resent: it may have run.
    public var maxAttempts: Int
    /// The first pause before trying again, doubled each time up to ``maxRetryPause``
    /// (default 20 ms).
    public var initialRetryPause: Duration
    /// The longest pause between tries (default 250 ms). The engine's store timeout bounds the
    /// whole call.
    public var maxRetryPause: Duration
    /// How long a confirmed primary is used before the Sentinels are asked again and `ROLE`
    /// checked again (default 5 seconds); a failed call or a `+switch-master` event asks at once.
    public var verifyInterval: Duration
    /// Whether a subscription to a Sentinel's `+switch-master` channel switches to a new
    /// primary the moment a failover ends, instead of at the next failed call or check
    /// (default `true`). Sentinels reached over TLS are not subscribed to.
    public var followsSwitchMaster: Bool

    /// Creates a configuration.
    public init(
        sentinels: [RESPNodeAddress],
        primaryName: String,
        node: RESPClientConfiguration = RESPClientConfiguration(),
        sentinel: RESPClientConfiguration = RESPClientConfiguration(
            connectionCount: 1,
            connectTimeout: .seconds(1),
            commandTimeout: .seconds(1)
        ),
        maxAttempts: Int = 8,
        initialRetryPause: Duration = .milliseconds(20),
        maxRetryPause: Duration = .milliseconds(250),
        verifyInterval: Duration = .seconds(5),
        followsSwitchMaster: Bool = true
    ) {
        self.sentinels = sentinels
        self.primaryName = primaryName
        self.node = node
        self.sentinel = sentinel
        self.maxAttempts = maxAttempts
        self.initialRetryPause = initialRetryPause
        self.maxRetryPause = maxRetryPause
        self.verifyInterval = verifyInterval
        self.followsSwitchMaster = followsSwitchMaster
    }

    /// Parses `redis-sentinel://[user[:password]@]host[:port][,host[:port]…][/db][?protocol=3]#PRIMARY_NAME`;
    /// `rediss-sentinel://` turns on TLS for the primary's connections. Sentinel ports default
    /// to 26379; the credentials, database and protocol are the primary's.
    public init(url text: String) throws(RESPClientError) {
        let usage = "expected redis-sentinel://[user[:password]@]host[:port][,host[:port]…][/db]#PRIMARY_NAME"
        let schemes = ["redis-sentinel://": false, "rediss-sentinel://": true]
        guard let (prefix, useTLS) = schemes.first(where: { text.hasPrefix($0.key) }) else { throw .invalidURL(usage) }
        let parts = try RESPMultiHostURL(text, prefix: prefix, defaultPort: 26379, usage: usage)
        guard let name = parts.fragment, !name.isEmpty else { throw .invalidURL("the primary's name is missing after #: \(usage)") }
        self.init(sentinels: parts.hosts, primaryName: name, node: try parts.nodeConfiguration(useTLS: useTLS))
    }
}
