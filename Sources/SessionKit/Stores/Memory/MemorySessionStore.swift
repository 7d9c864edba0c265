import Foundation
import Synchronization

/// An in-process session store: the default for tests and single-process apps.
///
/// - **Concurrency:** records are spread over independently locked shards, so concurrent
///   requests rarely wait on one another.
/// - **Bounded:** at most ``maxSessions`` records; when full, creating a session first
///   removes expired records, then evicts the anonymous record closest to expiry across all
///   shards, and a signed-in one only when no anonymous record is left. A flood of anonymous
///   sessions (every visitor to a page that issues a CSRF token gets one) therefore evicts
///   only anonymous sessions and never signs anyone out.
/// - **Expiry:** every read honours idle and absolute expiry. Expired records are removed as
///   writes happen (and by ``sweepExpired()``) at a cost proportional to what expired, not to
///   what is stored.
///
/// Sessions live only as long as the process. Use SQLite for one persistent process, and
/// PostgreSQL or Redis/Valkey when several instances share sessions.
public final class MemorySessionStore: SweepableSessionStore, SessionUserIndexing, VersionedSessionStore, AtomicKeySessionStore, PingableSessionStore,
    InProcessSessionStore
{
    /// The maximum number of live sessions the store keeps.
    public let maxSessions: Int
    private let clock: any SessionClock
    private let shards: [ShardBox]
    /// Records held across all shards (kept under the shard locks).
    private let total = Atomic<Int>(0)

    /// Creates a memory store.
    /// - Parameters:
    ///   - maxSessions: the bound on live sessions (default one million).
    ///   - shardCount: how many independently locked shards to use (default 16).
    ///   - clock: the clock expiry is judged by.
    public init(maxSessions: Int = 1_000_000, shardCount: Int = 16, clock: any SessionClock = SystemSessionClock()) {
        let shardCount = max(1, shardCount)
        self.maxSessions = max(1, maxSessions)
        self.clock = clock
        self.shards = (0..<shardCount).map { _ in ShardBox() }
    }

    @inline(__always)
    private func shardIndex(for id: SessionStorageID) -> Int {
        Int(id.shardSeed % UInt64(shards.count))
    }

    @inline(__always)
    private func shard(for id: SessionStorageID) -> ShardBox {
        shards[shardIndex(for: id)]
    }

    /// The number of records held, live or expired but not yet swept.
    public var count: Int {
        total.load(ordering: .relaxed)
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
        let change = try shard(for: id).withLock { shard -> Int in
            let swept = shard.removeExpired(now: now)
            if let existing = shard.records[id], !existing.record.isExpired(at: now) {
                throw SessionStoreError.collision
            }
            return shard.insert(id, record) - swept
        }
        total.add(change, ordering: .relaxed)
        while total.load(ordering: .relaxed) > maxSessions {
            guard evictSoonestToExpire(now: now) else { break }
        }
    }

    /// Evicts the anonymous record closest to expiry across all shards, or the signed-in one
    /// when no anonymous record is left. Returns `false` when there was nothing to evict.
    private func evictSoonestToExpire(now: Date) -> Bool {
        for signedIn in [false, true] {
            var best: (index: Int, expiresAt: Double)?
            for (index, shard) in shards.enumerated() {
                if let top = shard.withLock({ $0.liveTop(signedIn: signedIn) }), best.map({ top.expiresAt < $0.expiresAt }) ?? true {
                    best = (index, top.expiresAt)
                }
            }
            guard let best else { continue }
            let removed = shards[best.index].withLock { $0.evictTop(signedIn: signedIn) }
            total.subtract(removed, ordering: .relaxed)
            return true
        }
        return false
    }

    /// Applies an update to a live record.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        apply(update, to: id, expectedVersion: nil) == .applied
    }

    /// Applies an update while the record still has `expectedVersion`.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        apply(update, to: id, expectedVersion: expectedVersion)
    }

    private func apply(_ update: SessionUpdate, to id: SessionStorageID, expectedVersion: UInt64?) -> SessionUpdateResult {
        let now = clock.now()
        return shard(for: id).withLock { shard in
            guard var slot = shard.records[id], !slot.record.isExpired(at: now) else { return .notFound }
            if let expectedVersion, expectedVersion != slot.record.version { return .conflict }
            slot.record.apply(update)
            shard.update(id, slot: slot)
            return .applied
        }
    }

    /// Writes one key while it still holds the expected bytes, under the shard's lock.
    public func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        let now = clock.now()
        return shard(for: id).withLock { shard in
            guard var slot = shard.records[id], !slot.record.isExpired(at: now) else { return .notFound }
            let current = slot.record.data[write.key]
            guard current == write.expected else { return .conflict(current: current) }
            slot.record.apply(write.update)
            shard.update(id, slot: slot)
            return .applied(version: slot.record.version)
        }
    }

    /// `true`: one operation that cannot conflict.
    public var incrementsNatively: Bool { true }

    /// Adds to an integer key under the shard's lock: one step that cannot conflict.
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        let now = clock.now()
        return shard(for: id).withLock { shard in
            guard var slot = shard.records[id], !slot.record.isExpired(at: now) else { return .notFound }
            guard let sum = SessionInteger.adding(increment.delta, to: slot.record.data[increment.key]) else { return .notAnInteger }
            let update = SessionUpdate(
                setValues: [increment.key: SessionInteger.encode(sum)],
                idleExpiresAt: increment.idleExpiresAt,
                lastSeenAt: increment.lastSeenAt
            )
            slot.record.apply(update)
            shard.update(id, slot: slot)
            return .applied(value: sum, version: slot.record.version)
        }
    }

    /// Deletes a record.
    public func delete(_ id: SessionStorageID) async throws {
        let removed = shard(for: id).withLock { shard in shard.remove(id) == nil ? 0 : 1 }
        total.subtract(removed, ordering: .relaxed)
    }

    /// Moves a live record from `oldID` to `newID` atomically: both shards are locked (in index
    /// order, so two rotations never deadlock) while the old record is checked, the new one
    /// inserted and the old one removed. No reader ever sees both or neither.
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        let now = clock.now()
        let oldIndex = shardIndex(for: oldID)
        let newIndex = shardIndex(for: newID)
        // Each step returns how many records the store lost (0, or 1 when `newID` held an
        // expired record), or `nil` when the old record is gone.
        let lost: Int?
        if oldIndex == newIndex {
            lost = try shards[oldIndex].withLock { shard in
                try shard.move(oldID, to: newID, record: record, now: now)
            }
        } else if oldIndex < newIndex {
            lost = try shards[oldIndex].withLock { old in
                try shards[newIndex].withLock { new in try MemoryShard.move(oldID, from: &old, to: newID, in: &new, record: record, now: now) }
            }
        } else {
            lost = try shards[newIndex].withLock { new in
                try shards[oldIndex].withLock { old in try MemoryShard.move(oldID, from: &old, to: newID, in: &new, record: record, now: now) }
            }
        }
        guard let lost else { return false }
        total.subtract(lost, ordering: .relaxed)
        return true
    }

    /// Always ready: the store lives in this process.
    public func ping() async throws {}

    /// Lists a user's live sessions, oldest first.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        let now = clock.now()
        var result: [SessionSummary] = []
        for shard in shards {
            shard.withLock { shard in
                guard let ids = shard.users[MemoryShard.UserKey(userID)] else { return }
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
            let removed = shard.withLock { shard -> Int in
                guard let ids = shard.users[MemoryShard.UserKey(userID)] else { return 0 }
                var removed = 0
                for id in ids where id != keptID {
                    guard let slot = shard.remove(id) else { continue }
                    removed += 1
                    if !slot.record.isExpired(at: now) { deleted += 1 }
                }
                return removed
            }
            total.subtract(removed, ordering: .relaxed)
        }
        return deleted
    }

    /// Removes every expired record now. Returns how many were removed. The cost is
    /// proportional to the number removed; calling it is optional (writes sweep as they go).
    @discardableResult
    public func sweepExpired() -> Int {
        let now = clock.now()
        var removed = 0
        for shard in shards {
            let count = shard.withLock { $0.removeExpired(now: now) }
            total.subtract(count, ordering: .relaxed)
            removed += count
        }
        return removed
    }

    /// Removes expired records (all of them: the memory store's sweep is already proportional
    /// to what expired, so it ignores the batch size).
    public func sweepExpired(batchSize: Int) async throws -> Int {
        sweepExpired()
    }
}

