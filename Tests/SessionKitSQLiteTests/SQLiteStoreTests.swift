import Foundation
import SessionKit
import SessionKitSQLite
import SessionKitTesting
import Testing

/// A fresh database file in the temporary directory, removed with its WAL files afterwards.
func temporaryDatabasePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("sessionkit-\(UUID().uuidString).sqlite").path
}

func removeDatabase(_ path: String) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test(arguments: SessionStoreConformance.cases + SessionStoreConformance.sweeping)
    func conformance(_ check: SessionStoreConformance.Case) async throws {
        let path = temporaryDatabasePath()
        defer { removeDatabase(path) }
        try await check.run { clock in
            let store = try await SQLiteSessionStore.open(path: path, clock: clock)
            try await store.migrate()
            return store
        }
    }

    /// Issue 18's cost: without contention `modify` costs what `get` + `set` costs, one load
    /// and one write, and never a retry (a compare-and-set that failed on a value spelled
    /// differently by the store would double the write's cost).
    @Test("an uncontended modify is one load and one compare-and-set, as get + set is one load and one update")
    func uncontendedModifyCostsOneWrite() async throws {
        let path = temporaryDatabasePath()
        defer { removeDatabase(path) }
        let sqlite = try await SQLiteSessionStore.open(path: path)
        try await sqlite.migrate()
        let store = CountingSessionStore(sqlite)
        let engine = try SessionEngine(store: store)
        let client = EngineTestClient(engine: engine)
        let counter = SessionKey<Int>("n")
        let list = SessionKey<[String]>("list")
        try await client.send { try await $0.set(counter, 1) }
        store.reset()
        for _ in 0..<5 {
            try await client.send { try await $0.set(counter, (try await $0.get(counter) ?? 0) + 1) }
        }
        #expect(store.calls == [.load: 5, .update: 5])
        store.reset()
        for item in ["a", "b", "c", "d", "e"] {
            try await client.send {
                try await $0.modify(counter, default: 0) { $0 += 1 }
                try await $0.modify(list, default: []) { $0.append(item) }
            }
        }
        #expect(store.calls == [.load: 5, .compareAndSet: 10])
        let (values, _) = try await client.request { (try await $0.get(counter), try await $0.get(list)) }
        #expect(values.0 == 11 && values.1 == ["a", "b", "c", "d", "e"])
        try await sqlite.close()
    }

    @Test("the migration is idempotent and uses WAL")
    func migrationIsIdempotent() async throws {
        let path = temporaryDatabasePath()
        defer { removeDatabase(path) }
        let store = try await SQLiteSessionStore.open(path: path)
        try await store.migrate()
        try await store.migrate()
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        try await store.close()
    }

    @Test("sessions survive closing and reopening the file")
    func persistence() async throws {
        let path = temporaryDatabasePath()
        defer { removeDatabase(path) }
        let id = SessionToken.generate().storageID
        let now = Date()
        do {
            let store = try await SQLiteSessionStore.open(path: path)
            try await store.migrate()
            try await store.create(
                id,
                SessionRecord(
                    data: ["user": Data("\"ada\"".utf8)],
                    userID: "ada",
                    createdAt: now,
                    idleExpiresAt: now + 600,
                    absoluteExpiresAt: now + 3600
                )
            )
            try await store.close()
        }
        let reopened = try await SQLiteSessionStore.open(path: path)
        try await reopened.migrate()
        let record = try #require(try await reopened.load(id))
        #expect(record.userID == "ada")
        #expect(record.data["user"] == Data("\"ada\"".utf8))
        try await reopened.close()
    }

    @Test("the sweeper deletes expired rows in bounded batches and keeps live ones")
    func sweeper() async throws {
        let path = temporaryDatabasePath()
        defer { removeDatabase(path) }
        let clock = TestClock()
        let store = try await SQLiteSessionStore.open(path: path, clock: clock)
        try await store.migrate()
        let now = clock.now()
        var live: [SessionStorageID] = []
        for index in 0..<250 {
            let id = SessionToken.generate().storageID
            let idle: TimeInterval = index < 200 ? 10 : 1000
            try await store.create(id, SessionRecord(data: [:], createdAt: now, idleExpiresAt: now + idle, absoluteExpiresAt: now + 3600))
            if index >= 200 { live.append(id) }
        }
        clock.advance(by: .seconds(11))
        #expect(try await store.sweepExpired(batchSize: 64) == 64)
        let sweeper = SessionSweeper(store: store, batchSize: 64)
        #expect(try await sweeper.sweepNow() == 136)
        #expect(try await sweeper.sweepNow() == 0)
        for id in live { #expect(try await store.load(id) != nil) }
        try await store.close()
    }

    @Test("an unreadable database path is a typed store error")
    func unopenablePath() async throws {
        await #expect(throws: SessionStoreError.self) {
            _ = try await SQLiteSessionStore.open(path: "/nonexistent-dir/sessions.sqlite")
        }
    }
}
