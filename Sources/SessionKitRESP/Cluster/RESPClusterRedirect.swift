/// What a cluster error reply asks the client to do, parsed from the server's error text.
///
/// `MOVED` means the slot lives elsewhere for good (refresh the slot map); `ASK` means this
/// one command should be retried on another node, after `ASKING` (the slot is migrating);
/// `TRYAGAIN`, `CLUSTERDOWN` and `LOADING` are transient: retry after a short pause.
public enum RESPClusterRedirect: Sendable, Hashable {
    /// The slot is served by `host:port` now.
    case moved(slot: Int, host: String, port: Int)
    /// Send this command once to `host:port`, preceded by `ASKING`.
    case ask(slot: Int, host: String, port: Int)
    /// A transient cluster state (`TRYAGAIN`, `CLUSTERDOWN`, `LOADING`): retry later.
    case retryLater(kind: String)

    /// Reads the redirect an error asks for, or `nil` for any other error.
    public init?(_ error: RESPClientError) {
        guard error.code == .server, let kind = error.serverKind else { return nil }
        switch kind {
        case "MOVED", "ASK":
            // "<slot> <host>:<port>"; the host may be an IPv6 address, so split at the last colon.
            let parts = error.message.split(separator: " ")
            guard parts.count == 2, let slot = Int(parts[0]), (0..<RESPHashSlot.count).contains(slot),
                let colon = parts[1].lastIndex(of: ":"), let port = Int(parts[1][parts[1].index(after: colon)...])
            else { return nil }
            let host = String(parts[1][..<colon])
            self = kind == "MOVED" ? .moved(slot: slot, host: host, port: port) : .ask(slot: slot, host: host, port: port)
        case "TRYAGAIN", "CLUSTERDOWN", "LOADING":
            self = .retryLater(kind: kind)
        default:
            return nil
        }
    }
}
