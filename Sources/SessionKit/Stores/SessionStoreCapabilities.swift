/// A store that indexes sessions by user: "list my devices", "sign out everywhere" and the
/// per-user session cap need it. The engine refuses a configuration with a session cap over a
/// store without it, and the handle's per-user calls throw ``SessionError/unsupported(_:)``.
///
/// Records are indexed by ``SessionRecord/userID``, compared by its bytes.
public protocol SessionUserIndexing: SessionStore {
    /// Lists a user's live sessions (metadata only), oldest first.
    func sessions(forUser userID: String) async throws -> [SessionSummary]

    /// Deletes all of a user's sessions except `keptID` (if given). Returns how many live
    /// sessions it deleted.
    func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int
}

/// A store that enforces the per-user session cap in the same atomic step that writes the
/// sign-in, so the cap is exact however many instances sign one user in at once: no moment
/// with more than ``SessionConfiguration/ConcurrentSessionLimit/maxSessions`` live sessions,
/// and with `.refuse` exactly the first `maxSessions` sign-ins succeed.
///
/// Without it the engine enforces the cap itself around the store's `create`/`rotate`: it
/// converges to the cap across instances, but concurrent sign-ins through different instances
/// can briefly exceed it.
public protocol SessionCappingStore: SessionUserIndexing {
    /// Creates the signed-in session `id` (moving the live session `oldID` to it when given,
    /// as ``SessionStore/rotate(_:to:record:)`` does) while keeping `record.userID`'s live
    /// sessions within `limit`: with `.evictOldest` the oldest others end in the same step;
    /// with `.refuse` nothing is written when the user already has `maxSessions` others.
    /// Throws ``SessionStoreError/collision`` when a live record already has `id`.
    func create(
        _ id: SessionStorageID,
        _ record: SessionRecord,
        replacing oldID: SessionStorageID?,
        within limit: SessionConfiguration.ConcurrentSessionLimit
    ) async throws -> SessionCapResult
}

/// What a capped sign-in did.
public enum SessionCapResult: Sendable, Equatable {
    /// The session was written; `evicted` lists the sessions that ended to make room.
    case created(evicted: [SessionStorageID])
    /// The user already had the cap's number of sessions (`.refuse`); nothing was written.
    case refused
    /// The session to be replaced was no longer live; nothing was written.
    case replacedSessionEnded
}

/// A store that can reject a stale write: the optional versioned-write mode
/// (``SessionConfiguration/versionedWrites``) and sealed-cookie revocation epochs need it.
public protocol VersionedSessionStore: SessionStore {
    /// Applies `update` like ``SessionStore/update(_:_:)``, but only while the record's
    /// ``SessionRecord/version`` is still `expectedVersion`.
    func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult
}

/// What a versioned update did.
public enum SessionUpdateResult: Sendable, Equatable {
    /// The update was applied.
    case applied
    /// No live record has that ID (never existed, destroyed, or expired). Nothing was written.
    case notFound
    /// The record's version is not the one expected: another request wrote first. Nothing was
    /// written.
    case conflict
}

/// A store that can tell whether it is reachable, for a readiness probe (`/readyz`).
public protocol PingableSessionStore: SessionStore {
    /// Returns when the store answers a trivial request; throws ``SessionStoreError`` otherwise.
    func ping() async throws
}

/// A store that names its database for tracing: the OpenTelemetry `db.system.name` of the
/// engine's store-call spans (`redis`, `postgresql`, `sqlite`, `memory`).
public protocol DatabaseNamingSessionStore: SessionStore {
    /// The database's OpenTelemetry name.
    var databaseSystem: String { get }
}

/// A store whose calls never wait on I/O or another process (an in-memory dictionary behind a
/// lock), so ``SessionConfiguration/storeTimeout`` cannot apply: the engine calls it directly,
/// without the deadline's two tasks. Conform only when every call returns promptly on its own.
public protocol InProcessSessionStore: SessionStore {}

/// A store that can answer some loads from this process's memory, at once and without I/O
/// (a client-side cache kept consistent by the server, such as the Redis store's). The engine
/// asks it before the store call: a hit costs no round trip and none of the
/// ``SessionConfiguration/storeTimeout`` deadline's two tasks; a miss makes the ordinary
/// ``SessionStore/load(_:)`` call, which may then fill the cache.
public protocol LocallyCachingSessionStore: SessionStore {
    /// The live record for `id` when this process holds it and may serve it now; `nil` when
    /// the store must be asked (not cached, or no longer fresh). Must not block or wait.
    func locallyCachedRecord(_ id: SessionStorageID) -> SessionRecord?
}

/// A store that knows how many sessions it holds without scanning them, for the
/// `sessionkit_active_sessions` gauge (``SessionEngine/recordActiveSessions()``). Adopt it
/// only when the count is cheap: the memory store keeps a running total; a SQL `count(*)` or
/// a Redis key scan is not cheap, so those stores leave the gauge out.
public protocol SessionCountingStore: SessionStore {
    /// The number of sessions held now (expired ones count until they are removed).
    func sessionCount() async throws -> Int
}

/// A store that decides where a signed-in user's sessions live, so they sit together with the
/// user's index (one Redis Cluster slot) and every lifecycle step of that user is one atomic
/// operation. The engine asks it for a ``SessionPlacement`` whenever it issues a token for a
/// signed-in session and puts the placement in the token (``SessionToken/generate(placement:)``);
/// a rotation that keeps the session anonymous keeps the placement it had. Anonymous
/// sessions get none, and stores without this capability never see one.
public protocol SessionPlacingStore: SessionStore {
    /// The placement of every session `userID` signs in to; the same on every instance, so
    /// it must be a pure function of the user ID (and the store's configuration).
    func placement(forUser userID: String) -> SessionPlacement
}
