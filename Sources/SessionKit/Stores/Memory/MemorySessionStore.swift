import Foundation
import Synchronization

/// An in-process session store: the default for tests and single-process apps.
///
/// - **Concurrency:** records are spread over independently locked shards, so concurrent
///   requests rarely wait on one another.
/// - **Bounded:** at most ``maxSessions`` live records; when full, creating a session first
///   removes expired records, then evicts the ones closest to expiry.
/// - **Expiry:** every read honours idle and absolute expiry. Expired records are removed as
///   writes happen (and by ``sweepExpired()``) at a cost proportional to what expired, not to
///   what is stored.
///
/// Sessions live only as long as the process. Use SQLite for one persistent process, and
/// PostgreSQL or Redis/Valkey when several instances share sessions.
public final class MemorySessionStore: SweepableSessionStore {
    /// The maximum number of live sessions the store keeps.
    public let maxSessions: Int
    private let clock: any SessionClock
    private let shards: [ShardBox]
    private let perShardLimit: Int

    /// Creates a memory store.
    /// - Parameters:
    ///   - maxSessions: the bound on live sessions (default one million).
    ///   - shardCount: how many independently locked shards to use (default 16).
    ///   - clock: the clock expiry is judged by.
    public init(maxSessions: Int = 1_000_000, shardCount: Int = 16, clock: any SessionClock = SystemSessionClock()) {
        let shardCount = max(1, shardCount)
        self.maxSessions = max(1, maxSessions)
        self.clock = clock
        self.perShardLimit = max(1, (self.maxSessions + shardCount - 1) / shardCount)
        self.shards = (0..<shardCount).map { _ in ShardBox() }
    }

    @inline(__always)
    private func shard(for id: SessionStorageID) -> ShardBox {
        shards[Int(id.shardSeed % UInt64(shards.count))]
    }

    /// The number of records held, live or expired but not yet swept.
    public var count: Int {
        shards.reduce(0) { total, shard in total + shard.withLock { $0.records.count } }
    }

    /// Returns the live record for `id`.
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        let now = clock.now()
        return shard(for: id).withLock { shard in
            guard let slot = shard.records[id], !slot.record.isExpired(at: now) else { return nil }
            return slot.record
        }
    }

    /// Stores a new record, evicting as needed to stay within ``maxSessions``.
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        let now = clock.now()
        try shard(for: id).withLock { shard in
            shard.removeExpired(now: now)
            if let existing = shard.records[id], !existing.record.isExpired(at: now) {
                throw SessionStoreError.collision
            }
            shard.insert(id, record, limit: perShardLimit)
        }
    }

    /// Merges a patch into a live record.
    public func patch(_ id: SessionStorageID, _ patch: SessionPatch) async throws -> SessionPatchResult {
        let now = clock.now()
        return shard(for: id).withLock { shard in
            shard.removeExpired(now: now)
            guard var slot = shard.records[id], !slot.record.isExpired(at: now) else { return .notFound }
            if let expected = patch.expectedVersion, expected != slot.record.version {
                return .conflict(currentVersion: slot.record.version)
            }
            let previousUser = slot.record.userID
            slot.record.apply(patch)
            shard.update(id, slot: slot, previousUser: previousUser)
            return .applied(version: slot.record.version)
        }
    }

    /// Extends a live record's idle expiry.
    public func touch(_ id: SessionStorageID, idleExpiresAt: Date, lastSeenAt: Date) async throws -> Bool {
        let now = clock.now()
        return shard(for: id).withLock { shard in
            guard var slot = shard.records[id], !slot.record.isExpired(at: now) else { return false }
            slot.record.idleExpiresAt = idleExpiresAt
            slot.record.lastSeenAt = lastSeenAt
            shard.update(id, slot: slot, previousUser: slot.record.userID)
            return true
        }
    }

    /// Deletes a record.
    public func delete(_ id: SessionStorageID) async throws {
        shard(for: id).withLock { shard in _ = shard.remove(id) }
    }

    /// Creates `record` under `newID` and deletes `oldID` with no moment in between where a
    /// request could observe both (or neither) when they share a shard; across shards the new
    /// record is visible before the old one disappears.
    public func replace(_ oldID: SessionStorageID, with newID: SessionStorageID, record: SessionRecord) async throws {
        try await create(newID, record)
        try await delete(oldID)
    }

    /// Lists a user's live sessions, oldest first.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        let now = clock.now()
        var result: [SessionSummary] = []
        for shard in shards {
            shard.withLock { shard in
                guard let ids = shard.users[userID] else { return }
                for id in ids {
                    if let slot = shard.records[id], !slot.record.isExpired(at: now) {
                        result.append(slot.record.summary(id: id))
                    }
                }
            }
        }
        return result.sorted { ($0.createdAt, $0.id.hex) < ($1.createdAt, $1.id.hex) }
    }

    /// Deletes a user's sessions except `keptID`.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        let now = clock.now()
        var deleted = 0
        for shard in shards {
            shard.withLock { shard in
                guard let ids = shard.users[userID] else { return }
                for id in ids where id != keptID {
                    if let slot = shard.remove(id), !slot.record.isExpired(at: now) {
                        deleted += 1
                    }
                }
            }
        }
        return deleted
    }

    /// Removes every expired record now. Returns how many were removed. The cost is
    /// proportional to the number removed; calling it is optional (writes sweep as they go).
    @discardableResult
    public func sweepExpired() -> Int {
        let now = clock.now()
        return shards.reduce(0) { total, shard in total + shard.withLock { $0.removeExpired(now: now) } }
    }

    /// Removes expired records (all of them: the memory store's sweep is already proportional
    /// to what expired, so it ignores the batch size).
    public func sweepExpired(batchSize: Int) async throws -> Int {
        sweepExpired()
    }
}

