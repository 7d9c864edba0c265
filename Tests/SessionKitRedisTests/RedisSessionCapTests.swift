import Foundation
import SessionKit
import SessionKitRESP
import SessionKitRedis
import SessionKitTesting
import Testing

/// The per-user session cap across instances: three engines, each with its own store and
/// connections (three app instances), sign one user in at once. The Redis store enforces the
/// cap inside the sign-in's script, so no listing ever sees more than the cap.
@Suite("Redis session cap across instances", .enabled(if: RedisTestServer.isConfigured, RedisTestServer.skipReason))
struct RedisSessionCapTests {
    @Test(
        "15 concurrent sign-ins of one user through 3 instances: never more than 3 sessions; with .refuse exactly 3 admitted",
        arguments: [SessionConfiguration.ConcurrentSessionLimit.Policy.evictOldest, .refuse]
    )
    func capIsExactAcrossInstances(policy: SessionConfiguration.ConcurrentSessionLimit.Policy) async throws {
        let prefix = "cap:\(UUID().uuidString.prefix(8)):"
        let url = try RedisTestServer.configuredURL()
        let stores = try (0..<3).map { _ in try RedisSessionStore(url: url, keyPrefix: prefix) }
        let configuration = SessionConfiguration(concurrentSessionLimit: .init(maxSessions: 3, policy: policy))
        let engines = try stores.map { try SessionEngine(store: $0, configuration: configuration) }
        let finished = LockedValue(false)
        let (admitted, refused, peak) = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
            group.addTask {
                var peak = 0
                var listings = 0
                while listings < 10_000, !finished.withLock({ $0 }) {
                    listings += 1
                    peak = max(peak, try await stores[0].sessions(forUser: "zoe").count)
                }
                return (0, 0, peak)
            }
            let outcome = try await withThrowingTaskGroup(of: Bool.self) { signIns in
                for index in 0..<15 {
                    signIns.addTask {
                        let device = EngineTestClient(engine: engines[index % 3])
                        // Every third device signs in from an anonymous session (replaced by
                        // the sign-in: on a cluster it lives in another slot).
                        if index % 3 == 0 { try await device.send { try await $0.set(SessionKey<Int>("cart"), index) } }
                        do {
                            try await device.send { try await $0.signIn(userID: "zoe") }
                            return true
                        } catch let error as SessionError where error.code == .tooManySessions {
                            return false
                        }
                    }
                }
                var admitted = 0
                var refused = 0
                for try await signedIn in signIns {
                    if signedIn { admitted += 1 } else { refused += 1 }
                }
                return (admitted, refused)
            }
            finished.withLock { $0 = true }
            var peak = 0
            for try await (_, _, seen) in group { peak = max(peak, seen) }
            return (outcome.0, outcome.1, peak)
        }
        #expect(peak <= 3, "a listing during the sign-ins saw \(peak) sessions")
        #expect(try await stores[1].sessions(forUser: "zoe").count == 3)
        switch policy {
        case .evictOldest: #expect(admitted == 15 && refused == 0)
        case .refuse: #expect(admitted == 3 && refused == 12)
        }
        for store in stores { await store.client.close() }
    }

    @Test("an index entry that is not a session ID neither counts toward the cap nor blocks a capped sign-in")
    func unreadableIndexEntry() async throws {
        let store = try RedisSessionStore(url: try RedisTestServer.configuredURL(), keyPrefix: "cap:\(UUID().uuidString.prefix(8)):")
        let setKey = store.userKey("gus")
        let added = try await store.client.send([RESPCommand("SADD", [setKey, "not-a-session-id"])], touching: setKey)
        #expect(added.first?.int == 1)
        let engine = try SessionEngine(
            store: store,
            configuration: SessionConfiguration(concurrentSessionLimit: .init(maxSessions: 1, policy: .refuse))
        )
        let device = EngineTestClient(engine: engine)
        try await device.send { try await $0.signIn(userID: "gus") }
        #expect(try await device.request { try await $0.userID }.value == "gus")
        #expect(try await store.sessions(forUser: "gus").count == 1)
        await store.client.close()
    }
}
