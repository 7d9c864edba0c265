import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Synchronization
import Testing

/// Issue 18: `modify` and `increment` never lose an update of one key, where `get` + `set`
/// does. Interleavings are made deterministic by holding two loaded handles at once.
@Suite("Atomic changes: modify and increment")
struct AtomicChangeTests {
    @Test("get + set of one key by two overlapping requests loses one update (what modify fixes)")
    func getAndSetLosesAnUpdate() async throws {
        let harness = try Harness()
        let token = try #require(try await harness.clientWithSession(count: 0).cookie)
        let first = try await harness.begin(cookie: token)
        let second = try await harness.begin(cookie: token)
        for handle in [first, second] {
            let count = try await handle.get(Keys.count) ?? 0
            try await handle.set(Keys.count, count + 1)
        }
        for handle in [first, second] { _ = try await harness.engine.commit(handle) }
        #expect(try await harness.record(for: token)?.data["count"] == Data("1".utf8))
    }

    @Test("modify re-runs the transform on the value another request wrote first, and both updates count")
    func modifyRetriesAfterAConflict() async throws {
        let harness = try Harness()
        let token = try #require(try await harness.clientWithSession(count: 0).cookie)
        let first = try await harness.begin(cookie: token)
        let second = try await harness.begin(cookie: token)
        let runs = Mutex(0)
        try await first.modify(Keys.cart, default: []) { $0.append("first") }
        let written = try await second.modify(Keys.cart, default: []) { cart in
            runs.withLock { $0 += 1 }
            cart.append("second")
        }
        #expect(written == ["first", "second"])
        #expect(runs.withLock { $0 } == 2, "the transform ran once on the stale value and once on the fresh one")
        harness.store.reset()
        for handle in [first, second] { _ = try await harness.engine.commit(handle) }
        #expect(harness.store.total == 0, "the commit wrote again what modify had written")
        let cart = try await harness.client(cookie: token).request { try await $0.get(Keys.cart) }.value
        #expect(cart == ["first", "second"])
    }

    @Test("increment by overlapping requests never conflicts and returns each request's own sum")
    func incrementsOfOverlappingRequests() async throws {
        let harness = try Harness()
        let token = try #require(try await harness.clientWithSession(count: 5).cookie)
        let first = try await harness.begin(cookie: token)
        let second = try await harness.begin(cookie: token)
        #expect(try await first.increment(Keys.count) == 6)
        #expect(try await second.increment(Keys.count, by: 10) == 16)
        #expect(try await first.get(Keys.count) == 6, "a handle reads its own increment's result")
        for handle in [first, second] { _ = try await harness.engine.commit(handle) }
        #expect(harness.store.calls[.increment] == 2)
        #expect(try await harness.record(for: token)?.data["count"] == Data("16".utf8))
    }