/// A reference holding one shard's lock.
final class ShardBox: Sendable {
    private let locked = LockedValue(MemoryShard())

    @inline(__always)
    func withLock<Result>(_ body: (inout MemoryShard) throws -> Result) rethrows -> Result {
        try locked.withLock(body)
    }
}

/// One independently locked part of the memory store.
struct MemoryShard: Sendable {
    struct Slot {
        var record: SessionRecord
        var generation: UInt32
    }

    /// A user ID by its UTF-8 bytes: Swift `String` equality is canonical equivalence, so two
    /// accounts whose IDs differ only in Unicode normalisation must not share an index entry.
    struct UserKey: Hashable {
        let bytes: [UInt8]
        init(_ user: String) { bytes = Array(user.utf8) }
    }

    var records: [SessionStorageID: Slot] = [:]
    var users: [UserKey: Set<SessionStorageID>] = [:]
    /// Expiry order of the anonymous records and of the signed-in ones: eviction takes
    /// anonymous records first.
    var anonymousHeap = ExpiryHeap()
    var signedInHeap = ExpiryHeap()
    var nextGeneration: UInt32 = 0

    func isLive(_ id: SessionStorageID, at now: Date) -> Bool {
        records[id].map { !$0.record.isExpired(at: now) } ?? false
    }

    /// A rotation within one shard: returns `nil` if the old record is gone, else how many
    /// records the store lost (1 when `newID` held an expired record the new one replaced).
    mutating func move(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord, now: Date) throws -> Int? {
        guard isLive(oldID, at: now) else { return nil }
        guard !isLive(newID, at: now) else { throw SessionStoreError.collision }
        _ = remove(oldID)
        return 1 - insert(newID, record)
    }