/// A reference holding one shard's lock (a `Mutex` cannot be copied into an array).
final class ShardBox: Sendable {
    private let mutex = Mutex(MemoryShard())

    @inline(__always)
    func withLock<Result>(_ body: (inout sending MemoryShard) throws -> sending Result) rethrows -> sending Result {
        try mutex.withLock(body)
    }
}

/// One independently locked part of the memory store.
struct MemoryShard: ~Copyable {
    struct Slot {
        var record: SessionRecord
        var generation: UInt32
    }

    var records: [SessionStorageID: Slot] = [:]
    var users: [String: Set<SessionStorageID>] = [:]
    var heap = ExpiryHeap()
    var nextGeneration: UInt32 = 0

    mutating func insert(_ id: SessionStorageID, _ record: SessionRecord, limit: Int) {
        _ = remove(id)
        while records.count >= limit, let evicted = heap.popTop() {
            if records[evicted.id]?.generation == evicted.generation { _ = remove(evicted.id) }
        }
        nextGeneration &+= 1
        records[id] = Slot(record: record, generation: nextGeneration)
        heap.push(.init(expiresAt: record.expiresAt.timeIntervalSinceReferenceDate, id: id, generation: nextGeneration))
        if let user = record.userID { users[user, default: []].insert(id) }
        compactIfNeeded()
    }

    mutating func update(_ id: SessionStorageID, slot: Slot, previousUser: String?) {
        var slot = slot
        let expiryChanged = records[id]?.record.expiresAt != slot.record.expiresAt
        if expiryChanged {
            nextGeneration &+= 1
            slot.generation = nextGeneration
            heap.push(.init(expiresAt: slot.record.expiresAt.timeIntervalSinceReferenceDate, id: id, generation: slot.generation))
        }
        records[id] = slot
        if previousUser != slot.record.userID {
            if let previousUser { removeUserLink(previousUser, id) }
            if let user = slot.record.userID { users[user, default: []].insert(id) }
        }
        compactIfNeeded()
    }

    mutating func remove(_ id: SessionStorageID) -> Slot? {
        guard let slot = records.removeValue(forKey: id) else { return nil }
        if let user = slot.record.userID { removeUserLink(user, id) }
        return slot
    }

    private mutating func removeUserLink(_ user: String, _ id: SessionStorageID) {
        users[user]?.remove(id)
        if users[user]?.isEmpty == true { users.removeValue(forKey: user) }
    }

    /// Pops expired entries off the heap; stops at the first live one.
    @discardableResult
    mutating func removeExpired(now: Date) -> Int {
        let limit = now.timeIntervalSinceReferenceDate
        var removed = 0
        while let top = heap.top, top.expiresAt <= limit {
            _ = heap.popTop()
            if records[top.id]?.generation == top.generation, remove(top.id) != nil { removed += 1 }
        }
        return removed
    }

    /// Drops stale heap entries once they outnumber live records.
    private mutating func compactIfNeeded() {
        guard heap.count > records.count * 2 + 64 else { return }
        heap.rebuild(
            from: records.map { id, slot in
                .init(expiresAt: slot.record.expiresAt.timeIntervalSinceReferenceDate, id: id, generation: slot.generation)
            }
        )
    }
}
