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
    @Test(arguments: SessionStoreConformance.cases + SessionStoreConformance.sweeping)
    func conformance(_ check: SessionStoreConformance.Case) async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            try await check.run { clock in
                let store = PostgresSessionStore(client: client, clock: clock)
                try await store.migrate()
                return store
            }
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

    @Test("stores keep only the token digest")
    func digestOnlyStorage() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let store = PostgresSessionStore(client: client)
            try await store.migrate()
            let engine = try SessionEngine(store: store)
            let testClient = EngineTestClient(engine: engine)
            try await testClient.send { try await $0.set(SessionKey<Int>("n"), 1) }
            let token = try #require(testClient.cookie)
            var ids: [String] = []
            for try await id in try await client.query("SELECT id FROM sessionkit_sessions").decode(String.self) { ids.append(id) }
            #expect(ids == [try #require(SessionToken(validating: token)).storageID.hex])
            #expect(!ids.contains(token))
        }
    }

    @Test("500 concurrent patches of different keys of one session all survive")
    func manyConcurrentPatches() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let store = PostgresSessionStore(client: client)
            try await store.migrate()
            let id = SessionToken.generate().storageID
            let now = Date()
            try await store.create(id, SessionRecord(data: [:], createdAt: now, idleExpiresAt: now + 600, absoluteExpiresAt: now + 3600))
            let writers = 500
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<writers {
                    group.addTask {
                        try await store.update(
                            id,
                            SessionUpdate(setValues: ["k\(index)": Data(String(index).utf8)], idleExpiresAt: Date() + 600, lastSeenAt: Date())
                        )
                    }
                }
                for try await result in group {
                    guard result else { Issue.record("patch returned \(result)"); return }
                }
            }
            let record = try #require(try await store.load(id))
            #expect(record.data.count == writers)
            #expect((0..<writers).allSatisfy { record.data["k\($0)"] == Data(String($0).utf8) })
            print(
                "postgres: \(writers) concurrent patches of different keys, \(record.data.count) keys survived, in \(ContinuousClock.now - started)"
            )
        }
    }

    @Test("the sweeper removes 100k expired rows in bounded batches and keeps live rows")
    func sweeper100k() async throws {
        try await PostgresTestServer.withIsolatedClient { client in
            let clock = TestClock()
            let store = PostgresSessionStore(client: client, clock: clock)
            try await store.migrate()
            let past = clock.now() - 10
            let future = clock.now() + 3600
            try await client.query(
                """
                INSERT INTO sessionkit_sessions (id, data, created_at, last_seen_at, idle_expires_at, absolute_expires_at, expires_at)
                SELECT md5(i::text) || md5((i + 1000000)::text), '{}'::jsonb, \(past), \(past), \(past), \(past), \(past)
                FROM generate_series(1, 100000) AS i
                """
            )
            let live = SessionToken.generate().storageID
            try await store.create(live, SessionRecord(data: [:], createdAt: clock.now(), idleExpiresAt: future, absoluteExpiresAt: future))
            let sweeper = SessionSweeper(store: store, batchSize: 5000)
            let started = ContinuousClock.now
            let removed = try await sweeper.sweepNow()
            let elapsed = ContinuousClock.now - started
            #expect(removed == 100_000)
            #expect(try await store.load(live) != nil)
            print("postgres sweeper: removed \(removed) expired rows in batches of 5000 in \(elapsed)")
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
                try await other.query("SELECT pg_advisory_lock(\(PostgresSchema.sweeperLockKey))")
                #expect(try await store.sweepExpired(batchSize: 100) == 0, "swept while another instance held the lock")
                try await other.query("SELECT pg_advisory_unlock(\(PostgresSchema.sweeperLockKey))")
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
