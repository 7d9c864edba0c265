import Foundation
import SessionKit
import SessionKitTesting
import Synchronization
import Testing

/// A memory store with a hand-filled local cache, counting the loads that reach the store.
final class LocallyCachedMemoryStore: LocallyCachingSessionStore {
    let base: MemorySessionStore
    private let cached = Mutex<[SessionStorageID: SessionRecord]>([:])
    private let loads = Atomic<Int>(0)

    init(_ base: MemorySessionStore) { self.base = base }

    /// Loads that reached the store.
    var storeLoads: Int { loads.load(ordering: .relaxed) }

    /// Puts `record` in the local cache as `id`'s value (`nil` empties it).
    func cache(_ id: SessionStorageID, _ record: SessionRecord?) {
        cached.withLock { $0[id] = record }
    }

    func locallyCachedRecord(_ id: SessionStorageID) -> SessionRecord? {
        cached.withLock { $0[id] }
    }

    func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        loads.add(1, ordering: .relaxed)
        return try await base.load(id)
    }
    func create(_ id: SessionStorageID, _ record: SessionRecord) async throws { try await base.create(id, record) }
    func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool { try await base.update(id, update) }
    func delete(_ id: SessionStorageID) async throws { try await base.delete(id) }
    func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        try await base.rotate(oldID, to: newID, record: record)
    }
}

@Suite("A store's local cache")
struct LocalCacheTests {
    @Test("a load the store's local cache answers makes no store call; a miss asks the store")
    func hitSkipsTheStoreCall() async throws {
        let clock = TestClock(start: testEpoch)
        let store = LocallyCachedMemoryStore(MemorySessionStore(clock: clock))
        let engine = try SessionEngine(store: store, clock: clock)
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(Keys.count, 1) }
        let cookie = try #require(client.cookie)
        let id = try #require(SessionToken(validating: cookie)).storageID

        // The cache holds a value the store does not: a hit must serve it, without a load.
        var cachedRecord = try #require(try await store.base.load(id))
        cachedRecord.data["count"] = Data("7".utf8)
        store.cache(id, cachedRecord)
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 7)
        #expect(store.storeLoads == 0, "a cached load reached the store")

        store.cache(id, nil)
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
        #expect(store.storeLoads == 1)
    }
}
