import SessionKitRESP

/// Hears what the server says about the keys a tracking connection read
/// (`CLIENT TRACKING ON OPTIN`, then `CLIENT CACHING YES` before each read to remember).
/// Called on the connection's event loop, in stream order with its replies.
package protocol RESPTrackingObserver: AnyObject, Sendable {
    /// The server says `invalidation` about keys connection `connection` read.
    func invalidated(_ invalidation: RESPInvalidation, connection: UInt64)
    /// Connection `connection` closed: the server no longer tells it about any key.
    func trackingEnded(connection: UInt64)
    /// The client moved to another server (a Sentinel failover): what was read from the old
    /// one may be stale on the new one.
    func serverChanged()
}
