import Foundation
import SessionKit
import SessionKitTesting
import Testing

/// Concurrency tests meant to run under Thread Sanitizer: many tasks through one engine and
/// one memory store at once, with assertions on the outcome (nothing lost, nothing mixed up).
@Suite("Engine and memory store under concurrency")
struct EngineConcurrencyTests {
    @Test("memory store conformance, including its concurrency cases", arguments: SessionStoreConformance.cases + SessionStoreConformance.sweeping)
    func conformance(_ check: SessionStoreConformance.Case) async throws {
        try await check.run { clock in MemorySessionStore(shardCount: 4, clock: clock) }
    }

    @Test("200 clients each write and read back their own nonce: zero mismatches")
    func noCrossUserMixUp() async throws {
        let engine = try SessionEngine(store: MemorySessionStore())
        let nonce = SessionKey<String>("nonce")
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    let client = EngineTestClient(engine: engine)
                    let mine = UUID().uuidString
                    try await client.send { try await $0.set(nonce, mine) }
                    var wrong = 0
                    for _ in 0..<5 {
                        let (seen, _) = try await client.request { try await $0.get(nonce) }
                        if seen != mine { wrong += 1 }
                    }
                    return wrong
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test("100 concurrent requests on one session, each changing its own key: every change survives")
    func perKeyMergeOnOneSession() async throws {
        let store = MemorySessionStore()
        let engine = try SessionEngine(store: store)
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(SessionKey<Int>("base"), 0) }
        let cookie = try #require(client.cookie)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<100 {
                group.addTask {
                    let request = EngineTestClient(engine: engine)
                    request.cookie = cookie
                    try await request.send { try await $0.set(SessionKey<Int>("k\(index)"), index) }
                }
            }
            try await group.waitForAll()
        }
        let (values, _) = try await client.request { session in
            try await (0..<100).asyncMap { try await session.get(SessionKey<Int>("k\($0)")) }
        }
        #expect(values == (0..<100).map { Optional($0) })
    }

    @Test("64 concurrent requests increment and modify one key of one session: nothing lost")
    func atomicChangesOfOneKey() async throws {
        let engine = try SessionEngine(store: MemorySessionStore())
        let client = EngineTestClient(engine: engine)
        let count = SessionKey<Int>("count")
        let list = SessionKey<[Int]>("list")
        try await client.send { try await $0.set(count, 0) }
        let cookie = try #require(client.cookie)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let request = EngineTestClient(engine: engine)
                    request.cookie = cookie
                    try await request.send { session in
                        try await session.increment(count)
                        try await session.modify(list, default: []) { $0.append(index) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (values, _) = try await client.request { session in (try await session.get(count), try await session.get(list)) }
        #expect(values.0 == 64)
        #expect(Set(values.1 ?? []) == Set(0..<64))
    }

    @Test("a handle used from several tasks at once stays consistent")
    func sharedHandle() async throws {
        let engine = try SessionEngine(store: MemorySessionStore())
        let handle = engine.begin([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask { try await handle.set(SessionKey<Int>("k\(index)"), index) }
                group.addTask { _ = try await handle.get(SessionKey<Int>("k\(index)")) }
            }
            try await group.waitForAll()
        }
        let fields = try await engine.commit(handle)
        #expect(fields[.setCookie] != nil)
    }

    @Test("creates, loads, sweeps and evictions racing on a bounded store keep the bound")
    func boundedStoreUnderLoad() async throws {
        let clock = TestClock()
        let store = MemorySessionStore(maxSessions: 500, shardCount: 8, clock: clock)
        let now = clock.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<300 {
                        let id = SessionToken.generate().storageID
                        let idle = TimeInterval((worker * 300 + index) % 50 + 1)
                        try await store.create(
                            id,
                            SessionRecord(data: ["n": Data("1".utf8)], createdAt: now, idleExpiresAt: now + idle, absoluteExpiresAt: now + 3600)
                        )
                        _ = try await store.load(id)
                        if index % 50 == 0 { store.sweepExpired() }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(store.count <= 500)
        clock.advance(by: .seconds(60))
        store.sweepExpired()
        #expect(store.count == 0)
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
