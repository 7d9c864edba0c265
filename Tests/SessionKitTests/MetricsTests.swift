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
}
