import Foundation
import SessionKitRESP

/// The parts of a URL that names several servers, `scheme://[user[:password]@]host[:port][,host[:port]…][/db][?query][#fragment]`,
/// shared by the cluster and Sentinel URLs (libpq's multi-host syntax, which `URLComponents`
/// cannot parse).
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
        var rest = Substring(text.dropFirst(prefix.count))
        if let mark = rest.firstIndex(of: "#") {
            let raw = String(rest[rest.index(after: mark)...])
            fragment = raw.removingPercentEncoding ?? raw
            rest = rest[..<mark]
        }
        query = []
        if let mark = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: mark)...].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((String(pair[0]), pair.count > 1 ? String(pair[1]) : ""))
            }
            rest = rest[..<mark]
        }
        if let at = rest.lastIndex(of: "@") {
            let parts = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let user = parts[0].removingPercentEncoding ?? String(parts[0])
            if !user.isEmpty { username = user }
            if parts.count > 1 { password = parts[1].removingPercentEncoding ?? String(parts[1]) }
            rest = rest[rest.index(after: at)...]
        }
        database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...].drop(while: { $0 == "/" })
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw .invalidURL("the database must be a number, got \(path)") }
                database = number
            }
            rest = rest[..<slash]
        }
        hosts = []
        let parts = rest.split(separator: ",", omittingEmptySubsequences: false)
        for (position, part) in parts.enumerated() {
            // A single URL parser per host keeps IPv6 literals ([::1]:7000) and ports honest.
            guard let components = URLComponents(string: "redis://" + part), let host = components.host, !host.isEmpty,
                components.path.isEmpty
                // Named by position, not echoed: a raw `#` or `@` in a password can land here.
            else { throw .invalidURL("host \(position + 1) of \(parts.count) is malformed: \(usage)") }
            // URLComponents keeps an IPv6 literal's brackets; sockets and server replies do not.
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            hosts.append(RESPNodeAddress(host: bare, port: components.port ?? defaultPort))
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
