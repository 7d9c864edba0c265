import Foundation

/// Where server-side sessions live: memory, SQLite, PostgreSQL, Redis/Valkey, or your own.
///
/// Stores know nothing about HTTP or tokens: every method takes the ``SessionStorageID``
/// (SHA-256 of the token). The engine decides *when* to call them; a store only has to keep
/// these contracts, which `SessionKitTesting`'s conformance suite checks:
///
/// - A record is gone from its ``SessionRecord/expiresAt`` on: ``load(_:)`` returns `nil`,
///   ``patch(_:_:)`` and ``touch(_:idleExpiresAt:lastSeenAt:)`` do nothing, listings skip it.
///   The store also removes it eventually by itself (TTL or sweeper), with no request.
/// - Nothing ever re-creates a record that is gone: only ``create(_:_:)`` and
///   ``replace(_:with:record:)`` make records.
/// - Every method returns or throws within the store's own timeout; failures are thrown as
///   ``SessionStoreError`` so the engine can answer 503 instead of signing anyone out.
public protocol SessionStore: Sendable {
    /// Returns the live record, or `nil` when there is none (unknown, deleted or expired).
    func load(_ id: SessionStorageID) async throws -> SessionRecord?

    /// Stores a new record. Throws ``SessionStoreError/collision`` when a live record already
    /// has this ID (an expired one may be replaced).
    func create(_ id: SessionStorageID, _ record: SessionRecord) async throws

    /// Merges a patch into a live record atomically: sets `setValues`, removes `removedKeys`,
    /// updates user ID and idle expiry. Returns ``SessionPatchResult/notFound`` and writes
    /// nothing when the record is gone; other keys written concurrently are kept.
    func patch(_ id: SessionStorageID, _ patch: SessionPatch) async throws -> SessionPatchResult

    /// Extends a live record's idle expiry. Returns `false` (and writes nothing) when the
    /// record is gone.
    func touch(_ id: SessionStorageID, idleExpiresAt: Date, lastSeenAt: Date) async throws -> Bool

    /// Deletes a record if it exists. Deleting nothing is not an error.
    func delete(_ id: SessionStorageID) async throws

    /// Moves a live session to a new ID: creates `record` under `newID` and deletes `oldID` as
    /// one step, so the old token is dead the moment the new one works. Returns `false` and
    /// writes nothing when `oldID` is gone (destroyed or expired meanwhile: no resurrection
    /// under a new name). Throws ``SessionStoreError/collision`` if `newID` is taken.
    func replace(_ oldID: SessionStorageID, with newID: SessionStorageID, record: SessionRecord) async throws -> Bool

    /// Lists a user's live sessions (metadata only), oldest first.
    func sessions(forUser userID: String) async throws -> [SessionSummary]

    /// Deletes all of a user's sessions except `keptID` (if given). Returns how many it deleted.
    func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int
}

extension SessionStore {
    /// Default: check, create, delete. Stores that can do it in one transaction override it.
    public func replace(_ oldID: SessionStorageID, with newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        guard try await load(oldID) != nil else { return false }
        try await create(newID, record)
        try await delete(oldID)
        return true
    }
}

/// Failures a store reports. The engine maps all of them except ``collision`` to
/// ``SessionError/storeUnavailable(_:)`` (503 with `Retry-After`).
public enum SessionStoreError: Error, Sendable, Equatable {
    /// A live record already has this ID.
    case collision
    /// The store could not be reached or answered with an error.
    case unavailable(reason: String)
    /// The store did not answer within its timeout.
    case timedOut
    /// The store's data for this session could not be read (corrupt row, wrong type).
    case corrupt(reason: String)
}
