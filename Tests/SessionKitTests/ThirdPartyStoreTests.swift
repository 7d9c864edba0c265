import Foundation
import SessionKit
import SessionKitTesting
import Testing

// The complete third-party store that the Writing a store article (Sources/SessionKit/SessionKit.docc/WritingAStore.md) shows: the five core calls over
// a plain actor dictionary, nothing else. The tests below run the core conformance cases on
// it, and prove that the engine checks capabilities once, when it is created.

/// A minimal store: the core contract only (no user index, no versions, no sweeping).
actor DictionarySessionStore: SessionStore {
    private var records: [SessionStorageID: SessionRecord] = [:]
    private let clock: any SessionClock

    init(clock: any SessionClock = SystemSessionClock()) {
        self.clock = clock
    }

    private func live(_ id: SessionStorageID) -> SessionRecord? {
        guard let record = records[id], !record.isExpired(at: clock.now()) else { return nil }
        return record
    }

    func load(_ id: SessionStorageID) -> SessionRecord? {
        live(id)
    }

    func create(_ id: SessionStorageID, _ record: SessionRecord) throws {
        guard live(id) == nil else { throw SessionStoreError.collision }
        records[id] = record
    }

    func update(_ id: SessionStorageID, _ update: SessionUpdate) -> Bool {
        guard var record = live(id) else { return false }
        record.apply(update)
        records[id] = record
        return true
    }

    func delete(_ id: SessionStorageID) {
        records[id] = nil
    }

    func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) throws -> Bool {
        guard live(oldID) != nil else { return false }
        guard live(newID) == nil else { throw SessionStoreError.collision }
        records[oldID] = nil
        records[newID] = record
        return true
    }
}

@Suite("A third-party store with only the core contract")
struct ThirdPartyStoreTests {
    @Test(arguments: SessionStoreConformance.core)
    func coreConformance(_ check: SessionStoreConformance.Case) async throws {
        try await check.run { clock in DictionarySessionStore(clock: clock) }
    }

    @Test("a capability case names the missing capability instead of passing")
    func capabilityCasesFailLoudly() async throws {
        let check = try #require(SessionStoreConformance.userIndex.first)
        await #expect(throws: ConformanceFailure.self) {
            try await check.run { clock in DictionarySessionStore(clock: clock) }
        }
    }

    @Test("a session cap over a store without a user index fails when the engine is created, naming both")
    func capNeedsUserIndex() throws {
        var configuration = SessionConfiguration()
        configuration.concurrentSessionLimit = .init(maxSessions: 3, policy: .refuse)
        let error = #expect(throws: SessionConfigurationError.self) {
            _ = try SessionEngine(store: DictionarySessionStore(), configuration: configuration)
        }
        #expect(error?.message.contains("concurrentSessionLimit") == true)
        #expect(error?.message.contains("DictionarySessionStore") == true)
        #expect(error?.message.contains("SessionUserIndexing") == true)
    }

    @Test("versioned writes over a store without versions fail when the engine is created, naming both")
    func versionedWritesNeedVersions() throws {
        var configuration = SessionConfiguration()
        configuration.versionedWrites = true
        let error = #expect(throws: SessionConfigurationError.self) {
            _ = try SessionEngine(store: DictionarySessionStore(), configuration: configuration)
        }
        #expect(error?.message.contains("versionedWrites") == true)
        #expect(error?.message.contains("DictionarySessionStore") == true)
    }

    @Test("the full lifecycle runs on the core contract; per-user calls are a typed error")
    func lifecycleOnTheCoreContract() async throws {
        let clock = TestClock()
        let store = DictionarySessionStore(clock: clock)
        let engine = try SessionEngine(store: store, clock: clock)
        let client = EngineTestClient(engine: engine)
        let counter = SessionKey<Int>("count")
        try await client.send { try await $0.set(counter, 1) }
        try await client.send { session in try await session.signIn(userID: "ada") }
        let signedIn = try #require(client.cookie)
        try await client.send { session in
            let count = try await session.get(counter)
            try await session.set(counter, (count ?? 0) + 1)
        }
        let value = try await client.request { try await $0.get(counter) }.value
        #expect(value == 2)
        await #expect(throws: SessionError.self) {
            try await client.send { _ = try await $0.sessionsOfUser() }
        }
        try await client.send { try $0.destroy() }
        let old = EngineTestClient(engine: engine)
        old.cookie = signedIn
        #expect(try await old.request { try await $0.get(counter) }.value == nil)
    }
}
