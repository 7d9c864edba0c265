import Foundation

/// Everything a store keeps for one session.
///
/// `data` maps key names to JSON-encoded values. The two expiry instants are kept apart so a
/// busy session can never outlive its absolute limit: ``expiresAt`` is the earlier of them,
/// and stores must treat a record as gone from that instant on (TTL, `expires_at` column, or
/// a check on read).
public struct SessionRecord: Sendable, Equatable {
    /// Session values by key name, each JSON-encoded.
    public var data: [String: Data]
    /// The signed-in user, if any; indexed by stores for "list / sign out my sessions".
    public var userID: String?
    /// When the session was created (or last signed in).
    public var createdAt: Date
    /// When the session was last written or touched.
    public var lastSeenAt: Date
    /// When the session ends if no request touches it.
    public var idleExpiresAt: Date
    /// When the session ends however busy it is.
    public var absoluteExpiresAt: Date
    /// The client's `User-Agent` when the session was created, for session listings.
    public var userAgent: String?
    /// Incremented by every update; used by the optional versioned-write mode.
    public var version: UInt64

    /// Creates a record.
    public init(
        data: [String: Data],
        userID: String? = nil,
        createdAt: Date,
        lastSeenAt: Date? = nil,
        idleExpiresAt: Date,
        absoluteExpiresAt: Date,
        userAgent: String? = nil,
        version: UInt64 = 1
    ) {
        self.data = data
        self.userID = userID
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt ?? createdAt
        self.idleExpiresAt = idleExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.userAgent = userAgent
        self.version = version
    }

    /// The instant the record stops existing: the earlier of the idle and absolute expiry.
    public var expiresAt: Date { min(idleExpiresAt, absoluteExpiresAt) }

    /// Whether the record has expired at `now`.
    public func isExpired(at now: Date) -> Bool { expiresAt <= now }

    /// Applies an update to this record in memory (the reference semantics every store
    /// matches): keys set and removed, idle expiry and last-seen moved, version bumped.
    public mutating func apply(_ update: SessionUpdate) {
        for name in update.removedKeys { data.removeValue(forKey: name) }
        for (name, value) in update.setValues { data[name] = value }
        idleExpiresAt = update.idleExpiresAt
        lastSeenAt = update.lastSeenAt
        version &+= 1
    }

    /// The record's listing entry.
    public func summary(id: SessionStorageID) -> SessionSummary {
        SessionSummary(
            id: id,
            userID: userID,
            createdAt: createdAt,
            lastSeenAt: lastSeenAt,
            expiresAt: expiresAt,
            userAgent: userAgent
        )
    }
}

/// A session as listed for its user: metadata only, never data or tokens.
public struct SessionSummary: Sendable, Equatable {
    /// The storage ID (digest) of the session.
    public var id: SessionStorageID
    /// The user the session belongs to.
    public var userID: String?
    /// When the session was created (or signed in).
    public var createdAt: Date
    /// When the session was last written or touched.
    public var lastSeenAt: Date
    /// When the session will end unless touched.
    public var expiresAt: Date
    /// The client's `User-Agent` when the session was created.
    public var userAgent: String?

    /// Creates a summary.
    public init(id: SessionStorageID, userID: String?, createdAt: Date, lastSeenAt: Date, expiresAt: Date, userAgent: String?) {
        self.id = id
        self.userID = userID
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.userAgent = userAgent
    }
}
