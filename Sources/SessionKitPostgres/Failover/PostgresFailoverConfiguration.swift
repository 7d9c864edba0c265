import NIOSSL
import PostgresNIO

/// The settings of a ``PostgresPrimaryClient``: the hosts of one PostgreSQL primary and its
/// standbys, the shared credentials, and how often to check which host is the primary.
///
/// Usually read from a URL with ``PostgresConnectionURL/failoverConfiguration(from:)``:
/// `postgres://user:password@h1:5432,h2:5432/db?target_session_attrs=read-write`.
public struct PostgresFailoverConfiguration: Sendable {
    /// One PostgreSQL server.
    public struct Host: Sendable, Hashable, CustomStringConvertible {
        /// The host name or address.
        public var host: String
        /// The TCP port.
        public var port: Int

        /// Creates a host entry; `port` defaults to PostgreSQL's 5432.
        public init(host: String, port: Int = 5432) {
            self.host = host
            self.port = port
        }

        /// `host:port`.
        public var description: String { "\(host):\(port)" }
    }

    /// Whether connections use TLS (libpq's `sslmode`).
    public enum TLS: Sendable {
        /// Plain TCP (`sslmode=disable`).
        case disable
        /// TLS when the server offers it (`sslmode=prefer`).
        case prefer(TLSConfiguration)
        /// TLS or no connection (`sslmode=require` / `verify-full`).
        case require(TLSConfiguration)
    }

    /// The servers, in the order they are preferred when several claim to be writable.
    public var hosts: [Host]
    /// The role to log in as.
    public var username: String
    /// The password, if the server asks for one.
    public var password: String?
    /// The database, or the server's default for `username`.
    public var database: String?
    /// TLS for the pools and the probes.
    public var tls: TLS
    /// Pool options applied to every host's `PostgresClient`.
    public var options: PostgresClient.Configuration.Options
    /// How often the client confirms that its primary is still the writable one, even when
    /// nothing failed (a switchover that demotes the old primary without closing connections).
    public var recheckInterval: Duration
    /// How long one probe (connect, log in, ask `pg_is_in_recovery()`) may take before its host
    /// counts as unreachable.
    public var probeTimeout: Duration
    /// How long requests fail fast, without a new probe, after a probe round found no writable
    /// host (while a standby is being promoted).
    public var noPrimaryRetryInterval: Duration

    /// Creates a configuration; every host shares the credentials, TLS and pool options.
    public init(
        hosts: [Host],
        username: String,
        password: String?,
        database: String?,
        tls: TLS,
        options: PostgresClient.Configuration.Options = .init(),
        recheckInterval: Duration = .seconds(2),
        probeTimeout: Duration = .seconds(2),
        noPrimaryRetryInterval: Duration = .milliseconds(100)
    ) {
        self.hosts = hosts
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.options = options
        self.recheckInterval = recheckInterval
        self.probeTimeout = probeTimeout
        self.noPrimaryRetryInterval = noPrimaryRetryInterval
    }

    /// The pool configuration for one host.
    public func clientConfiguration(for host: Host) -> PostgresClient.Configuration {
        let clientTLS: PostgresClient.Configuration.TLS =
            switch tls {
            case .disable: .disable
            case .prefer(let configuration): .prefer(configuration)
            case .require(let configuration): .require(configuration)
            }
        var configuration = PostgresClient.Configuration(
            host: host.host,
            port: host.port,
            username: username,
            password: password,
            database: database,
            tls: clientTLS
        )
        configuration.options = options
        return configuration
    }

    /// The single-connection configuration the probes use, with `probeTimeout` as the connect timeout.
    func probeConfiguration(for host: Host) throws -> PostgresConnection.Configuration {
        let probeTLS: PostgresConnection.Configuration.TLS =
            switch tls {
            case .disable: .disable
            case .prefer(let configuration): .prefer(try NIOSSLContext(configuration: configuration))
            case .require(let configuration): .require(try NIOSSLContext(configuration: configuration))
            }
        var configuration = PostgresConnection.Configuration(
            host: host.host,
            port: host.port,
            username: username,
            password: password,
            database: database,
            tls: probeTLS
        )
        let components = probeTimeout.components
        configuration.options.connectTimeout = .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
        return configuration
    }
}
