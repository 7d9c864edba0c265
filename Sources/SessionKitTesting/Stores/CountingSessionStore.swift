import Foundation
import SessionKit

/// A store with every capability, as the test wrappers need it: they forward each call to
/// such a store and must offer the engine the same capabilities.
public typealias FullyCapableSessionStore = SessionUserIndexing & VersionedSessionStore & AtomicKeySessionStore & PingableSessionStore

/// Wraps a real store and counts calls per method, so tests can assert how many store calls
/// each lifecycle row costs.
public final class CountingSessionStore: FullyCapableSessionStore {
    /// The store calls that are counted.
    public enum Method: String, Sendable, CaseIterable {
        /// `SessionStore.load(_:)`
        case load
        /// `SessionStore.create(_:_:)`
        case create
        /// An update that changes keys (plain or versioned).
        case update
        /// An update that changes no key: it only moves the idle expiry.
        case touch
        /// `SessionStore.delete(_:)`
        case delete
        /// `SessionStore.rotate(_:to:record:)`
        case rotate
        /// `SessionUserIndexing.sessions(forUser:)`
        case sessionsForUser
        /// `SessionUserIndexing.deleteSessions(forUser:except:)`
        case deleteSessionsForUser
        /// `PingableSessionStore.ping()`
        case ping
        /// `AtomicKeySessionStore.compareAndSet(_:_:)`
        case compareAndSet
        /// `AtomicKeySessionStore.increment(_:_:)`
        case increment
    }

    /// The wrapped store.
    public let base: any FullyCapableSessionStore
    private let counts = LockedValue<[Method: Int]>([:])

    /// Wraps `base`.
    public init(_ base: any FullyCapableSessionStore) {
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

    /// Counts (as ``Method/update`` or ``Method/touch``) and forwards.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        count(update.isTouch ? .touch : .update)
        return try await base.update(id, update)
    }

    /// Counts (as ``Method/update`` or ``Method/touch``) and forwards.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        count(update.isTouch ? .touch : .update)
        return try await base.update(id, update, expectedVersion: expectedVersion)
    }

    /// Counts and forwards.
    public func delete(_ id: SessionStorageID) async throws {
        count(.delete)
        try await base.delete(id)
    }

    /// Counts and forwards (as one call, whatever the base store does inside).
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        count(.rotate)
        return try await base.rotate(oldID, to: newID, record: record)
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

    /// Counts and forwards.
    public func ping() async throws {
        count(.ping)
        try await base.ping()
    }

    /// Counts and forwards.
    public func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        count(.compareAndSet)
        return try await base.compareAndSet(id, write)
    }

    /// Counts and forwards.
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        count(.increment)
        return try await base.increment(id, increment)
    }

    /// The wrapped store's answer.
    public var incrementsNatively: Bool { base.incrementsNatively }
}