    @Test("32 concurrent requests through the engine: modify and increment lose nothing")
    func concurrentRequestsLoseNothing() async throws {
        let harness = try Harness()
        let token = try #require(try await harness.clientWithSession(count: 0).cookie)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<32 {
                group.addTask {
                    try await harness.client(cookie: token).send { session in
                        try await session.increment(Keys.count)
                        try await session.modify(Keys.cart, default: []) { $0.append("item \(index)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (count, cart) = try await harness.client(cookie: token).request { session in
            (try await session.get(Keys.count), try await session.get(Keys.cart))
        }.value
        #expect(count == 32)
        #expect(Set(cart ?? []) == Set((0..<32).map { "item \($0)" }))
    }

    /// The memory store is an `InProcessSessionStore`: a first attempt runs without the
    /// per-key turn, and only a request that lost it queues, so every request wins in the end.
    @Test("on the plain memory store, 64 concurrent requests × 10 modifies of one key lose nothing and never answer 409")
    func concurrentModifiesOnTheMemoryStore() async throws {
        let engine = try SessionEngine(store: MemorySessionStore())
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(Keys.count, 0) }
        let token = try #require(client.cookie)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    for _ in 0..<10 {
                        try await EngineTestClient(engine: engine).send(headers: [.cookie: "__Host-id=\(token)"]) { session in
                            try await session.modify(Keys.count, default: 0) { $0 += 1 }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 640)
    }

    @Test("a key that keeps changing answers 409 after the bounded retries, with nothing written")
    func conflictAfterBoundedRetries() async throws {
        let clock = TestClock()
        let store = AlwaysChangedStore(clock: clock)
        // A store timeout far above the retries' duration, so the count alone bounds them,
        // however loaded the machine is.
        var configuration = SessionConfiguration()
        configuration.storeTimeout = .seconds(600)
        let engine = try SessionEngine(store: store, configuration: configuration, clock: clock)
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(Keys.cart, ["first"]) }
        let runs = Mutex(0)
        await #expect(throws: SessionError.conflict) {
            try await client.send { session in
                try await session.modify(Keys.cart, default: []) { cart in
                    runs.withLock { $0 += 1 }
                    cart.append("mine")
                }
            }
        }
        #expect(runs.withLock { $0 } == SessionHandle.maxModifyAttempts)
        #expect(SessionError.conflict.status == .conflict)
        let stored = try await client.request { try await $0.get(Keys.cart) }.value
        #expect(stored?.contains("mine") == false, "a conflicting modify wrote its value")
    }

