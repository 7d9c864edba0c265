import Foundation
import Logging
import PostgresNIO
import SessionKit
import Testing

@testable import SessionKitPostgres

@Suite("PostgreSQL primary selection (pure)")
struct PostgresPrimarySelectionTests {
    let start = ContinuousClock.now

    @Test("no primary known: probe; a round picks the first writable host in URL order")
    func firstWritableWins() {
        var selection = PostgresPrimarySelection()
        #expect(selection.route(at: start) == .probe)
        #expect(selection.probed([.unreachable, .readOnly, .writable, .writable], at: start, retryInterval: .seconds(1)) == 2)
        #expect(selection.route(at: start) == .send(index: 2, generation: 1))
    }

    @Test("a writable current primary is kept when another host also claims to be writable")
    func currentPrimaryKept() {
        var selection = PostgresPrimarySelection()
        selection.probed([.readOnly, .writable], at: start, retryInterval: .seconds(1))
        selection.probed([.writable, .writable], at: start, retryInterval: .seconds(1))
        #expect(selection.route(at: start) == .send(index: 1, generation: 1))
    }

    @Test("a demoted primary is left for the promoted standby")
    func demotionFollowed() {
        var selection = PostgresPrimarySelection()
        selection.probed([.writable, .readOnly], at: start, retryInterval: .seconds(1))
        selection.probed([.readOnly, .writable], at: start, retryInterval: .seconds(1))
        #expect(selection.route(at: start) == .send(index: 1, generation: 2))
    }

    @Test("no writable host: fail fast for the retry interval, then probe again")
    func noPrimaryFailsFast() {
        var selection = PostgresPrimarySelection()
        #expect(selection.probed([.unreachable, .readOnly], at: start, retryInterval: .seconds(1)) == nil)
        #expect(selection.route(at: start + .milliseconds(500)) == .unavailable)
        #expect(selection.route(at: start + .seconds(1)) == .probe)
    }

    @Test("a failure forgets the primary only for the choice it was seen on")
    func staleFailureIgnored() {
        var selection = PostgresPrimarySelection()
        selection.probed([.writable, .readOnly], at: start, retryInterval: .seconds(1))
        let forgotten = selection.primaryFailed(generation: 1)
        #expect(forgotten)
        #expect(selection.route(at: start) == .probe)
        selection.probed([.readOnly, .writable], at: start, retryInterval: .seconds(1))
        // A request that was still in flight on the old primary fails late: ignored.
        let forgottenLate = selection.primaryFailed(generation: 1)
        #expect(!forgottenLate)
        #expect(selection.route(at: start) == .send(index: 1, generation: 3))
    }
}

@Suite("PostgreSQL failover URLs")
struct PostgresFailoverURLTests {
    @Test("libpq's multi-host syntax: hosts in order, default port, decoded credentials")
    func multiHost() throws {
        let configuration = try PostgresConnectionURL.failoverConfiguration(
            from: "postgres://app:p%40ss@db1:5433,[::1],db3/sessions?sslmode=disable&target_session_attrs=read-write"
        )
        #expect(configuration.hosts.map(\.description) == ["db1:5433", "::1:5432", "db3:5432"])
        #expect(configuration.username == "app")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == "sessions")
    }

    @Test("a standby-only target is refused with the reason", arguments: ["read-only", "standby", "prefer-standby"])
    func standbyTargetsRefused(_ attributes: String) {
        #expect {
            try PostgresConnectionURL.failoverConfiguration(from: "postgres://u:secret@h1,h2/db?target_session_attrs=\(attributes)")
        } throws: { error in
            "\(error)".contains("writable primary") && !"\(error)".contains("secret")
        }
    }

    @Test("the single-host configuration refuses several hosts and names the failover client")
    func singleHostRefusesSeveral() {
        #expect {
            try PostgresConnectionURL.configuration(from: "postgres://u:p@h1,h2/db")
        } throws: { error in
            "\(error)".contains("PostgresPrimaryClient")
        }
    }

    @Test("touch_commit: durable by default, asynchronous on request, anything else refused")
    func touchCommit() throws {
        #expect(try PostgresConnectionURL.touchCommit(from: "postgres://u:p@h1,h2/db?sslmode=disable") == .durable)
        #expect(try PostgresConnectionURL.touchCommit(from: "postgres://u:p@h1/db?touch_commit=asynchronous") == .asynchronous)
        #expect(try PostgresConnectionURL.touchCommit(from: "postgres://u:p@h1/db?touch_commit=durable") == .durable)
        #expect {
            try PostgresConnectionURL.touchCommit(from: "postgres://u:p@h1/db?touch_commit=off")
        } throws: { error in
            "\(error)".contains("durable or asynchronous")
        }
    }

    @Test("a malformed host is named by position, never echoed")
    func malformedHost() {
        #expect {
            try PostgresConnectionURL.failoverConfiguration(from: "postgres://u:p@h1,,h3/db")
        } throws: { error in
            "\(error)".contains("host 2 of 3")
        }
    }
}

