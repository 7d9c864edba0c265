import Foundation
import SessionKit
import SessionKitRESP
import SessionKitRedis
import SessionKitTesting
import Testing

/// The 6-node cluster of `scripts/services.sh` (`SESSIONKIT_REDIS_CLUSTER_URL`), driven the
/// way an operator does: slots migrated by hand (`CLUSTER SETSLOT` + `MIGRATE`, what
/// `redis-cli --cluster reshard` does) and a manual failover, while sessions are in use.
enum RedisClusterTestServer {
    static let url = ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_CLUSTER_URL"]
    static let skipReason: Comment = "cluster tests skipped: set SESSIONKIT_REDIS_CLUSTER_URL (scripts/services.sh start)"

    static func store(clock: any SessionClock = SystemSessionClock()) throws -> RedisSessionStore {
        guard let url else { throw RedisTestServerNotConfigured() }
        return try RedisSessionStore(url: url, keyPrefix: "ctest:\(UUID().uuidString.prefix(8)):", clock: clock)
    }
}

/// Direct connections to each node, for the operator's side of the tests.
final class ClusterOperator: Sendable {
    let pools: [RESPNodeAddress: RESPConnectionPool]

    init(_ topology: RESPClusterTopology) throws {
        var pools: [RESPNodeAddress: RESPConnectionPool] = [:]
        for shard in topology.shards {
            for node in [shard.primary] + shard.replicas where pools[node] == nil {
                pools[node] = RESPConnectionPool(configuration: try RESPClientConfiguration(url: "redis://\(node.host):\(node.port)/0"))
            }
        }
        self.pools = pools
    }

    func close() async {
        for pool in pools.values { await pool.close() }
    }

    /// Runs one command on `node`; a server error reply fails the test's step.
    @discardableResult
    func run(_ node: RESPNodeAddress, _ name: String, _ arguments: [String]) async throws -> RESPReply {
        guard let pool = pools[node] else { throw RESPClientError.unexpectedReply("no pool for \(node)") }
        let reply = try await pool.send(RESPCommand(name, arguments))
        if let error = reply.serverError { throw error }
        return reply
    }

    func nodeID(_ node: RESPNodeAddress) async throws -> String {
        try await run(node, "CLUSTER", ["MYID"]).string ?? ""
    }

    /// Moves `slot` from `source` to `target` the way `redis-cli --cluster reshard` does:
    /// IMPORTING / MIGRATING, `MIGRATE` the keys in batches, then `SETSLOT NODE` everywhere.
    /// `afterFirstKey` runs once the first key has moved (the slot is then half-migrated).
    func migrate(
        slot: Int,
        from source: RESPNodeAddress,
        to target: RESPNodeAddress,
        primaries: [RESPNodeAddress],
        afterFirstKey: (@Sendable (String) async throws -> Void)? = nil
    ) async throws {
        let sourceID = try await nodeID(source)
        let targetID = try await nodeID(target)
        try await run(target, "CLUSTER", ["SETSLOT", String(slot), "IMPORTING", sourceID])
        try await run(source, "CLUSTER", ["SETSLOT", String(slot), "MIGRATING", targetID])
        var calledBack = afterFirstKey == nil
        while true {
            let keys = try await run(source, "CLUSTER", ["GETKEYSINSLOT", String(slot), "1"]).array?.compactMap(\.string) ?? []
            guard let key = keys.first else { break }
            try await run(source, "MIGRATE", [target.host, String(target.port), "", "0", "5000", "KEYS", key])
            if !calledBack {
                calledBack = true
                try await afterFirstKey?(key)
            }
        }
        try await run(target, "CLUSTER", ["SETSLOT", String(slot), "NODE", targetID])
        try await run(source, "CLUSTER", ["SETSLOT", String(slot), "NODE", targetID])
        for primary in primaries where primary != source && primary != target {
            try await run(primary, "CLUSTER", ["SETSLOT", String(slot), "NODE", targetID])
        }
    }

    /// Waits until `replica` reports a connected link to its primary (`ROLE`: `slave`, …,
    /// `connected`): a manual failover waits for the replica's offset and gives up after a
    /// timeout if the replica is still syncing.
    func waitForSyncedReplica(_ replica: RESPNodeAddress) async throws {
        try await waitUntil("\(replica) to be a connected replica") {
            let role = try await run(replica, "ROLE", []).array ?? []
            return role.first?.string == "slave" && role.count > 3 && role[3].string == "connected"
        }
    }

