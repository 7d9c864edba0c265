import Foundation
import SessionKit
import SessionKitTesting
import Testing

@Suite("Memory store bounds and sweeping")
struct MemoryStoreBoundsTests {
    func record(_ clock: TestClock, expiresIn seconds: TimeInterval, user: String? = nil) -> SessionRecord {
        let now = clock.now()
        return SessionRecord(
            data: ["v": Data("1".utf8)],
            userID: user,
            createdAt: now,
            idleExpiresAt: now.addingTimeInterval(seconds),
            absoluteExpiresAt: now.addingTimeInterval(43_200)
        )
    }

    func newID() -> SessionStorageID { SessionToken.generate().storageID }

    @Test func boundedStoreEvictsTheSoonestToExpire() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(maxSessions: 10, shardCount: 1, clock: clock)
        #expect(store.maxSessions == 10)
        // Ten records with expiries 200…290 s, inserted in a scrambled order.
        var generator = SplitMix64(seed: 99)
        let firstExpiries = (0..<10).map { 200 + TimeInterval($0) * 10 }.shuffled(using: &generator)
        var ids: [TimeInterval: SessionStorageID] = [:]
        for expiry in firstExpiries {
            let id = newID()
            ids[expiry] = id
            try await store.create(id, record(clock, expiresIn: expiry))
        }
        #expect(store.count == 10)
        // Five more, all expiring later: the five soonest of the first ten make room.
        for expiry in stride(from: 300.0, through: 340.0, by: 10.0) {
            let id = newID()
            ids[expiry] = id
            try await store.create(id, record(clock, expiresIn: expiry))
        }
        #expect(store.count == 10)
        for (expiry, id) in ids {
            let alive = try await store.load(id) != nil
            #expect(alive == (expiry >= 250), "record expiring in \(expiry) s: alive = \(alive)")
        }
    }

    /// Issue 13 #4: anonymous records are evicted first, whatever their expiry; signed-in ones
    /// only once no anonymous record is left.
    @Test func anonymousRecordsAreEvictedBeforeSignedInOnes() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(maxSessions: 10, shardCount: 4, clock: clock)
        let signedIn = (0..<5).map { _ in newID() }
        for (index, id) in signedIn.enumerated() {
            try await store.create(id, record(clock, expiresIn: 100 + TimeInterval(index), user: "user\(index)"))
        }
        for index in 0..<500 {
            try await store.create(newID(), record(clock, expiresIn: 1000 + TimeInterval(index)))
        }
        #expect(store.count == 10)
        for id in signedIn {
            #expect(try await store.load(id) != nil, "a signed-in record was evicted by anonymous creates")
        }
        // With only signed-in records left to evict, the soonest to expire goes.
        for index in 0..<10 {
            try await store.create(newID(), record(clock, expiresIn: 5000, user: "late\(index)"))
        }
        #expect(store.count == 10)
        #expect(try await store.load(signedIn[0]) == nil)
    }

    @Test func expiredRecordsMakeRoomBeforeLiveOnesAreEvicted() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(maxSessions: 10, shardCount: 1, clock: clock)
        var shortLived: [SessionStorageID] = []
        var longLived: [SessionStorageID] = []
        for index in 0..<10 {
            let id = newID()
            if index.isMultiple(of: 2) {
                shortLived.append(id)
                try await store.create(id, record(clock, expiresIn: 10))
            } else {
                longLived.append(id)
                try await store.create(id, record(clock, expiresIn: 1000))
            }
        }
        clock.advance(by: .seconds(20))
        let fresh = newID()
        try await store.create(fresh, record(clock, expiresIn: 1000))
        #expect(store.count == 6)
        for id in longLived + [fresh] {
            #expect(try await store.load(id) != nil)
        }
    }

    @Test func updatedExpiryIsHonouredByEviction() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(maxSessions: 3, shardCount: 1, clock: clock)
        let a = newID(), b = newID(), c = newID()
        try await store.create(a, record(clock, expiresIn: 100))
        try await store.create(b, record(clock, expiresIn: 200))
        try await store.create(c, record(clock, expiresIn: 300))
        // `a` becomes the latest to expire.
        #expect(try await store.update(a, SessionUpdate(idleExpiresAt: clock.now().addingTimeInterval(1000), lastSeenAt: clock.now())))
        try await store.create(newID(), record(clock, expiresIn: 400))
        #expect(try await store.load(a) != nil, "eviction used the stale expiry of a touched record")
        #expect(try await store.load(b) == nil)
        #expect(try await store.load(c) != nil)
    }

    @Test func neverHoldsMoreThanMaxSessions() async throws {
        let clock = TestClock(start: testEpoch)
        for (max, shards) in [(10, 1), (10, 4), (64, 16), (10, 16), (100, 16)] {
            let store = MemorySessionStore(maxSessions: max, shardCount: shards, clock: clock)
            // IDs spread evenly over the shards (the first 64 bits pick the shard).
            for index in 0..<(max * 5) {
                let id = id(inShard: UInt64(index % shards), of: UInt64(shards), index: UInt64(index / shards))
                try await store.create(id, record(clock, expiresIn: 100 + TimeInterval(index)))
            }
            #expect(store.count <= max, "maxSessions \(max) with \(shards) shards holds \(store.count) records")
        }
    }

    /// A storage ID that the store's sharding puts in shard `shard` (of `count`): its first
    /// 64 bits select the shard.
    func id(inShard shard: UInt64, of count: UInt64, index: UInt64) -> SessionStorageID {
        let word0 = index * count + shard
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: word0 >> UInt64(56 - $0 * 8)) }
        bytes += SessionToken.generate().storageID.bytes.suffix(24)
        return SessionStorageID(bytes: bytes)!
    }

    @Test func doesNotEvictLiveRecordsWhileBelowTheBound() async throws {
        // 8 records in a store bounded at 100: nothing may be evicted, however the records
        // happen to be spread over the shards.
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(maxSessions: 100, shardCount: 16, clock: clock)
        let ids = (0..<8).map { id(inShard: 3, of: 16, index: UInt64($0)) }
        for (offset, id) in ids.enumerated() {
            try await store.create(id, record(clock, expiresIn: 1000 + TimeInterval(offset)))
        }
        #expect(store.count == 8, "a store holding 8 of 100 sessions evicted a live one")
        for id in ids {
            #expect(try await store.load(id) != nil)
        }
    }

    @Test func sweepExpiredRemovesOnlyExpired() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(clock: clock)
        var short: [SessionStorageID] = []
        var long: [SessionStorageID] = []
        for _ in 0..<3 {
            let id = newID()
            short.append(id)
            try await store.create(id, record(clock, expiresIn: 60))
        }
        for _ in 0..<2 {
            let id = newID()
            long.append(id)
            try await store.create(id, record(clock, expiresIn: 600))
        }
        #expect(store.count == 5)
        #expect(store.sweepExpired() == 0)
        clock.advance(by: .seconds(59))
        #expect(store.sweepExpired() == 0)
        #expect(store.count == 5)
        clock.advance(by: .seconds(1))
        #expect(store.count == 5, "count includes expired records not yet swept")
        #expect(store.sweepExpired() == 3)
        #expect(store.count == 2)
        #expect(store.sweepExpired() == 0)
        for id in long { #expect(try await store.load(id) != nil) }
        for id in short { #expect(try await store.load(id) == nil) }
        clock.advance(by: .seconds(600))
        #expect(store.sweepExpired() == 2)
        #expect(store.count == 0)
    }

    @Test func sweepRespectsExtendedExpiry() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(shardCount: 1, clock: clock)
        let touched = newID()
        let patched = newID()
        try await store.create(touched, record(clock, expiresIn: 10))
        try await store.create(patched, record(clock, expiresIn: 10))
        #expect(try await store.update(touched, SessionUpdate(idleExpiresAt: clock.now().addingTimeInterval(100), lastSeenAt: clock.now())))
        let result = try await store.update(
            patched,
            SessionUpdate(setValues: ["w": Data("2".utf8)], idleExpiresAt: clock.now().addingTimeInterval(100), lastSeenAt: clock.now())
        )
        guard result else {
            Issue.record("patch returned \(result)")
            return
        }
        clock.advance(by: .seconds(20))
        #expect(store.sweepExpired() == 0)
        #expect(store.count == 2)
        #expect(try await store.load(touched) != nil)
        #expect(try await store.load(patched) != nil)
    }

    @Test func recreatedIDIsNotSweptByItsPredecessorsExpiry() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(shardCount: 1, clock: clock)
        let id = newID()
        try await store.create(id, record(clock, expiresIn: 10))
        try await store.delete(id)
        try await store.create(id, record(clock, expiresIn: 100))
        clock.advance(by: .seconds(20))
        #expect(store.sweepExpired() == 0)
        #expect(try await store.load(id) != nil)
    }

    @Test func countTracksCreatesAndDeletes() async throws {
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(clock: clock)
        #expect(store.count == 0)
        let ids = (0..<20).map { _ in newID() }
        for id in ids { try await store.create(id, record(clock, expiresIn: 100, user: "u")) }
        #expect(store.count == 20)
        for id in ids.prefix(5) { try await store.delete(id) }
        #expect(store.count == 15)
        #expect(try await store.deleteSessions(forUser: "u", except: ids.last) == 14)
        #expect(store.count == 1)
    }

    @Test func manySweepsAndTouchesStayConsistent() async throws {
        // Heavy churn on one shard (touches leave stale heap entries that get compacted).
        let clock = TestClock(start: testEpoch)
        let store = MemorySessionStore(maxSessions: 50, shardCount: 1, clock: clock)
        let ids = (0..<50).map { _ in newID() }
        for id in ids { try await store.create(id, record(clock, expiresIn: 100)) }
        for round in 0..<20 {
            clock.advance(by: .seconds(10))
            for id in ids.prefix(25) {
                #expect(
                    try await store.update(id, SessionUpdate(idleExpiresAt: clock.now().addingTimeInterval(100), lastSeenAt: clock.now())),
                    "round \(round)"
                )
            }
        }
        // The untouched half expired at 100 s; the touched half lives.
        #expect(store.sweepExpired() == 25)
        #expect(store.count == 25)
        for id in ids.prefix(25) { #expect(try await store.load(id) != nil) }
    }
}
