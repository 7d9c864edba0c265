import Foundation
import Logging
import PostgresNIO
import SessionKit
import SessionKitPostgres
import SessionKitTesting
import Testing

/// Every PostgreSQL test runs in one serialized suite: the outage test stops the server.
@Suite("PostgreSQL store", .serialized, .enabled(if: PostgresTestServer.isConfigured, PostgresTestServer.skipReason))
struct PostgresStoreTests {
    /// Every case with both touch commits: the relaxed touch is a different statement.
    @Test(arguments: SessionStoreConformance.cases + SessionStoreConformance.sweeping, PostgresTouchCommit.allCases)
    func conformance(_ check: SessionStoreConformance.Case, touchCommit: PostgresTouchCommit) async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            try await check.run { clock in
                let store = PostgresSessionStore(client: client, touchCommit: touchCommit, clock: clock)
                try await store.migrate()
                return store
            }
        }
    }

    @Test("modify that leaves a jsonb-normalised value unchanged writes nothing")
    func unchangedModifyCostsNoWrite() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let postgres = PostgresSessionStore(client: client)
            try await postgres.migrate()
            let store = CountingSessionStore(postgres)
            let client = EngineTestClient(engine: try SessionEngine(store: store))
            let cart = SessionKey<[String]>("cart")
            try await client.send { try await $0.set(cart, ["a", "b"]) }
            store.reset()
            // PostgreSQL hands the array back as `["a", "b"]`, the encoder writes `["a","b"]`.
            try await client.send { try await $0.modify(cart) { _ in } }
            #expect(store.calls[.compareAndSet] == nil, "an unchanged value was written again")
            try await client.send { try await $0.modify(cart, default: []) { $0.append("c") } }
            #expect(store.calls[.compareAndSet] == 1)
            #expect(try await client.request { try await $0.get(cart) }.value == ["a", "b", "c"])
        }
    }

    @Test("the migration can run concurrently from many instances and again")
    func concurrentMigrations() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let store = PostgresSessionStore(client: client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<5 { group.addTask { try await store.migrate() } }
                try await group.waitForAll()
            }
            try await store.migrate()
        }
    }

    @Test("only one instance sweeps at a time (advisory lock)")
    func sweeperLock() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let clock = TestClock()
            let store = PostgresSessionStore(client: client, clock: clock)
            try await store.migrate()
            let now = clock.now()
            for _ in 0..<10 {
                try await store.create(
                    SessionToken.generate().storageID,
                    SessionRecord(data: [:], createdAt: now, idleExpiresAt: now + 1, absoluteExpiresAt: now + 1)
                )
            }
            clock.advance(by: .seconds(2))
            try await client.withConnection { other in
                // The async `query(_:logger:)`: the string overload returns a future nobody awaits.
                let logger = Logger(label: "test")
                _ = try await other.query("SELECT pg_advisory_lock(\(PostgresSchema.sweeperLockKey))", logger: logger)
                #expect(try await store.sweepExpired(batchSize: 100) == 0, "swept while another instance held the lock")
                _ = try await other.query("SELECT pg_advisory_unlock(\(PostgresSchema.sweeperLockKey))", logger: logger)
            }
            #expect(try await store.sweepExpired(batchSize: 100) == 10)
        }
    }

    @Test(
        "Outage: a server restart answers 503 during the outage, success afterwards without restarting the app",
        .enabled(if: ExclusiveServerTests.enabled, Comment(rawValue: ExclusiveServerTests.skipReason))
    )
    func outageAndRecovery() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let store = PostgresSessionStore(client: client)
            try await store.migrate()
            var configuration = SessionConfiguration()
            configuration.storeTimeout = .seconds(3)
            let engine = try SessionEngine(store: store, configuration: configuration)
            let visits = SessionKey<Int>("visits")
            let user = EngineTestClient(engine: engine)
            try await user.send { try await $0.signIn(userID: "ada") }
            try await user.send { try await $0.set(visits, 1) }
            let cookie = user.cookie

            try PostgresTestServer.runCommand("SESSIONKIT_POSTGRES_STOP")
            var outageErrors = 0
            for _ in 0..<3 {
                do {
                    try await user.send { _ = try await $0.get(visits) }
                    Issue.record("a request succeeded while PostgreSQL was down")
                } catch let error as SessionError {
                    guard error.code == .storeUnavailable else { Issue.record("expected storeUnavailable (503), got \(error)"); continue }
                    outageErrors += 1
                }
            }
            #expect(user.cookie == cookie, "the outage changed the client's cookie")

            try PostgresTestServer.runCommand("SESSIONKIT_POSTGRES_START")
            let restarted = ContinuousClock.now
            var recovered = false
            for _ in 0..<100 where !recovered {
                do {
                    let (value, _) = try await user.request { try await $0.get(visits) }
                    #expect(value == 1, "the session lost its data across the outage")
                    #expect(try await user.request { try await $0.userID }.value == "ada", "the outage signed the user out")
                    recovered = true
                } catch {
                    try await Task.sleep(for: .milliseconds(100))  // polling for the server, not timing a test
                }
            }
            #expect(recovered, "requests did not succeed again after PostgreSQL came back")
            print(
                "postgres outage: \(outageErrors) requests answered 503 during the outage; recovered \(ContinuousClock.now - restarted) after restart"
            )
        }
    }
}
