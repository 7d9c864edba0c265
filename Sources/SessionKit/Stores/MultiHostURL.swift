import Foundation

/// The parts of a URL that names several servers,
/// `scheme://[user[:password]@]host[:port][,host[:port]…][/path][?query][#fragment]`: libpq's
/// multi-host syntax, which `URLComponents` cannot parse. The Redis cluster and Sentinel URLs
/// and the PostgreSQL failover URL share it; each store reads `path` and `query` its own way.
package struct MultiHostURL: Sendable {
    /// One server, as written (an IPv6 literal without its brackets).
    package struct Host: Sendable, Hashable {
        /// The host name or address.
        package var host: String
        /// The port (the store's default when the URL gives none).
        package var port: Int
    }

    /// Why a URL could not be split; never echoes URL text (a password can land anywhere).
    package enum Failure: Error, Sendable, Equatable {
        /// Host `position` (1-based) of `count` is empty or malformed.
        case malformedHost(position: Int, count: Int)
    }

    /// The hosts, in the order given.
    package var hosts: [Host]
    /// The percent-decoded user name, if any.
    package var username: String?
    /// The percent-decoded password, if any.
    package var password: String?
    /// The text after the first `/` that follows the hosts, without leading slashes.
    package var path: String
    /// The query's `name=value` pairs, in order, percent-decoded.
    package var query: [(name: String, value: String)]
    /// The percent-decoded text after `#`, if any.
    package var fragment: String?

    /// Splits `text`, which starts with `prefix` (the scheme and `://`); ports default to `defaultPort`.
    package init(_ text: String, prefix: String, defaultPort: Int) throws(Failure) {
        var rest = Substring(text.dropFirst(prefix.count))
        if let mark = rest.firstIndex(of: "#") {
            fragment = Self.decoded(rest[rest.index(after: mark)...])
            rest = rest[..<mark]
        }
        query = []
        if let mark = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: mark)...].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((Self.decoded(pair[0]), pair.count > 1 ? Self.decoded(pair[1]) : ""))
            }
            rest = rest[..<mark]
        }
        if let at = rest.lastIndex(of: "@") {
            let parts = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let user = Self.decoded(parts[0])
            if !user.isEmpty { username = user }
            if parts.count > 1 { password = Self.decoded(parts[1]) }
            rest = rest[rest.index(after: at)...]
        }
        path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...].drop(while: { $0 == "/" }))
            rest = rest[..<slash]
        }
        hosts = []
        let parts = rest.split(separator: ",", omittingEmptySubsequences: false)
        for (position, part) in parts.enumerated() {
            // A URL parser per host keeps IPv6 literals ([::1]:7000) and ports honest.
            guard let components = URLComponents(string: "x://" + part), let host = components.host, !host.isEmpty,
                components.path.isEmpty
            else { throw .malformedHost(position: position + 1, count: parts.count) }
            // URLComponents keeps an IPv6 literal's brackets; sockets and server replies do not.
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            hosts.append(Host(host: bare, port: components.port ?? defaultPort))
        }
    }

    /// The value of the last query item called `name`, if present.
    package func value(of name: String) -> String? {
        query.last(where: { $0.name == name })?.value
    }

    private static func decoded(_ text: Substring) -> String {
        text.removingPercentEncoding ?? String(text)
    }
}
