import SessionKitRESP

/// A client whose reads can be tracked for the client-side cache: one server's pool, or the
/// Sentinel client (the current primary's pool).
package protocol RESPTrackedSending: Sendable {
    /// Sends `commands` on one tracking connection, calling `beforeSending` with that
    /// connection's ID before a byte is written (once per attempt).
    func sendTracked(_ commands: [RESPCommand], beforeSending: (UInt64) -> Void) async throws -> [RESPReply]
}

extension RESPConnectionPool: RESPTrackedSending {}

extension RESPSentinelClient: RESPTrackedSending {}
