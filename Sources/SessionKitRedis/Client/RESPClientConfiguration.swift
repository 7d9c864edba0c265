import SessionKitRESP
import Foundation

/// Where and how to connect to Redis or Valkey.
public struct RESPClientConfiguration: Sendable {
    /// The server's host name or address.
    public var host: String
    /// The server's port (default 6379).
    public var port: Int
    /// The ACL user name (Redis 6+), if any.
    public var username: String?
    /// The password, if any.
    public var password: String?
    /// The database number selected on every connection (default 0).
    public var database: Int
    /// Whether to use TLS (`rediss://`).
    public var useTLS: Bool
    /// The RESP protocol version: 2 (default, every server) or 3 (`HELLO 3`, Redis 6+).
    public var protocolVersion: Int
    /// How many connections the pool keeps; requests are pipelined over them (default 4).
    public var connectionCount: Int
    /// The longest wait for a connection to open (default 2 seconds).
    public var connectTimeout: Duration
    /// The longest wait for a reply (default 2 seconds).
    public var commandTimeout: Duration
    /// The pause after the first failed connection attempt, doubled after each further one
    /// (default 50 ms).
    public var initialBackoff: Duration
    /// The longest pause between reconnection attempts while the server is away (default 1 second).
    public var maxBackoff: Duration
    /// Parser bounds.
    public var limits: RESPParser.Limits

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        useTLS: Bool = false,
        protocolVersion: Int = 2,
        connectionCount: Int = 4,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2),
        initialBackoff: Duration = .milliseconds(50),
        maxBackoff: Duration = .seconds(1),
        limits: RESPParser.Limits = RESPParser.Limits()
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.useTLS = useTLS
        self.protocolVersion = protocolVersion
        self.connectionCount = connectionCount
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.limits = limits
    }

    /// Parses `redis://[user[:password]@]host[:port][/db][?protocol=3]`; `rediss://` turns on TLS.
    public init(url text: String) throws(RESPClientError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme, scheme == "redis" || scheme == "rediss" else {
            throw RESPClientError.invalidURL("expected redis://[user[:password]@]host[:port][/db]")
        }
        guard let host = components.host, !host.isEmpty else { throw RESPClientError.invalidURL("the URL has no host") }
        self.init(host: host, port: components.port ?? 6379)
        useTLS = scheme == "rediss"
        // `URLComponents.user` and `.password` are already percent-decoded.
        if let user = components.user, !user.isEmpty { username = user }
        if let password = components.password { self.password = password }
        let path = components.path.drop(while: { $0 == "/" })
        if !path.isEmpty {
            guard let number = Int(path), number >= 0 else { throw RESPClientError.invalidURL("the database must be a number, got \(path)") }
            database = number
        }
        if let version = components.queryItems?.first(where: { $0.name == "protocol" })?.value {
            guard version == "2" || version == "3" else { throw RESPClientError.invalidURL("protocol must be 2 or 3") }
            protocolVersion = Int(version) ?? 2
        }
    }
}

extension RESPClientConfiguration {
    /// The same settings for the server at `address` (cluster nodes, Sentinels, the primary
    /// they name).
    func reaching(_ address: RESPNodeAddress) -> RESPClientConfiguration {
        var configuration = self
        configuration.host = address.host
        configuration.port = address.port
        return configuration
    }
}
