import AllocationCounter
import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting

/// A small harness for SessionKit's hot paths: runs each body for a fixed number of
/// iterations after a warm-up, five rounds, and reports the median time per call and the
/// heap allocations per call (counted by the AllocationCounter target).
/// Numbers are for comparing builds on one machine, not absolute truths.
enum Bench {
    /// `--filter TEXT` runs only the benchmarks whose name contains TEXT (for profiling one).
    static let filter: String? = CommandLine.arguments.firstIndex(of: "--filter").flatMap {
        $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil
    }

    static func selected(_ name: String) -> Bool { filter.map { name.contains($0) } ?? true }

    static func measure(_ name: String, iterations: Int, _ body: () throws -> Void) rethrows {
        guard selected(name) else { return }
        for _ in 0..<(iterations / 10) { try body() }
        var rounds: [Double] = []
        let allocationsBefore = sessionkit_allocation_count()
        for _ in 0..<5 {
            let start = ContinuousClock.now
            for _ in 0..<iterations { try body() }
            rounds.append(nanoseconds(ContinuousClock.now - start))
        }
        report(name, rounds: rounds, iterations: iterations, allocations: sessionkit_allocation_count() - allocationsBefore)
    }

    static func measureAsync(_ name: String, iterations: Int, _ body: () async throws -> Void) async rethrows {
        guard selected(name) else { return }
        for _ in 0..<(iterations / 10) { try await body() }
        var rounds: [Double] = []
        let allocationsBefore = sessionkit_allocation_count()
        for _ in 0..<5 {
            let start = ContinuousClock.now
            for _ in 0..<iterations { try await body() }
            rounds.append(nanoseconds(ContinuousClock.now - start))
        }
        report(name, rounds: rounds, iterations: iterations, allocations: sessionkit_allocation_count() - allocationsBefore)
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.attoseconds) / 1e9 + Double(duration.components.seconds) * 1e9
    }

    private static func report(_ name: String, rounds: [Double], iterations: Int, allocations: UInt64) {
        let nanos = rounds.sorted()[rounds.count / 2] / Double(iterations)
        let perCall = Double(allocations) / Double(iterations * rounds.count)
        print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: " %10.0f ns/op %8.1f allocs/op", nanos, perCall))
    }
}

if CommandLine.arguments.contains("--scale-only") {
    try await ScaleRun.run(sizes: ScaleRun.sizes(from: CommandLine.arguments))
    exit(0)
}

