import Foundation

/// A change to an existing session: only the keys that changed, plus the new idle expiry.
///
/// Stores apply it as one atomic merge (`data || set - removed` in SQL, `HSET`/`HDEL` in
/// Redis), so two requests that change different keys of one session both survive.
public struct SessionPatch: Sendable, Equatable {
    /// How a patch affects the record's user ID.
    public enum UserIDChange: Sendable, Equatable {
        /// Leave the user ID as it is.
        case unchanged
        /// Replace the user ID (`nil` clears it).
        case set(String?)
    }

    /// Keys to write, with their JSON-encoded values.
    public var setValues: [String: Data]
    /// Keys to delete.
    public var removedKeys: Set<String>
    /// The user ID change, if any.
    public var userID: UserIDChange
    /// The new idle expiry.
    public var idleExpiresAt: Date
    /// The instant of this write, recorded as "last seen".
    public var lastSeenAt: Date
    /// In versioned mode, the version the writer read; a store rejects the patch with
    /// ``SessionPatchResult/conflict`` when the record has moved on.
    public var expectedVersion: UInt64?
    /// A new absolute expiry, for bookkeeping records that must outlive what they track
    /// (revocation epochs). The engine never moves a session's absolute expiry.
    public var absoluteExpiresAt: Date?

    /// Creates a patch.
    public init(
        setValues: [String: Data] = [:],
        removedKeys: Set<String> = [],
        userID: UserIDChange = .unchanged,
        idleExpiresAt: Date,
        lastSeenAt: Date,
        expectedVersion: UInt64? = nil,
        absoluteExpiresAt: Date? = nil
    ) {
        self.setValues = setValues
        self.removedKeys = removedKeys
        self.userID = userID
        self.idleExpiresAt = idleExpiresAt
        self.lastSeenAt = lastSeenAt
        self.expectedVersion = expectedVersion
        self.absoluteExpiresAt = absoluteExpiresAt
    }
}

/// What happened to a patch.
public enum SessionPatchResult: Sendable, Equatable {
    /// The patch was applied; the record now has this version.
    case applied(version: UInt64)
    /// No live record has that ID (never existed, destroyed, or expired). Nothing was written.
    case notFound
    /// Versioned mode only: the record's version is not the one expected. Nothing was written.
    case conflict(currentVersion: UInt64)
}