    /// Promotes `replica` with `CLUSTER FAILOVER` and waits until it reports itself primary.
    /// A manual failover gives up after 5 s when the primary has not yet learned of this
    /// replica (just after an earlier failover), so it is asked again, at most 5 times.
    func failOver(to replica: RESPNodeAddress) async throws {
        try await waitForSyncedReplica(replica)
        for _ in 0..<5 {
            try await run(replica, "CLUSTER", ["FAILOVER"])
            let promoted: Void? = try? await waitUntil("\(replica) to become primary", timeout: .seconds(7)) {
                try await run(replica, "ROLE", []).array?.first?.string == "master"
            }
            if promoted != nil { return }
        }
        throw RESPClientError.unexpectedReply("\(replica) was not promoted after 5 manual failovers")
    }

    func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        try await RedisTestServer.waitUntil(what, timeout: timeout, condition)
    }
}

@Suite("Redis Cluster availability")
struct RedisClusterAvailabilityTests {
    @Test("CI provides the cluster")
    func clusterIsConfiguredInCI() {
        if RedisTestServer.isCI {
            #expect(RedisClusterTestServer.url != nil, "CI=true but SESSIONKIT_REDIS_CLUSTER_URL is not set: .ci/run must start it")
        }
    }
}

@Suite("Redis Cluster (6 nodes)", .serialized, .enabled(if: RedisClusterTestServer.url != nil, RedisClusterTestServer.skipReason))
struct RedisClusterTests {
    /// The store, its cluster client, a fresh slot map, and an operator with a pool per node.
    /// Waits until every node reports the same slot owners (after an earlier test's failover
    /// back, or a fresh cluster, a node may briefly hold an older map), so the test's map is
    /// the one each node routes by.
    static func setUp() async throws -> (RedisSessionStore, RESPClusterClient, RESPClusterTopology, ClusterOperator) {
        let store = try RedisClusterTestServer.store()
        let client = try #require(store.client as? RESPClusterClient)
        let first = try await client.refreshTopology()
        let nodes = try ClusterOperator(first)
        var topology = first
        try await nodes.waitUntil("every node to agree on the slot map") {
            topology = try await client.refreshTopology()
            for node in nodes.pools.keys {
                let view = try RESPClusterTopology(clusterSlots: try await nodes.run(node, "CLUSTER", ["SLOTS"]), reachedAt: node)
                guard view.shards.map(\.slots) == topology.shards.map(\.slots), view.shards.map(\.primary) == topology.shards.map(\.primary)
                else { return false }
            }
            return topology.coversAllSlots
        }
        return (store, client, topology, nodes)
    }

    @Test("the slot map covers every slot with 3 primaries; sessions spread over all of them; a user's session and index share a node")
    func sessionsSpreadOverPrimaries() async throws {
        let (store, _, topology, nodes) = try await Self.setUp()
        defer { Task { await nodes.close() } }
        #expect(topology.coversAllSlots)
        #expect(topology.primaries.count == 3)
        #expect(topology.shards.allSatisfy { $0.replicas.count == 1 })

        let engine = try SessionEngine(store: store)
        var sessionKeys: [(user: String, key: String)] = []
        for index in 0..<30 {
            let user = "spread-\(index)"
            let client = EngineTestClient(engine: engine)
            try await client.send { try await $0.signIn(userID: user) }
            let token = try #require(client.cookie.flatMap { SessionToken(validating: $0) })
            sessionKeys.append((user, store.sessionKey(token.storageID)))
        }
        var perPrimary: [RESPNodeAddress: Int] = [:]
        for (user, key) in sessionKeys {
            let node = try #require(topology.primary(forSlot: RESPHashSlot.of(key)))
            #expect(try await nodes.run(node, "EXISTS", [key, store.userKey(user)]).int == 2, "\(user): session or index not on \(node)")
            perPrimary[node, default: 0] += 1
        }
        #expect(Set(perPrimary.keys) == Set(topology.primaries), "sessions per primary: \(perPrimary)")
        #expect(Set(try await store.keys()).isSuperset(of: sessionKeys.map(\.key)))
        try await store.ping()
    }