    @Test("new sessions, pending sets, regenerate and sealed cookies keep the change with the commit")
    func localCases() async throws {
        let harness = try Harness()
        // No session yet: the commit creates it with the value, no atomic call.
        let client = harness.client()
        try await client.send { session in
            try await session.increment(Keys.count, by: 2)
            try await session.modify(Keys.cart, default: []) { $0.append("a") }
        }
        #expect(harness.store.calls[.compareAndSet] == nil && harness.store.calls[.increment] == nil)
        #expect(harness.store.calls[.create] == 1)
        harness.store.reset()
        // A key this request already set: modify builds on the pending value (set semantics).
        try await client.send { session in
            try await session.set(Keys.count, 10)
            #expect(try await session.increment(Keys.count) == 11)
        }
        #expect(harness.store.calls[.increment] == nil && harness.store.calls[.update] == 1)
        harness.store.reset()
        // Regenerate: the session moves with the changed value.
        try await client.send { session in
            try await session.regenerate()
            try await session.increment(Keys.count)
        }
        #expect(harness.store.calls[.rotate] == 1 && harness.store.calls[.increment] == nil)
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 12)
    }

    @Test("sealed cookies: modify and increment change the cookie; two overlapping requests keep only the last cookie")
    func sealedCookies() async throws {
        let harness = try Harness.sealed(revocation: false)
        let client = harness.client()
        try await client.send { try await $0.increment(Keys.count) }
        try await client.send { try await $0.modify(Keys.count) { $0 = ($0 ?? 0) + 1 } }
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 2)
        // The cookie is the only copy: two requests that start from the same cookie each seal
        // their own result, and the browser keeps the one that answers last. Documented, not atomic.
        let cookie = try #require(client.cookie)
        let first = harness.client(cookie: cookie)
        let second = harness.client(cookie: cookie)
        try await first.send { try await $0.increment(Keys.count) }
        try await second.send { try await $0.increment(Keys.count) }
        #expect(try await second.request { try await $0.get(Keys.count) }.value == 3, "the sealed backend cannot merge cookies")
    }

    @Test("modify without a change writes nothing; removing through modify removes the key")
    func noChangeAndRemoval() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 3)
        try await client.send { session in
            try await session.modify(Keys.count) { _ in }
        }
        #expect(harness.store.calls[.compareAndSet] == nil)
        try await client.send { session in
            try await session.modify(Keys.count) { $0 = nil }
        }
        #expect(harness.store.calls[.compareAndSet] == 1)
        let token = try #require(client.cookie)
        #expect(try await harness.record(for: token)?.data["count"] == nil)
    }

    @Test("increment of a non-integer value is a type mismatch and writes nothing")
    func incrementOfAString() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.name, "x") }
        let token = try #require(client.cookie)
        let wrongKey = SessionKey<Int>("name")
        await #expect(throws: SessionError.typeMismatch(key: "name", expected: "Int")) {
            try await client.send { try await $0.increment(wrongKey) }
        }
        #expect(try await harness.record(for: token)?.data["name"] == Data(#""x""#.utf8))
    }

    @Test("an atomic write over the session's size limit is refused before it reaches the store")
    func sizeLimit() async throws {
        let harness = try Harness(
            configuration: {
                var configuration = SessionConfiguration()
                configuration.maxBytesPerSession = 200
                return configuration
            }()
        )
        let client = try await harness.clientWithSession(count: 1)
        await #expect(throws: SessionError.self) {
            try await client.send { try await $0.modify(Keys.blob) { $0 = String(repeating: "x", count: 300) } }
        }
        #expect(harness.store.calls[.compareAndSet] == nil)
    }

    @Test("a persistent cookie is refreshed after an atomic write, which moved the expiry")
    func persistentCookieRefresh() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        harness.clock.advance(by: .seconds(5))
        let response = try await client.send { try await $0.increment(Keys.count) }
        #expect(harness.store.calls[.increment] == 1)
        #expect(response.setCookie?.isPersistent == true, "the remember-me cookie kept its old expiry")
    }

    @Test("versioned writes: modify then a plain set commits; a write by another request in between still answers 409")
    func versionedWrites() async throws {
        let harness = try Harness(configuration: SessionConfiguration(versionedWrites: true))
        let token = try #require(try await harness.clientWithSession(count: 0).cookie)
        let handle = try await harness.begin(cookie: token)
        try await handle.increment(Keys.count)
        try await handle.set(Keys.name, "after increment")
        _ = try await harness.engine.commit(handle)
        #expect(try await harness.record(for: token)?.data["name"] == Data(#""after increment""#.utf8))

        let stale = try await harness.begin(cookie: token)
        try await harness.client(cookie: token).send { try await $0.set(Keys.other, "meanwhile") }
        try await stale.increment(Keys.count)
        try await stale.set(Keys.name, "stale")
        await #expect(throws: SessionError.conflict) { _ = try await harness.engine.commit(stale) }
    }

    @Test("a store without AtomicKeySessionStore answers modify with a typed error naming it")
    func unsupportedStore() async throws {
        let engine = try SessionEngine(store: DictionarySessionStore())
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(Keys.count, 1) }
        await #expect(throws: SessionError.self) {
            try await client.send { try await $0.increment(Keys.count) }
        }
    }

    @Test("a third-party store with only compareAndSet passes the atomic cases (the default increment)")
    func defaultIncrement() async throws {
        for check in SessionStoreConformance.atomicKeys {
            try await check.run { clock in CompareAndSetDictionaryStore(clock: clock) }
        }
    }

    @Test("32 concurrent increments through the engine on a store with only compareAndSet take turns and all count")
    func defaultIncrementThroughTheEngine() async throws {
        let store = CompareAndSetDictionaryStore(clock: SystemSessionClock())
        let engine = try SessionEngine(store: store)
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(Keys.count, 0) }
        let cookie = try #require(client.cookie)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<32 {
                group.addTask { try await EngineTestClient(engine: engine).with(cookie: cookie).send { try await $0.increment(Keys.count) } }
            }
            try await group.waitForAll()
        }
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 32)
    }

    @Test("after a failed load that the policy let through, modify and increment answer 503 at once")
    func loadFailureAnswers503() async throws {
        var configuration = SessionConfiguration()
        configuration.loadFailurePolicy = .treatAsAnonymous
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession(count: 1)
        harness.faults.fault = .unavailable
        let error = await #expect(throws: SessionError.self) {
            try await client.send { session in
                #expect(try await session.get(Keys.count) == nil)
                try await session.increment(Keys.count)
            }
        }
        #expect(error?.code == .storeUnavailable)
        harness.faults.fault = .none
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    @Test("the atomic cases fail a store whose compareAndSet ignores the expected value")
    func casesCatchABrokenStore() async throws {
        var failures = 0
        for check in SessionStoreConformance.atomicKeys {
            do {
                try await check.run { clock in CompareAndSetDictionaryStore(clock: clock, ignoresExpected: true) }
            } catch is ConformanceFailure {
                failures += 1
            }
        }
        #expect(failures >= 2)
    }
}

