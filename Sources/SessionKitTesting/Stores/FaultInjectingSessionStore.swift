import Foundation
import SessionKit

/// Wraps a real store and makes it fail on demand, to test the failure policy: an outage
/// (every call throws `SessionStoreError.unavailable(reason:)`) or a hang (every call waits
/// until the fault is cleared or its task is cancelled, like a socket that never answers).
public final class FaultInjectingSessionStore: FullyCapableSessionStore {
    /// The fault currently injected.
    public enum Fault: Sendable, Equatable {
        /// Calls go through to the wrapped store.
        case none
        /// Calls throw `SessionStoreError.unavailable(reason:)`.
        case unavailable
        /// Calls block until the fault is set back to `.none`.
        case hang
    }

    /// The wrapped store.
    public let base: any FullyCapableSessionStore
    private let state = LockedValue<(fault: Fault, waiters: [UInt64: CheckedContinuation<Void, Never>], nextWaiter: UInt64)>(
        (.none, [:], 0)
    )

    /// Wraps `base`.
    public init(_ base: any FullyCapableSessionStore) {
        self.base = base
    }

    /// The fault in force; setting `.none` releases hung calls.
    public var fault: Fault {
        get { state.withLock { $0.fault } }
        set {
            let released = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.fault = newValue
                guard newValue != .hang else { return [] }
                defer { state.waiters = [:] }
                return Array(state.waiters.values)
            }
            for waiter in released { waiter.resume() }
        }
    }

    /// How many calls are hung right now, so a test can wait until a request reached the store.
    public var hungCalls: Int { state.withLock { $0.waiters.count } }

    /// The calls the fault applies to; `nil` (the default) means every call.
    public var affectedCalls: Set<CountingSessionStore.Method>? {
        get { affected.withLock { $0 } }
        set { affected.withLock { $0 = newValue } }
    }
    private let affected = LockedValue<Set<CountingSessionStore.Method>?>(nil)

    private func gate(_ method: CountingSessionStore.Method) async throws {
        if let affected = affectedCalls, !affected.contains(method) { return }
        try await gate()
    }

    private func gate() async throws {
        let fault = state.withLock { $0.fault }
        switch fault {
        case .none: return
        case .unavailable: throw SessionStoreError.unavailable(reason: "injected outage")
        case .hang:
            let id = state.withLock { state in
                defer { state.nextWaiter += 1 }
                return state.nextWaiter
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    // `Task.isCancelled` is set before the handler runs, so checking it under
                    // the lock means either this parks and the handler finds it, or this sees
                    // the cancellation and does not park.
                    let parked = state.withLock { state -> Bool in
                        guard state.fault == .hang, !Task.isCancelled else { return false }
                        state.waiters[id] = continuation
                        return true
                    }
                    if !parked { continuation.resume() }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
            }
            try Task.checkCancellation()
            try await gate()
        }
    }

    /// Forwards unless a fault is injected.
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        try await gate(.load)
        return try await base.load(id)
    }

    /// Forwards unless a fault is injected.
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        try await gate(.create)
        try await base.create(id, record)
    }

    /// Forwards unless a fault is injected.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        try await gate(.update)
        return try await base.update(id, update)
    }

    /// Forwards unless a fault is injected.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        try await gate(.update)
        return try await base.update(id, update, expectedVersion: expectedVersion)
    }

    /// Forwards unless a fault is injected.
    public func delete(_ id: SessionStorageID) async throws {
        try await gate(.delete)
        try await base.delete(id)
    }

    /// Forwards unless a fault is injected.
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        try await gate(.rotate)
        return try await base.rotate(oldID, to: newID, record: record)
    }

    /// Forwards unless a fault is injected.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        try await gate(.sessionsForUser)
        return try await base.sessions(forUser: userID)
    }

    /// Forwards unless a fault is injected.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        try await gate(.deleteSessionsForUser)
        return try await base.deleteSessions(forUser: userID, except: keptID)
    }

    /// Forwards unless a fault is injected.
    public func ping() async throws {
        try await gate(.ping)
        try await base.ping()
    }

    /// Forwards unless a fault is injected.
    public func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        try await gate(.compareAndSet)
        return try await base.compareAndSet(id, write)
    }

    /// Forwards unless a fault is injected.
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        try await gate(.increment)
        return try await base.increment(id, increment)
    }

    /// The wrapped store's answer.
    public var incrementsNatively: Bool { base.incrementsNatively }
}
