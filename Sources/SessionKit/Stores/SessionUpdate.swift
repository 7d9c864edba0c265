import Foundation

/// A change to an existing session: only the keys that changed, plus the new idle expiry.
///
/// Stores apply it as one atomic merge (`data || set - removed` in SQL, `HSET`/`HDEL` in
/// Redis), so two requests that change different keys of one session both survive. An update
/// with no keys is a touch: it only moves the idle expiry and the last-seen instant.
public struct SessionUpdate: Sendable, Equatable {
    /// Keys to write, with their JSON-encoded values.
    public var setValues: [String: Data]
    /// Keys to delete.
    public var removedKeys: Set<String>
    /// The new idle expiry. Stores never let the record outlive its absolute expiry.
    public var idleExpiresAt: Date
    /// The instant of this write, recorded as "last seen".
    public var lastSeenAt: Date
    /// Whether losing this write would reopen access (a sealed-cookie revocation epoch's bump):
    /// a store that replicates asynchronously confirms it on a replica before returning, as it
    /// does sign-outs. Default `false`; stores without replicas ignore it.
    public var isSecurityCritical: Bool = false

    /// Creates an update.
    public init(setValues: [String: Data] = [:], removedKeys: Set<String> = [], idleExpiresAt: Date, lastSeenAt: Date) {
        self.setValues = setValues
        self.removedKeys = removedKeys
        self.idleExpiresAt = idleExpiresAt
        self.lastSeenAt = lastSeenAt
    }

    /// Whether the update changes no key (a touch).
    public var isTouch: Bool { setValues.isEmpty && removedKeys.isEmpty }
}
