import Foundation
import HTTPTypes
import MetricsTestKit
import SessionKit
import SessionKitTesting
import Testing

@Suite("Metrics")
struct MetricsTests {
    private func total(_ metrics: TestMetrics, _ label: String) -> Int64 {
        metrics.counters(label: label).reduce(0) { $0 + $1.totalValue }
    }

    @Test("every lifecycle step counts in swift-metrics, and no label or dimension carries a token")
    func countersFollowTheLifecycle() async throws {
        let metrics = TestMetrics()
        let clock = TestClock()
        let faulty = FaultInjectingSessionStore(MemorySessionStore(clock: clock))
        var configuration = SessionConfiguration()
        configuration.storeTimeout = nil
        let engine = try SessionEngine(store: faulty, configuration: configuration, clock: clock, metricsFactory: metrics)
        let client = EngineTestClient(engine: engine)
        let count = SessionKey<Int>("count")

        try await client.send { try await $0.set(count, 1) }  // created
        try await client.send { try await $0.set(count, 2) }  // loaded + updated
        clock.advance(by: .seconds(61))
        try await client.send { _ = try await $0.get(count) }  // loaded + touched
        try await client.send { try await $0.regenerate() }  // loaded + regenerated (+ created)
        let token = try #require(client.cookie)
        try await client.send(headers: [.cookie: "__Host-id=junk"]) { _ = try await $0.get(count) }  // rejected token
        faulty.fault = .unavailable
        await #expect(throws: SessionError.self) { try await client.send { _ = try await $0.get(count) } }  // store error
        faulty.fault = .none
        try await client.send { try $0.destroy() }  // destroyed

        #expect(total(metrics, "sessionkit_sessions_created_total") == 2)
        #expect(total(metrics, "sessionkit_sessions_loaded_total") == 3)
        #expect(total(metrics, "sessionkit_sessions_updated_total") == 1)
        #expect(total(metrics, "sessionkit_sessions_touched_total") == 1)
        #expect(total(metrics, "sessionkit_sessions_regenerated_total") == 1)
        #expect(total(metrics, "sessionkit_rejected_tokens_total") == 1)
        #expect(total(metrics, "sessionkit_store_errors_total") == 1)
        #expect(total(metrics, "sessionkit_sessions_destroyed_total") == 1)
        for counter in metrics.counters {
            #expect(!counter.label.contains(token) && counter.dimensions.allSatisfy { !$0.1.contains(token) })
        }
    }

    @Test("every store call is timed per operation and outcome, with bounded dimensions; modify retries are counted")
    func storeCallsAreTimed() async throws {
        let metrics = TestMetrics()
        let clock = TestClock()
        let faulty = FaultInjectingSessionStore(MemorySessionStore(clock: clock))
        let engine = try SessionEngine(store: faulty, clock: clock, metricsFactory: metrics)
        let client = EngineTestClient(engine: engine)
        let count = SessionKey<Int>("count")
        try await client.send { try await $0.set(count, 1) }  // create
        try await client.send { try await $0.increment(count) }  // load + increment
        try await client.send { try await $0.modify(count) { $0 = ($0 ?? 0) + 1 } }  // load + compareAndSet
        faulty.fault = .unavailable
        await #expect(throws: SessionError.self) { try await client.send { _ = try await $0.get(count) } }  // load fails
        faulty.fault = .none

        let label = "sessionkit_store_operation_duration_seconds"
        func recorded(_ operation: String, _ outcome: String) -> Int {
            metrics.timers(label: label, dimensions: [("operation", operation), ("outcome", outcome), ("db_system", "other")])  // the fault wrapper names no database
                .reduce(0) { $0 + $1.values.count }
        }
        #expect(recorded("create", "ok") == 1)
        #expect(recorded("load", "ok") == 2)
        #expect(recorded("increment", "ok") == 1)
        #expect(recorded("compareAndSet", "ok") == 1)
        #expect(recorded("load", "error") == 1)
        #expect(recorded("update", "ok") == 0, "the atomic calls' commits wrote again")
        // Dimensions come from fixed sets: no token, storage ID or key name reaches them.
        let token = try #require(client.cookie)
        for timer in metrics.timers {
            for (name, value) in timer.dimensions {
                #expect(["operation", "outcome", "db_system"].contains(name))
                #expect(!value.contains(token) && !value.contains("count"))
            }
        }

        // Two handles of one session modify one key: the second loses once and runs again.
        let first = engine.begin([.cookie: "__Host-id=\(token)"])
        let second = engine.begin([.cookie: "__Host-id=\(token)"])
        _ = try await first.get(count)
        _ = try await second.get(count)
        try await first.modify(count) { $0 = ($0 ?? 0) + 1 }
        try await second.modify(count) { $0 = ($0 ?? 0) + 1 }
        #expect(metrics.counterTotal(label: "sessionkit_modify_retries_total") == 1)
    }
}
