import Foundation
import SessionKit
import SessionKitRESP

/// A cluster or Sentinel URL split by the package's `MultiHostURL`, with the path read as a
/// database number.
struct RESPMultiHostURL {
    /// The hosts, in the order given (IPv6 literals without their brackets).
    var hosts: [RESPNodeAddress]
    /// The percent-decoded user name, if any.
    var username: String?
    /// The percent-decoded password, if any.
    var password: String?
    /// The database number after the hosts (0 when absent).
    var database: Int
    /// The query's `name=value` pairs.
    var query: [(name: String, value: String)]
    /// The percent-decoded text after `#`, if any.
    var fragment: String?

    /// Splits `text`, which starts with `prefix`; ports default to `defaultPort`.
    init(_ text: String, prefix: String, defaultPort: Int, usage: String) throws(RESPClientError) {
        let parts: MultiHostURL
        do {
            parts = try MultiHostURL(text, prefix: prefix, defaultPort: defaultPort)
        } catch {
            switch error {
            case .malformedHost(let position, let count):
                // Named by position, not echoed: a raw `#` or `@` in a password can land here.
                throw .invalidURL("host \(position) of \(count) is malformed: \(usage)")
            }
        }
        hosts = parts.hosts.map { RESPNodeAddress(host: $0.host, port: $0.port) }
        username = parts.username
        password = parts.password
        query = parts.query
        fragment = parts.fragment
        database = 0
        if !parts.path.isEmpty {
            guard let number = Int(parts.path), number >= 0 else { throw .invalidURL("the database must be a number, got \(parts.path)") }
            database = number
        }
    }

    /// The value of the query item `name`, if present.
    func value(of name: String) -> String? {
        query.last(where: { $0.name == name })?.value
    }

    /// A node configuration with these credentials, `useTLS` and the `protocol` query item.
    func nodeConfiguration(useTLS: Bool) throws(RESPClientError) -> RESPClientConfiguration {
        var node = RESPClientConfiguration()
        node.useTLS = useTLS
        node.username = username
        node.password = password
        node.database = database
        if let version = value(of: "protocol") {
            guard version == "2" || version == "3" else { throw .invalidURL("protocol must be 2 or 3") }
            node.protocolVersion = version == "3" ? 3 : 2
        }
        return node
    }
}