    @Test("a slot migrated while sessions are in use: ASK, TRYAGAIN and MOVED are followed; no request fails, no session or write is lost")
    func slotMigrationUnderLoad() async throws {
        let (store, client, topology, nodes) = try await Self.setUp()
        defer { Task { await nodes.close() } }
        let engine = try SessionEngine(store: store)
        let visits = SessionKey<Int>("visits")
        let users = (0..<8).map { "mover-\($0)" }
        var clients: [EngineTestClient] = []
        for user in users {
            let client = EngineTestClient(engine: engine)
            try await client.send { try await $0.signIn(userID: user) }
            clients.append(client)
        }
        let slots = users.map { RESPHashSlot.of(store.userKey($0)) }
        let moves = try slots.map { slot -> (slot: Int, from: RESPNodeAddress, to: RESPNodeAddress) in
            let owner = try #require(topology.primary(forSlot: slot))
            let target = try #require(topology.primaries.first { $0 != owner })
            return (slot, owner, target)
        }

        // Every client visits 25 times while every user's slot moves to another primary.
        let rounds = 25
        let failures = LockedValue<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (user, client) in zip(users, clients) {
                group.addTask {
                    for round in 1...rounds {
                        do {
                            let (value, _) = try await client.request { session -> String? in
                                try await session.set(visits, (try await session.get(visits) ?? 0) + 1)
                                return try await session.userID
                            }
                            if value != user { failures.withLock { $0.append("\(user) round \(round): signed in as \(value ?? "nobody")") } }
                        } catch {
                            failures.withLock { $0.append("\(user) round \(round): \(error)") }
                        }
                    }
                }
            }
            group.addTask {
                for move in moves {
                    try await nodes.migrate(slot: move.slot, from: move.from, to: move.to, primaries: topology.primaries)
                }
            }
            try await group.waitForAll()
        }
        #expect(failures.withLock { $0 } == [])
        for client in clients {
            let (count, _) = try await client.request { try await $0.get(visits) }
            #expect(count == rounds, "acknowledged writes lost")
        }
        // The client's map learned the new owners from MOVED.
        let learned = try await client.refreshTopology()
        for move in moves { #expect(learned.primary(forSlot: move.slot) == move.to) }

        // Sign-out everywhere after the move reaches the user's sessions on their new node.
        let second = EngineTestClient(engine: engine)
        try await second.send { try await $0.signIn(userID: users[0]) }
        let signedOut = try await second.request { try await $0.signOutOtherSessions() }.value
        #expect(signedOut == 1)
        #expect(try await clients[0].request { try await $0.userID }.value == nil, "the other device is still signed in")

        // Put the slots back (a map with moved single slots is still valid, but tidy up).
        for move in moves {
            try await nodes.migrate(slot: move.slot, from: move.to, to: move.from, primaries: topology.primaries)
        }
    }

    @Test("ASK: a request for a key already moved to the importing node is served there, once, behind ASKING")
    func askRedirect() async throws {
        let (store, client, topology, nodes) = try await Self.setUp()
        defer { Task { await nodes.close() } }
        let engine = try SessionEngine(store: store)
        let note = SessionKey<String>("note")
        let user = EngineTestClient(engine: engine)
        try await user.send {
            try await $0.signIn(userID: "asker")
            try await $0.set(note, "before")
        }
        let slot = RESPHashSlot.of(store.userKey("asker"))
        let owner = try #require(topology.primary(forSlot: slot))
        let target = try #require(topology.primaries.first { $0 != owner })
        let sessionKey = try #require(try await store.keys().first { $0.hasPrefix(store.keyPrefix + "s:") })
        #expect(RESPHashSlot.of(sessionKey) == slot)

        let sourceID = try await nodes.nodeID(owner)
        let targetID = try await nodes.nodeID(target)
        try await nodes.run(target, "CLUSTER", ["SETSLOT", String(slot), "IMPORTING", sourceID])
        try await nodes.run(owner, "CLUSTER", ["SETSLOT", String(slot), "MIGRATING", targetID])
        try await nodes.run(owner, "MIGRATE", [target.host, String(target.port), "", "0", "5000", "KEYS", sessionKey])
        // The source now answers ASK for the session key; the client's map still names the source.
        let direct = await #expect(throws: RESPClientError.self) { try await nodes.run(owner, "HGETALL", [sessionKey]) }
        #expect(direct.flatMap(RESPClusterRedirect.init) == .ask(slot: slot, host: target.host, port: target.port))
        let read = try await user.request { try await $0.get(note) }.value
        #expect(read == "before")
        try await user.send { try await $0.set(note, "during") }
        #expect(client.topology?.primary(forSlot: slot) == owner, "ASK must not change the slot map")

        try await nodes.run(owner, "MIGRATE", [target.host, String(target.port), "", "0", "5000", "KEYS", store.userKey("asker")])
        // Keys other runs left in this slot (the user's placement is the same every run) move
        // too, or the owner refuses to give the slot up.
        while let key = try await nodes.run(owner, "CLUSTER", ["GETKEYSINSLOT", String(slot), "1"]).array?.first?.string {
            try await nodes.run(owner, "MIGRATE", [target.host, String(target.port), "", "0", "5000", "KEYS", key])
        }
        for node in [target, owner] + topology.primaries.filter({ $0 != owner && $0 != target }) {
            try await nodes.run(node, "CLUSTER", ["SETSLOT", String(slot), "NODE", targetID])
        }
        // Now MOVED: the map is patched and the value written during the migration is there.
        #expect(try await user.request { try await $0.get(note) }.value == "during")
        #expect(client.topology?.primary(forSlot: slot) == target)
        try await nodes.migrate(slot: slot, from: target, to: owner, primaries: topology.primaries)
    }

