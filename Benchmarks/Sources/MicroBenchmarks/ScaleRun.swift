import AllocationCounter
import Foundation
import SessionKit

/// The memory store at scale: fills one store with up to a million live sessions and reports
/// the heap each session costs beyond its payload, and `load`/`patch` latency at each size
/// (a hash map: the latency should stay flat as the store grows).
///
/// `--scale 10000,1000000` chooses the sizes (the default).
enum ScaleRun {
    /// The session sizes to measure, from `--scale a,b,…` or 10k and 1M.
    static func sizes(from arguments: [String]) -> [Int] {
        guard let index = arguments.firstIndex(of: "--scale"), index + 1 < arguments.count else { return [10_000, 1_000_000] }
        return arguments[index + 1].split(separator: ",").compactMap { Int($0) }.sorted()
    }

    static func run(sizes: [Int]) async throws {
        guard let largest = sizes.last else { return }
        let store = MemorySessionStore(maxSessions: largest)
        let now = Date()
        // A typical small payload: a user ID and a CSRF token (key names + JSON values).
        let payload: [String: Data] = [
            "uid": Data("\"u-1234567\"".utf8),
            "csrf": Data("\"\(String(repeating: "c", count: 43))\"".utf8),
        ]
        let payloadBytes = payload.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        let record = SessionRecord(data: payload, createdAt: now, idleExpiresAt: now + 3600, absoluteExpiresAt: now + 7200)
        let patch = SessionUpdate(setValues: ["uid": Data("\"u-7654321\"".utf8)], idleExpiresAt: now + 3600, lastSeenAt: now)

        print("memory store at scale (payload \(payloadBytes) bytes of keys and JSON values per session)")
        print(String(format: "%12@ %14@ %16@ %14@ %14@", "sessions", "heap/session", "beyond payload", "load ns/op", "patch ns/op"))
        var ids: [SessionStorageID] = []
        ids.reserveCapacity(largest)
        for size in sizes {
            // IDs are made before measuring the heap, so only the store's growth is counted.
            let fresh = (ids.count..<size).map { _ in SessionToken.generate().storageID }
            let heapBefore = sessionkit_heap_bytes_in_use()
            for id in fresh {
                // Each session gets its own copy of the data, as real sessions do.
                var copy = record
                copy.data = payload.mapValues { Data($0) }
                try await store.create(id, copy)
            }
            let heapAfter = sessionkit_heap_bytes_in_use()
            ids += fresh
            let perSession = fresh.isEmpty ? 0 : Double(heapAfter &- heapBefore) / Double(fresh.count)
            let load = try await latency(ids: ids) { _ = try await store.load($0) }
            let patchLatency = try await latency(ids: ids) { _ = try await store.update($0, patch) }
            print(
                String(
                    format: "%12d %12.0f B %14.0f B %14.0f %14.0f",
                    size,
                    perSession,
                    perSession - Double(payloadBytes),
                    load,
                    patchLatency
                )
            )
        }
    }

    /// The median over five rounds of 100k operations on random existing sessions.
    private static func latency(ids: [SessionStorageID], _ body: (SessionStorageID) async throws -> Void) async throws -> Double {
        var generator = SystemRandomNumberGenerator()
        let picks = (0..<100_000).map { _ in ids[Int.random(in: 0..<ids.count, using: &generator)] }
        var rounds: [Double] = []
        for _ in 0..<5 {
            let start = ContinuousClock.now
            for id in picks { try await body(id) }
            rounds.append(Bench.nanoseconds(ContinuousClock.now - start) / Double(picks.count))
        }
        return rounds.sorted()[2]
    }
}
