import Foundation
import SessionKit
import Synchronization

/// Wraps a real store and counts calls per method, so tests can assert how many store calls
/// each lifecycle row costs.
public final class CountingSessionStore: SessionStore {
    /// The store methods that are counted.
    public enum Method: String, Sendable, CaseIterable {
        /// ``SessionStore/load(_:)``
        case load
        /// ``SessionStore/create(_:_:)``
        case create
        /// ``SessionStore/patch(_:_:)``
        case patch
        /// ``SessionStore/touch(_:idleExpiresAt:lastSeenAt:)``
        case touch
        /// ``SessionStore/delete(_:)``
        case delete
        /// ``SessionStore/replace(_:with:record:)``
        case replace
        /// ``SessionStore/sessions(forUser:)``
        case sessionsForUser
        /// ``SessionStore/deleteSessions(forUser:except:)``
        case deleteSessionsForUser
    }

    /// The wrapped store.
    public let base: any SessionStore
    private let counts = Mutex<[Method: Int]>([:])

    /// Wraps `base`.
    public init(_ base: any SessionStore) {
        self.base = base
    }

    /// How often each method was called since the last ``reset()``; methods never called are absent.
    public var calls: [Method: Int] { counts.withLock { $0 } }

    /// The total number of calls since the last ``reset()``.
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }

    /// Forgets all counts.
    public func reset() { counts.withLock { $0 = [:] } }

    private func count(_ method: Method) { counts.withLock { $0[method, default: 0] += 1 } }

    /// Counts and forwards.
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        count(.load)
        return try await base.load(id)
    }

    /// Counts and forwards.
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        count(.create)
        try await base.create(id, record)
    }

    /// Counts and forwards.
    public func patch(_ id: SessionStorageID, _ patch: SessionPatch) async throws -> SessionPatchResult {
        count(.patch)
        return try await base.patch(id, patch)
    }

    /// Counts and forwards.
    public func touch(_ id: SessionStorageID, idleExpiresAt: Date, lastSeenAt: Date) async throws -> Bool {
        count(.touch)
        return try await base.touch(id, idleExpiresAt: idleExpiresAt, lastSeenAt: lastSeenAt)
    }

    /// Counts and forwards.
    public func delete(_ id: SessionStorageID) async throws {
        count(.delete)
        try await base.delete(id)
    }

    /// Counts and forwards (as one call, whatever the base store does inside).
    public func replace(_ oldID: SessionStorageID, with newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        count(.replace)
        return try await base.replace(oldID, with: newID, record: record)
    }

    /// Counts and forwards.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        count(.sessionsForUser)
        return try await base.sessions(forUser: userID)
    }

    /// Counts and forwards.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        count(.deleteSessionsForUser)
        return try await base.deleteSessions(forUser: userID, except: keptID)
    }
}
