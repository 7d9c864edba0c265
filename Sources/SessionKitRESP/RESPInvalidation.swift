/// A client-tracking invalidation (`CLIENT TRACKING`), read from a RESP3 push:
/// `>2 invalidate [key …]` for keys that changed, expired or were evicted, or
/// `>2 invalidate (null)` when the server flushed its data or stopped tracking.
package enum RESPInvalidation: Sendable, Equatable {
    /// These keys changed: drop what was read from them.
    case keys([String])
    /// Anything read from this connection may have changed.
    case everything

    /// The invalidation a push carries, or `nil` for any other push (pub/sub messages).
    package init?(push: RESPReply) {
        guard case .push(let parts) = push, parts.count == 2, parts[0].string == "invalidate" else { return nil }
        switch parts[1] {
        case .null:
            self = .everything
        case .array(let keys):
            self = .keys(keys.compactMap(\.string))
        default:
            return nil
        }
    }
}