    @Test("a manual failover (CLUSTER FAILOVER on a replica) under load: no client signed out, no acknowledged write lost")
    func failoverUnderLoad() async throws {
        let (store, client, topology, nodes) = try await Self.setUp()
        defer { Task { await nodes.close() } }
        let engine = try SessionEngine(store: store)
        let visits = SessionKey<Int>("visits")
        // Users whose slots the first shard serves, so the failover moves all of them.
        let shard = topology.shards[0]
        let replica = try #require(shard.replicas.first)
        let users = (0..<400).map { "failover-\($0)" }.filter { shard.slots.contains(RESPHashSlot.of(store.userKey($0))) }.prefix(6)
        #expect(users.count == 6)
        var clients: [(String, EngineTestClient)] = []
        for user in users {
            let client = EngineTestClient(engine: engine)
            try await client.send { try await $0.signIn(userID: user) }
            clients.append((user, client))
        }
        let acknowledged = LockedValue<[String: Int]>([:])
        let failures = LockedValue<[String]>([])
        let rounds = 100
        let started = ContinuousClock.now
        let promotedAfter = LockedValue<Duration?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (user, client) in clients {
                group.addTask {
                    for round in 1...rounds {
                        do {
                            let (value, _) = try await client.request { session -> String? in
                                try await session.set(visits, (try await session.get(visits) ?? 0) + 1)
                                return try await session.userID
                            }
                            if value == user {
                                acknowledged.withLock { $0[user, default: 0] += 1 }
                            } else {
                                failures.withLock { $0.append("\(user) round \(round): signed in as \(value ?? "nobody")") }
                            }
                        } catch {
                            // A store error during the switch is a 503 to the client, not a sign-out;
                            // it is counted, not hidden.
                            failures.withLock { $0.append("\(user) round \(round): \(error)") }
                        }
                    }
                }
            }
            group.addTask {
                try await nodes.failOver(to: replica)
                promotedAfter.withLock { $0 = ContinuousClock.now - started }
            }
            try await group.waitForAll()
        }
        let errors = failures.withLock { $0 }
        #expect(errors.filter { $0.contains("signed in as") }.isEmpty, "a client was signed out: \(errors)")
        // A manual failover waits for the replica to catch up, so nothing acknowledged is lost.
        for (user, client) in clients {
            let count = try await client.request { try await $0.get(visits) }.value ?? 0
            #expect(count == acknowledged.withLock { $0[user] ?? 0 }, "\(user): acknowledged writes lost")
        }
        print(
            "failover: promoted after \(promotedAfter.withLock { $0 }.map(String.init(describing:)) ?? "?"), \(errors.count) failed requests of \(clients.count * rounds)"
        )
        #expect(errors.isEmpty, "requests failed during a manual failover: \(errors)")
        let after = try await client.refreshTopology()
        #expect(after.primary(forSlot: shard.slots.lowerBound) == replica)

        // Fail back, so the layout is as the other tests expect.
        try await nodes.failOver(to: shard.primary)
        try await nodes.waitUntil("every node to agree") {
            try await client.refreshTopology().primary(forSlot: shard.slots.lowerBound) == shard.primary
        }
    }
}
