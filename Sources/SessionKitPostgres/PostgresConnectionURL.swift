import Foundation
import NIOSSL
import PostgresNIO
import SessionKit

/// Parses libpq-style URLs, `postgres://user:password@host:port[,host:port…]/database?sslmode=MODE&target_session_attrs=read-write`.
///
/// - `sslmode` is `disable`, `prefer` (the default) or `require` (`verify-full` is read as
///   `require`); TLS verifies the server certificate with the system's trust roots.
/// - `target_session_attrs` may be absent, `any`, `read-write` or `primary`: a session store
///   writes on every sign-in, so SessionKit always connects to the host that takes writes.
///   `read-only`, `standby` and `prefer-standby` are refused with a reason.
/// - `connect_timeout` is in seconds (default 3).
/// - `touch_commit` is SessionKit's own: `durable` (the default) or `asynchronous`, read by
///   ``touchCommit(from:)`` (see ``PostgresTouchCommit``).
///
/// One host: ``configuration(from:)`` gives a `PostgresClient` configuration. One or more hosts:
/// ``failoverConfiguration(from:)`` gives a ``PostgresPrimaryClient`` configuration.
public enum PostgresConnectionURL {
    /// Builds a client configuration from a URL that names one host; throws ``PostgresURLError``
    /// with the reason (for several hosts, use ``failoverConfiguration(from:)``).
    public static func configuration(from text: String) throws(PostgresURLError) -> PostgresClient.Configuration {
        let failover = try failoverConfiguration(from: text)
        guard failover.hosts.count == 1 else {
            throw PostgresURLError(
                "the URL names \(failover.hosts.count) hosts; use PostgresConnectionURL.failoverConfiguration(from:) and PostgresPrimaryClient"
            )
        }
        return failover.clientConfiguration(for: failover.hosts[0])
    }

    /// Builds a failover configuration from a URL that names one or more hosts; throws
    /// ``PostgresURLError`` with the reason.
    public static func failoverConfiguration(from text: String) throws(PostgresURLError) -> PostgresFailoverConfiguration {
        let parts = try parse(text)
        guard let user = parts.username, !user.isEmpty else { throw PostgresURLError("the URL has no user name") }
        let tls: PostgresFailoverConfiguration.TLS
        switch parts.value(of: "sslmode") ?? "prefer" {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        case let mode: throw PostgresURLError("sslmode must be disable, prefer or require, got \(mode)")
        }
        switch parts.value(of: "target_session_attrs") ?? "read-write" {
        case "any", "read-write", "primary": break
        case let attributes:
            throw PostgresURLError(
                "target_session_attrs must be read-write (or any, primary): a session store writes, so it always uses the writable primary; got \(attributes)"
            )
        }
        var options = PostgresClient.Configuration.Options()
        options.connectTimeout = .seconds(3)
        if let timeout = parts.value(of: "connect_timeout") {
            guard let seconds = Int(timeout), seconds > 0 else { throw PostgresURLError("connect_timeout must be a positive number of seconds") }
            options.connectTimeout = .seconds(seconds)
        }
        let database = parts.path.removingPercentEncoding ?? parts.path
        return PostgresFailoverConfiguration(
            hosts: parts.hosts.map { PostgresFailoverConfiguration.Host(host: $0.host, port: $0.port) },
            username: user,
            password: parts.password,
            database: database.isEmpty ? nil : database,
            tls: tls,
            options: options
        )
    }

    /// Reads how the store should commit touches from the URL's `touch_commit` (`durable`, the
    /// default, or `asynchronous`); throws ``PostgresURLError`` for any other value.
    public static func touchCommit(from text: String) throws(PostgresURLError) -> PostgresTouchCommit {
        guard let value = try parse(text).value(of: "touch_commit") else { return .durable }
        guard let mode = PostgresTouchCommit(rawValue: value) else {
            throw PostgresURLError("touch_commit must be durable or asynchronous, got \(value)")
        }
        return mode
    }

    private static let usage = "expected postgres://user:password@host:port[,host:port…]/database"

    private static func parse(_ text: String) throws(PostgresURLError) -> MultiHostURL {
        guard let prefix = ["postgres://", "postgresql://"].first(where: { text.hasPrefix($0) }) else {
            throw PostgresURLError("\(usage), got a malformed URL")
        }
        do {
            return try MultiHostURL(text, prefix: prefix, defaultPort: 5432)
        } catch {
            switch error {
            case .malformedHost(let position, let count):
                throw PostgresURLError("host \(position) of \(count) is malformed: \(usage)")
            }
        }
    }
}

/// A malformed PostgreSQL connection URL.
public struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    /// What is wrong (never includes the password).
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