    /// A rotation across two shards, both locked by the caller; same result as ``move(_:to:record:now:)``.
    static func move(
        _ oldID: SessionStorageID,
        from source: inout MemoryShard,
        to newID: SessionStorageID,
        in target: inout MemoryShard,
        record: SessionRecord,
        now: Date
    ) throws -> Int? {
        guard source.isLive(oldID, at: now) else { return nil }
        guard !target.isLive(newID, at: now) else { throw SessionStoreError.collision }
        _ = source.remove(oldID)
        return 1 - target.insert(newID, record)
    }

    /// Inserts a record; returns how many records the shard gained (0 when it replaced one).
    mutating func insert(_ id: SessionStorageID, _ record: SessionRecord) -> Int {
        let replaced = remove(id) != nil
        nextGeneration &+= 1
        records[id] = Slot(record: record, generation: nextGeneration)
        push(.init(expiresAt: record.expiresAt.timeIntervalSinceReferenceDate, id: id, generation: nextGeneration), signedIn: record.userID != nil)
        if let user = record.userID { users[UserKey(user), default: []].insert(id) }
        compactIfNeeded()
        return replaced ? 0 : 1
    }

    private mutating func push(_ entry: ExpiryHeap.Entry, signedIn: Bool) {
        if signedIn { signedInHeap.push(entry) } else { anonymousHeap.push(entry) }
    }

    /// A heap's top after dropping stale entries: the anonymous (or signed-in) record closest
    /// to expiry.
    mutating func liveTop(signedIn: Bool) -> ExpiryHeap.Entry? {
        while let top = signedIn ? signedInHeap.top : anonymousHeap.top {
            if records[top.id]?.generation == top.generation { return top }
            popTop(signedIn: signedIn)
        }
        return nil
    }

    private mutating func popTop(signedIn: Bool) {
        if signedIn { _ = signedInHeap.popTop() } else { _ = anonymousHeap.popTop() }
    }

    /// Removes the record closest to expiry; returns 1 if one was removed.
    mutating func evictTop(signedIn: Bool) -> Int {
        guard let top = liveTop(signedIn: signedIn) else { return 0 }
        popTop(signedIn: signedIn)
        return remove(top.id) == nil ? 0 : 1
    }

    /// Replaces a live record's slot after an update (the user never changes in an update).
    mutating func update(_ id: SessionStorageID, slot: Slot) {
        var slot = slot
        let expiryChanged = records[id]?.record.expiresAt != slot.record.expiresAt
        if expiryChanged {
            nextGeneration &+= 1
            slot.generation = nextGeneration
            push(
                .init(expiresAt: slot.record.expiresAt.timeIntervalSinceReferenceDate, id: id, generation: slot.generation),
                signedIn: slot.record.userID != nil
            )
        }
        records[id] = slot
        compactIfNeeded()
    }

    mutating func remove(_ id: SessionStorageID) -> Slot? {
        guard let slot = records.removeValue(forKey: id) else { return nil }
        if let user = slot.record.userID { removeUserLink(user, id) }
        return slot
    }

    private mutating func removeUserLink(_ user: String, _ id: SessionStorageID) {
        let key = UserKey(user)
        users[key]?.remove(id)
        if users[key]?.isEmpty == true { users.removeValue(forKey: key) }
    }

    /// Pops expired entries off the heap; stops at the first live one.
    @discardableResult
    mutating func removeExpired(now: Date) -> Int {
        let limit = now.timeIntervalSinceReferenceDate
        var removed = 0
        for signedIn in [false, true] {
            while let top = signedIn ? signedInHeap.top : anonymousHeap.top, top.expiresAt <= limit {
                popTop(signedIn: signedIn)
                if records[top.id]?.generation == top.generation, remove(top.id) != nil { removed += 1 }
            }
        }
        return removed
    }

    /// Drops stale heap entries once they outnumber live records.
    private mutating func compactIfNeeded() {
        guard anonymousHeap.count + signedInHeap.count > records.count * 2 + 64 else { return }
        var anonymous: [ExpiryHeap.Entry] = []
        var signedIn: [ExpiryHeap.Entry] = []
        for (id, slot) in records {
            let entry = ExpiryHeap.Entry(expiresAt: slot.record.expiresAt.timeIntervalSinceReferenceDate, id: id, generation: slot.generation)
            if slot.record.userID == nil { anonymous.append(entry) } else { signedIn.append(entry) }
        }
        anonymousHeap.rebuild(from: anonymous)
        signedInHeap.rebuild(from: signedIn)
    }
}

extension MemorySessionStore: DatabaseNamingSessionStore {
    /// `memory`, the `db.system.name` of the engine's store-call spans.
    public var databaseSystem: String { "memory" }
}

extension MemorySessionStore: SessionCountingStore {
    /// ``count``: a running total, no scan.
    public func sessionCount() async throws -> Int { count }
}