/// The documentation's dictionary store plus only ``AtomicKeySessionStore/compareAndSet(_:_:)``
/// (the increment is the protocol's default); `ignoresExpected` breaks it on purpose.
extension EngineTestClient {
    /// The client with `cookie` in its jar.
    func with(cookie: String) -> EngineTestClient {
        self.cookie = cookie
        return self
    }
}

/// A test store whose five core calls go to a ``DictionarySessionStore``; only its
/// compare-and-set is its own.
protocol DictionaryBackedStore: AtomicKeySessionStore {
    var base: DictionarySessionStore { get }
}

extension DictionaryBackedStore {
    func load(_ id: SessionStorageID) async throws -> SessionRecord? { try await base.load(id) }
    func create(_ id: SessionStorageID, _ record: SessionRecord) async throws { try await base.create(id, record) }
    func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool { try await base.update(id, update) }
    func delete(_ id: SessionStorageID) async throws { try await base.delete(id) }
    func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        try await base.rotate(oldID, to: newID, record: record)
    }
}

actor CompareAndSetDictionaryStore: DictionaryBackedStore {
    nonisolated let base: DictionarySessionStore
    private let ignoresExpected: Bool

    init(clock: any SessionClock, ignoresExpected: Bool = false) {
        self.base = DictionarySessionStore(clock: clock)
        self.ignoresExpected = ignoresExpected
    }

    func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        // One call into the base actor checks and writes, with no suspension between them.
        await base.compareAndSwap(id, write, ignoresExpected: ignoresExpected)
    }
}

extension DictionarySessionStore {
    /// One actor call that checks and writes (what makes the wrapper above atomic).
    func compareAndSwap(_ id: SessionStorageID, _ write: SessionKeyWrite, ignoresExpected: Bool) -> SessionKeyWriteResult {
        guard let record = load(id) else { return .notFound }
        let current = record.data[write.key]
        guard ignoresExpected || current == write.expected else { return .conflict(current: current) }
        _ = update(id, write.update)
        return .applied(version: record.version &+ 1)
    }
}

/// A store where every compare-and-set finds that another request changed the key first.
actor AlwaysChangedStore: DictionaryBackedStore {
    nonisolated let base: DictionarySessionStore
    private var rivalWrites = 0

    init(clock: any SessionClock) { base = DictionarySessionStore(clock: clock) }

    func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        rivalWrites += 1
        let rival = Data(#"["rival \#(rivalWrites)"]"#.utf8)
        let update = SessionUpdate(setValues: [write.key: rival], idleExpiresAt: write.idleExpiresAt, lastSeenAt: write.lastSeenAt)
        _ = try await base.update(id, update)
        return .conflict(current: rival)
    }
}

@Suite("Atomic changes: store calls per request")
struct AtomicChangeCostTests {
    @Test("a counter request costs one load and one write, whichever call it uses")
    func oneLoadAndOneWrite() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 0)
        let variants: [(CountingSessionStore.Method, @Sendable (SessionHandle) async throws -> Void)] = [
            (.update, { try await $0.set(Keys.count, (try await $0.get(Keys.count) ?? 0) + 1) }),
            (.compareAndSet, { try await $0.modify(Keys.count, default: 0) { $0 += 1 } }),
            (.increment, { _ = try await $0.increment(Keys.count) }),
        ]
        for (write, change) in variants {
            harness.store.reset()
            try await client.send(change)
            #expect(harness.store.calls == [.load: 1, write: 1], "\(write): \(harness.store.calls)")
        }
    }
}