/// Against the primary and its streaming standby of `scripts/services.sh` (non-destructive: the
/// failover itself runs in the topology test, over real processes).
@Suite(
    "PostgreSQL primary client",
    .enabled(if: ProcessInfo.processInfo.environment["SESSIONKIT_POSTGRES_FAILOVER_URL"] != nil, "no standby configured")
)
struct PostgresPrimaryClientTests {
    static let environment = ProcessInfo.processInfo.environment

    /// Runs `body` with a primary client over `hosts` of the failover URL, in that order.
    func withPrimaryClient(order: [Int], _ body: (PostgresPrimaryClient) async throws -> Void) async throws {
        var configuration = try PostgresConnectionURL.failoverConfiguration(from: try #require(Self.environment["SESSIONKIT_POSTGRES_FAILOVER_URL"]))
        configuration.hosts = order.map { configuration.hosts[$0] }
        let client = try PostgresPrimaryClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }

    @Test("the writable host is found whichever order the URL lists it in", arguments: [[0, 1], [1, 0]])
    func findsThePrimary(_ order: [Int]) async throws {
        try await withPrimaryClient(order: order) { client in
            let rows = try await client.withPrimary { try await $0.query("SELECT pg_is_in_recovery()") }
            for try await inRecovery in rows.decode(Bool.self) { #expect(!inRecovery) }
            let primaryIndex = try #require(order.firstIndex(of: 0))
            #expect(client.currentPrimary == client.configuration.hosts[primaryIndex])
        }
    }

    @Test("a URL that names only the standby answers unavailable at once, not after a timeout")
    func standbyOnlyIsUnavailable() async throws {
        try await withPrimaryClient(order: [1]) { client in
            let store = PostgresSessionStore(primaryClient: client)
            await #expect(throws: SessionStoreError.self) { try await store.ping() }
            #expect(client.currentPrimary == nil)
        }
    }

    @Test("a write the standby refuses as read-only (25006) makes the client ask the hosts again")
    func readOnlyRefusalTriggersProbe() async throws {
        // The real error, from the real standby.
        var standby = try PostgresConnectionURL.failoverConfiguration(from: try #require(Self.environment["SESSIONKIT_POSTGRES_FAILOVER_URL"]))
        standby.hosts = [standby.hosts[1]]
        let standbyPool = PostgresClient(configuration: standby.clientConfiguration(for: standby.hosts[0]))
        let refusal: any Error = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await standbyPool.run() }
            defer { group.cancelAll() }
            do {
                try await standbyPool.query("CREATE TEMP TABLE never (x int)")
                _ = try await standbyPool.query("INSERT INTO pg_temp.never VALUES (1)")
                Issue.record("the standby accepted a write")
                return CancellationError()
            } catch {
                return error
            }
        }
        #expect(PostgresPrimaryClient.indicatesLostPrimary(refusal), "\(String(reflecting: refusal))")
        try await withPrimaryClient(order: [0, 1]) { client in
            try await client.withPrimary { _ in }
            #expect(client.currentPrimary != nil)
            await #expect(throws: (any Error).self) { try await client.withPrimary { _ in throw refusal } }
            #expect(client.currentPrimary == nil, "the primary was kept after a read-only refusal")
            try await client.withPrimary { _ in }
            #expect(client.currentPrimary == client.configuration.hosts[0])
        }
    }
}
