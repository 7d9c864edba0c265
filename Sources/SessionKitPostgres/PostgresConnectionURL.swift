import Foundation
import PostgresNIO

/// Parses `postgres://user:password@host:port/database?sslmode=MODE` into a
/// `PostgresClient.Configuration`.
///
/// `sslmode` is `disable`, `prefer` (the default) or `require`; `require` verifies the
/// server certificate with the system's trust roots.
public enum PostgresConnectionURL {
    /// Builds a client configuration from a URL; throws ``PostgresURLError`` with the reason.
    public static func configuration(from text: String) throws(PostgresURLError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw PostgresURLError("expected postgres://user:password@host:port/database, got a malformed URL")
        }
        guard let host = components.host, !host.isEmpty else { throw PostgresURLError("the URL has no host") }
        guard let user = components.user, !user.isEmpty else { throw PostgresURLError("the URL has no user name") }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw PostgresURLError("sslmode must be disable, prefer or require, got \(mode)")
        }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user,  // URLComponents has already percent-decoded user and password
            password: components.password,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
        configuration.options.connectTimeout = .seconds(3)
        return configuration
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
