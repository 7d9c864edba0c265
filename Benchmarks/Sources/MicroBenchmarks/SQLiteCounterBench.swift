import Foundation
import SessionKit
import SessionKitSQLite

/// The SQLite store's three ways to add one to a value, called directly (no engine, no HTTP):
/// what a request's write costs with `set` (an update), `modify` (a compare-and-set) and
/// `increment`.
enum SQLiteCounterBench {
    static func run() async throws {
        guard Bench.selected("sqlite store") || Bench.selected("sqlite engine round trip") else { return }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await SQLiteSessionStore.open(path: path)
        try await store.migrate()
        let id = SessionToken.generate().storageID
        let now = Date()
        try await store.create(
            id,
            SessionRecord(data: ["n": Data("0".utf8)], createdAt: now, idleExpiresAt: now + 3600, absoluteExpiresAt: now + 7200)
        )
        var value = 0
        await Bench.measureAsync("sqlite store: update (set)", iterations: 2_000) {
            value += 1
            let update = SessionUpdate(setValues: ["n": Data(String(value).utf8)], idleExpiresAt: now + 3600, lastSeenAt: now)
            _ = try? await store.update(id, update)
        }
        await Bench.measureAsync("sqlite store: compareAndSet (modify)", iterations: 2_000) {
            let write = SessionKeyWrite(
                key: "n",
                expected: Data(String(value).utf8),
                newValue: Data(String(value + 1).utf8),
                idleExpiresAt: now + 3600,
                lastSeenAt: now
            )
            if case .applied = try? await store.compareAndSet(id, write) { value += 1 }
        }
        await Bench.measureAsync("sqlite store: increment", iterations: 2_000) {
            _ = try? await store.increment(id, SessionKeyIncrement(key: "n", delta: 1, idleExpiresAt: now + 3600, lastSeenAt: now))
        }
        await Bench.measureAsync("sqlite store: load", iterations: 2_000) { _ = try? await store.load(id) }
        try await CounterRoundTrips.run(try SessionEngine(store: store), label: "sqlite")
        try await store.close()
    }
}
