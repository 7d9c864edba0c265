import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting

/// What a counter request costs the engine and its store with `get` + `set`, `modify` and
/// `increment`: issue 18's cost comparison without HTTP in between.
enum CounterRoundTrips {
    /// The whole request through the engine (begin, the counter change, commit) over 256
    /// sessions taken in turn, as the HTTP counter benchmark's uncontended setting does, the
    /// three variants interleaved in 9 rounds so a drift of the machine hits all of them:
    /// the median per variant, and modify's and increment's ratio to get + set.
    static func run(_ engine: SessionEngine, label: String) async throws {
        guard Bench.selected("\(label) engine round trip") else { return }
        let counter = SessionKey<Int>("n")
        var sessions: [HTTPFields] = []
        for _ in 0..<256 {
            let client = EngineTestClient(engine: engine)
            try await client.send { try await $0.set(counter, 0) }
            var fields = HTTPFields()
            fields[.cookie] = "__Host-id=\(client.cookie ?? "")"
            sessions.append(fields)
        }
        let variants: [(String, @Sendable (SessionHandle) async throws -> Void)] = [
            ("get + set", { handle in try await handle.set(counter, (try await handle.get(counter) ?? 0) + 1) }),
            ("modify", { handle in try await handle.modify(counter, default: 0) { $0 += 1 } }),
            ("increment", { handle in _ = try await handle.increment(counter) }),
        ]
        var next = 0
        var perVariant: [[Double]] = Array(repeating: [], count: variants.count)
        let iterations = 400
        for round in 0..<10 {
            for (index, variant) in variants.enumerated() {
                let start = ContinuousClock.now
                for _ in 0..<iterations {
                    let handle = engine.begin(sessions[next % sessions.count])
                    next += 1
                    try await variant.1(handle)
                    _ = try await engine.commit(handle)
                }
                // Round 0 is the warm-up.
                if round > 0 { perVariant[index].append(Bench.nanoseconds(ContinuousClock.now - start) / Double(iterations)) }
            }
        }
        let medians = perVariant.map { $0.sorted()[$0.count / 2] }
        for (index, variant) in variants.enumerated() {
            let name = "\(label) engine round trip: \(variant.0)"
            print(
                name.padding(toLength: 44, withPad: " ", startingAt: 0)
                    + String(format: " %10.0f ns/op  (%.3f of get + set)", medians[index], medians[index] / medians[0])
            )
        }
    }
}
