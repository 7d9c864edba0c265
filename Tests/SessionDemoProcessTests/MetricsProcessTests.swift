import Foundation
import NIOHTTP1
import Testing

/// Issue 16 (metrics): both demos serve the engine's swift-metrics at `GET /metrics` in
/// Prometheus' text format with `--metrics` (store timers, rejected tokens by reason, the
/// active-sessions gauge), and have no such route without it.
@Suite(
    "Demo metrics endpoint",
    .serialized,
    .enabled(
        if: DemoServer.isBuilt && DemoServer.isBuilt(named: "session-demo-vapor"),
        "session-demo and session-demo-vapor are not built next to the tests"
    )
)
struct MetricsProcessTests {
    @Test(arguments: ["session-demo", "session-demo-vapor"])
    func metricsAreScraped(binary: String) async throws {
        let demo = try await DemoServer.start(store: "memory", binaryName: binary, arguments: ["--metrics"])
        let plain = try await DemoServer.start(store: "memory", binaryName: binary)
        let client = DemoClient()
        do {
            _ = try await client.send(.POST, demo, "/api/counter")
            _ = try await client.send(.POST, demo, "/api/counter")
            _ = try await client.send(.POST, demo, "/api/counter/modify")
            let token = try #require(client.cookie)
            let forger = DemoClient()
            forger.cookie = "not-a-session-token"
            _ = try? await forger.send(.GET, demo, "/api/me")
            try? await forger.shutdown()
            let scrape = try await client.send(.GET, demo, "/metrics")
            #expect(scrape.status == 200)
            let text = scrape.body
            #expect(text.contains("sessionkit_sessions_created_total 1"), "\(text)")
            for operation in ["increment", "compareAndSet", "load"] {
                #expect(
                    text.contains(#"sessionkit_store_operation_duration_seconds_count{operation="\#(operation)",outcome="ok",db_system="memory"}"#),
                    "no timer for \(operation) in:\n\(text)"
                )
            }
            // Whole lines: a value of 10 must not pass for 1.
            let lines = Set(text.split(separator: "\n").map(String.init))
            func hasSample(_ series: String, _ value: String) -> Bool {
                lines.contains("\(series) \(value)") || lines.contains("\(series) \(value).0")
            }
            #expect(hasSample(#"sessionkit_rejected_tokens_total{reason="malformed"}"#, "1"), "\(text)")
            // The memory store counts cheaply: the gauge is set at each scrape.
            #expect(hasSample(#"sessionkit_active_sessions{db_system="memory"}"#, "1"), "\(text)")
            // Every outage series exists from the start, at 0.
            #expect(hasSample(#"sessionkit_store_errors_total{operation="load",error_type="unavailable",db_system="memory"}"#, "0"), "\(text)")
            #expect(!text.contains(token), "a session token reached the metrics")
            let none = try await client.send(.GET, plain, "/metrics")
            #expect(none.status == 404, "without --metrics: \(none.status)")
        } catch {
            try? await client.shutdown()
            await demo.stop()
            await plain.stop()
            throw error
        }
        try await client.shutdown()
        await demo.stop()
        await plain.stop()
    }

    /// Issue 15: with `client_cache=on` the scrape adds the cache's counters, so an operator
    /// sees the hit rate per instance: the first read misses, the repeats hit.
    @Test(
        "the Redis client-side cache's hits and misses are scraped",
        .enabled(if: ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_URL"] != nil, "set SESSIONKIT_REDIS_URL")
    )
    func cacheCountersAreScraped() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_URL"])
        let demo = try await DemoServer.start(store: url + "?client_cache=on", arguments: ["--metrics"])
        let client = DemoClient()
        do {
            _ = try await client.send(.POST, demo, "/api/visit")
            for _ in 0..<3 { _ = try await client.send(.GET, demo, "/api/me") }
            let lines = Set(try await client.send(.GET, demo, "/metrics").body.split(separator: "\n").map(String.init))
            // The visit creates the session (a write, not cached); the first read misses and
            // fills the entry; the two repeats hit.
            #expect(lines.contains("sessionkit_redis_cache_hits_total 2"), "\(lines.sorted())")
            #expect(lines.contains("sessionkit_redis_cache_misses_total 1"), "\(lines.sorted())")
            #expect(lines.contains("sessionkit_redis_cache_sessions 1"), "\(lines.sorted())")
        } catch {
            try? await client.shutdown()
            await demo.stop()
            throw error
        }
        try await client.shutdown()
        await demo.stop()
    }
}