/// The hot-path benchmarks. They run in a nonisolated function: top-level code in `main.swift`
/// is main-actor isolated, and every call from there into async code would add an executor hop
/// (microseconds) to what is measured.
enum HotPaths {
    static func run() async throws {
        let token = SessionToken.generate()
        Bench.measure("token: generate", iterations: 100_000) { _ = SessionToken.generate() }
        Bench.measure("token: validate", iterations: 200_000) { _ = SessionToken(validating: token.text) }
        Bench.measure("token: storage ID (SHA-256)", iterations: 100_000) { _ = token.storageID }

        var cookieFields = HTTPFields()
        cookieFields[.cookie] = "theme=dark; __Host-id=\(token.text); _ga=GA1.1.123456789.123456789"
        let engine = try SessionEngine(store: MemorySessionStore())
        Bench.measure("engine.begin (cookie parse + validate)", iterations: 200_000) { _ = engine.begin(cookieFields) }

        // Sealed cookies: a 200-byte payload.
        let keyRing = KeyRing.ephemeral()
        let sealedEngine = try SessionEngine(sealedCookies: SealedCookieBackend(keyRing: keyRing))
        let payload = String(repeating: "x", count: 198)  // 198 characters + 2 quotes = 200 bytes of JSON
        let sealingClient = EngineTestClient(engine: sealedEngine)
        try await sealingClient.send { try await $0.set(SessionKey<String>("p"), payload) }
        let sealedValue = sealingClient.cookie ?? ""
        print(
            "sealed cookie for a 200-byte value: \(sealedValue.utf8.count) bytes of cookie value (\("__Host-id=".utf8.count + sealedValue.utf8.count) with the name)"
        )
        await Bench.measureAsync("sealed: seal (new session, 200 B)", iterations: 20_000) {
            let handle = sealedEngine.begin([:])
            try? await handle.set(SessionKey<String>("p"), payload)
            _ = try? await sealedEngine.commit(handle)
        }
        var sealedFields = HTTPFields()
        sealedFields[.cookie] = "__Host-id=\(sealedValue)"
        await Bench.measureAsync("sealed: open (read one value)", iterations: 20_000) {
            let handle = sealedEngine.begin(sealedFields)
            _ = try? await handle.get(SessionKey<String>("p"))
            _ = try? await sealedEngine.commit(handle)
        }

        // Memory store and the full engine round trip.
        let store = MemorySessionStore()
        let id = token.storageID
        let now = Date()
        try await store.create(
            id,
            SessionRecord(data: ["n": Data("1".utf8)], createdAt: now, idleExpiresAt: now + 3600, absoluteExpiresAt: now + 7200)
        )
        await Bench.measureAsync("memory store: load", iterations: 200_000) { _ = try? await store.load(id) }
        let patch = SessionUpdate(setValues: ["n": Data("2".utf8)], idleExpiresAt: now + 3600, lastSeenAt: now)
        await Bench.measureAsync("memory store: patch", iterations: 200_000) { _ = try? await store.update(id, patch) }

        let roundTripStore = MemorySessionStore()
        let roundTripEngine = try SessionEngine(store: roundTripStore)
        let client = EngineTestClient(engine: roundTripEngine)
        try await client.send { try await $0.set(SessionKey<Int>("n"), 0) }
        var fields = HTTPFields()
        fields[.cookie] = "__Host-id=\(client.cookie ?? "")"
        await Bench.measureAsync("engine round trip: read one value", iterations: 100_000) {
            let handle = roundTripEngine.begin(fields)
            _ = try? await handle.get(SessionKey<Int>("n"))
            _ = try? await roundTripEngine.commit(handle)
        }
        await Bench.measureAsync("engine round trip: increment a counter", iterations: 100_000) {
            let handle = roundTripEngine.begin(fields)
            let value = (try? await handle.get(SessionKey<Int>("n"))) ?? 0
            try? await handle.set(SessionKey<Int>("n"), value + 1)
            _ = try? await roundTripEngine.commit(handle)
        }
        await Bench.measureAsync("engine round trip: counter via modify", iterations: 100_000) {
            let handle = roundTripEngine.begin(fields)
            _ = try? await handle.modify(SessionKey<Int>("n"), default: 0) { $0 += 1 }
            _ = try? await roundTripEngine.commit(handle)
        }
        await Bench.measureAsync("engine round trip: counter via increment", iterations: 100_000) {
            let handle = roundTripEngine.begin(fields)
            _ = try? await handle.increment(SessionKey<Int>("n"))
            _ = try? await roundTripEngine.commit(handle)
        }
        try await CounterRoundTrips.run(try SessionEngine(store: MemorySessionStore()), label: "memory")
        try await SQLiteCounterBench.run()

        // The same read over 100,000 sessions, visited in a scattered order: each request's
        // record, shard bucket and payload are unlikely to be in the CPU's nearer caches, as
        // under real traffic. The gap to the hot loop above is cache cost.
        var manyFields: [HTTPFields] = []
        for _ in 0..<100_000 {
            let other = EngineTestClient(engine: roundTripEngine)
            try await other.send { try await $0.set(SessionKey<Int>("n"), 0) }
            var otherFields = HTTPFields()
            otherFields[.cookie] = "__Host-id=\(other.cookie ?? "")"
            manyFields.append(otherFields)
        }
        var turn = 0
        await Bench.measureAsync("engine round trip: read, cold (100k sessions)", iterations: 20_000) {
            let handle = roundTripEngine.begin(manyFields[turn % manyFields.count])
            turn = (turn + 7919) % manyFields.count
            _ = try? await handle.get(SessionKey<Int>("n"))
            _ = try? await roundTripEngine.commit(handle)
        }
    }
}

try await HotPaths.run()
guard Bench.filter == nil else { exit(0) }
print()
try await ScaleRun.run(sizes: ScaleRun.sizes(from: CommandLine.arguments))
