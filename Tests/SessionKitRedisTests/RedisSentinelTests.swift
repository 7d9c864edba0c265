import Foundation
import SessionKit
import SessionKitRESP
@testable import SessionKitRedis
import SessionKitTesting
import Testing

@Suite("Redis Sentinel URLs and durability settings (no server)")
struct SentinelConfigurationTests {
    @Test("A Sentinel URL names the Sentinels, the primary's name, its database, credentials and protocol")
    func parsesSentinelURL() throws {
        let configuration = try RESPSentinelConfiguration(
            url: "redis-sentinel://ada:p%40ss@127.0.0.1:26380,[::1],sentinel.example:26381/2?protocol=3#my%20primary"
        )
        #expect(
            configuration.sentinels == [
                RESPNodeAddress(host: "127.0.0.1", port: 26380), RESPNodeAddress(host: "::1", port: 26379),
                RESPNodeAddress(host: "sentinel.example", port: 26381),
            ]
        )
        #expect(configuration.primaryName == "my primary")
        #expect(configuration.node.database == 2)
        #expect(configuration.node.username == "ada")
        #expect(configuration.node.password == "p@ss")
        #expect(configuration.node.protocolVersion == 3)
        #expect(configuration.node.useTLS == false)
        #expect(try RESPSentinelConfiguration(url: "rediss-sentinel://h#p").node.useTLS)
        #expect(configuration.sentinel.password == nil, "the credentials are the primary's, not the Sentinels'")
    }

    @Test("A Sentinel URL without the primary's name, or with a bad host, is refused with a typed error")
    func refusesIncompleteSentinelURLs() {
        for url in ["redis-sentinel://127.0.0.1:26379", "redis-sentinel://127.0.0.1:26379#", "redis-sentinel://a,,b#p", "redis://h#p"] {
            #expect("\(url)") { try RESPSentinelConfiguration(url: url) } throws: { ($0 as? RESPClientError)?.code == .invalidURL }
        }
    }

    @Test("acknowledge= and acknowledge_replicas= in any Redis URL choose the durability; bad values are refused")
    func durabilityFromURL() throws {
        let store = try RedisSessionStore(url: "redis://127.0.0.1:1/0?acknowledge=all&acknowledge_replicas=2")
        #expect(store.durability.writes == .all)
        #expect(store.durability.replicas == 2)
        #expect(try RedisSessionStore(url: "redis://127.0.0.1:1/0?acknowledge=critical").durability == .securityCritical)
        #expect(try RedisSessionStore(url: "redis://127.0.0.1:1/0", durability: .none).durability == .none)
        #expect(try RedisSessionStore(url: "redis-sentinel://127.0.0.1:1/0?acknowledge=auto#p", durability: .none).durability == .automatic)
        for url in ["redis://127.0.0.1:1/0?acknowledge=always", "redis://127.0.0.1:1/0?acknowledge_replicas=0"] {
            #expect("\(url)") { try RedisSessionStore(url: url) } throws: { ($0 as? RESPClientError)?.code == .invalidURL }
        }
    }

    @Test("Which writes wait: critical ones by default when replicas are known, none for one server, all when asked")
    func durabilityDecisions() {
        let unknown: Int? = nil
        #expect(!RedisDurability.automatic.waits(.securityCritical, replicaCount: unknown))
        #expect(!RedisDurability.automatic.waits(.securityCritical, replicaCount: 0))
        #expect(RedisDurability.automatic.waits(.securityCritical, replicaCount: 1))
        #expect(!RedisDurability.automatic.waits(.write, replicaCount: 1))
        #expect(RedisDurability.securityCritical.waits(.securityCritical, replicaCount: unknown))
        #expect(!RedisDurability.securityCritical.waits(.write, replicaCount: 3))
        #expect(RedisDurability.allWrites.waits(.write, replicaCount: 0))
        #expect(!RedisDurability.allWrites.waits(.read, replicaCount: 3))
        #expect(!RedisDurability.none.waits(.securityCritical, replicaCount: 3))
    }
}

/// The Sentinel-watched primary of `scripts/services.sh` (`SESSIONKIT_REDIS_SENTINEL_URL`).
enum RedisSentinelTestServer {
    static let url = ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_SENTINEL_URL"]
    static let skipReason: Comment = "Sentinel tests skipped: set SESSIONKIT_REDIS_SENTINEL_URL (scripts/services.sh start)"

    static func client() throws -> RESPSentinelClient {
        guard let url else { throw RedisTestServerNotConfigured() }
        return try RESPSentinelClient(configuration: try RESPSentinelConfiguration(url: url))
    }

    static func store(_ client: RESPSentinelClient, durability: RedisDurability = .automatic) -> RedisSessionStore {
        RedisSessionStore(client: client, keyPrefix: "stest:\(UUID().uuidString.prefix(8)):", durability: durability)
    }

    /// A direct pool to one server (a Sentinel or a data node), for the operator's side.
    static func pool(_ address: RESPNodeAddress) -> RESPConnectionPool {
        RESPConnectionPool(configuration: RESPClientConfiguration(host: address.host, port: address.port, connectionCount: 1))
    }

    static func command(_ address: RESPNodeAddress, _ name: String, _ arguments: [String]) async throws -> RESPReply {
        let pool = pool(address)
        defer { Task { await pool.close() } }
        return try await pool.send(RESPCommand(name, arguments))
    }

    /// The primary the first Sentinel names.
    static func namedPrimary(_ configuration: RESPSentinelConfiguration) async throws -> RESPNodeAddress {
        let sentinel = try #require(configuration.sentinels.first)
        let reply = try await command(sentinel, "SENTINEL", ["get-master-addr-by-name", configuration.primaryName])
        let parts = reply.array ?? []
        return RESPNodeAddress(host: parts.first?.string ?? "", port: Int(parts.last?.string ?? "") ?? 0)
    }

    /// The replicas the primary at `address` streams to (its `ROLE`), once at least one is connected.
    static func connectedReplicas(of address: RESPNodeAddress) async throws -> [RESPNodeAddress] {
        var replicas: [RESPNodeAddress] = []
        try await RedisTestServer.waitUntil("a replica connected to \(address)") {
            let role = try await command(address, "ROLE", []).array ?? []
            replicas = (role.count > 2 ? role[2].array ?? [] : []).compactMap { entry in
                guard let fields = entry.array, fields.count >= 2, let host = fields[0].string, let port = fields[1].string.flatMap({ Int($0) })
                else { return nil }
                return RESPNodeAddress(host: host, port: port)
            }
            return role.first?.string == "master" && !replicas.isEmpty
        }
        return replicas
    }
}

@Suite("Redis Sentinel availability")
struct RedisSentinelAvailabilityTests {
    @Test("CI provides a Sentinel-watched primary")
    func sentinelsAreConfiguredInCI() {
        if RedisTestServer.isCI {
            #expect(RedisSentinelTestServer.url != nil, "CI=true but SESSIONKIT_REDIS_SENTINEL_URL is not set: .ci/run must start it")
        }
    }
}

@Suite(
    "Redis Sentinel (a primary, a replica, 3 Sentinels)",
    .serialized,
    .enabled(if: RedisSentinelTestServer.url != nil, RedisSentinelTestServer.skipReason)
)
struct RedisSentinelTests {
    private func signedIn(_ now: Date = Date()) -> SessionRecord {
        SessionRecord(
            data: ["cart": Data("3 books".utf8)],
            userID: "ada",
            createdAt: now,
            idleExpiresAt: now + 600,
            absoluteExpiresAt: now + 3600
        )
    }

    @Test("The client uses the primary the Sentinels name, confirmed by ROLE, and learns its replicas")
    func discoversThePrimary() async throws {
        let client = try RedisSentinelTestServer.client()
        defer { Task { await client.close() } }
        let named = try await RedisSentinelTestServer.namedPrimary(client.configuration)
        #expect(try await client.resolvePrimary() == named)
        #expect(try await RedisSentinelTestServer.command(named, "ROLE", []).array?.first?.string == "master")
        #expect(client.replicaCount(touching: nil) == (try await RedisSentinelTestServer.connectedReplicas(of: named)).count)

        let store = RedisSentinelTestServer.store(client)
        let id = SessionToken.generate().storageID
        try await store.create(id, signedIn())
        #expect(try await RedisSentinelTestServer.command(named, "EXISTS", [store.sessionKey(id)]) == .integer(1))
        #expect(try await store.load(id)?.userID == "ada")
        try await store.delete(id)
    }

    @Test("A security-critical write returns only once the replica holds it; ordinary writes do not wait")
    func acknowledgedWritesAreOnTheReplica() async throws {
        let client = try RedisSentinelTestServer.client()
        defer { Task { await client.close() } }
        let store = RedisSentinelTestServer.store(client, durability: .securityCritical)
        let primary = try await client.resolvePrimary()
        let replica = try #require(try await RedisSentinelTestServer.connectedReplicas(of: primary).first)
        for _ in 0..<20 {
            let id = SessionToken.generate().storageID
            try await store.create(id, signedIn())
            #expect(try await RedisSentinelTestServer.command(replica, "EXISTS", [store.sessionKey(id)]) == .integer(1))
            try await store.delete(id)
            #expect(try await RedisSentinelTestServer.command(replica, "EXISTS", [store.sessionKey(id)]) == .integer(0))
        }
    }

    @Test("A WAIT that times out fails the call: the store reports unavailable, the engine a store outage (503, Retry-After)")
    func unacknowledgedWritesFail() async throws {
        let client = try RedisSentinelTestServer.client()
        defer { Task { await client.close() } }
        // Two confirmations asked of a primary with one replica: WAIT times out.
        let strict = RedisSentinelTestServer.store(
            client,
            durability: RedisDurability(writes: .securityCritical, replicas: 2, timeout: .milliseconds(200))
        )
        let id = SessionToken.generate().storageID
        await #expect(throws: SessionStoreError.self) { try await strict.create(id, signedIn()) }
        // The write ran on the primary: it is there, only not confirmed. Ordinary writes pass.
        #expect(try await strict.load(id)?.userID == "ada")
        #expect(try await strict.update(id, SessionUpdate(setValues: ["n": Data("1".utf8)], idleExpiresAt: Date() + 600, lastSeenAt: Date())))
        do {
            try await strict.delete(id)
            Issue.record("an unconfirmed sign-out succeeded")
        } catch let error as SessionStoreError {
            #expect(String(describing: error).contains("1 of 2 replicas"), "\(error)")
        }

        let engine = try SessionEngine(store: strict)
        let user = EngineTestClient(engine: engine)
        do {
            try await user.send { try await $0.signIn(userID: "grace") }
            Issue.record("an unconfirmed sign-in succeeded")
        } catch let error as SessionError {
            // The engine's code for 503 with Retry-After (its mapping is tested in SessionKitTests).
            #expect(error.code == .storeUnavailable)
        }
    }

    @Test("WAIT holds a connection of its own: other requests finish while it waits")
    func waitDoesNotStallOtherRequests() async throws {
        let client = try RedisSentinelTestServer.client()
        defer { Task { await client.close() } }
        let store = RedisSentinelTestServer.store(client, durability: RedisDurability(writes: .all, replicas: 2, timeout: .seconds(1)))
        let reader = RedisSentinelTestServer.store(client, durability: .none)
        let id = SessionToken.generate().storageID
        try await reader.create(id, signedIn())
        let waiting = LockedValue(true)
        let slow = Task {
            defer { waiting.withLock { $0 = false } }
            try await store.delete(id)
        }
        // While the WAIT is outstanding, 50 reads on the same client's pool complete.
        for _ in 0..<50 { _ = try await reader.load(id) }
        #expect(waiting.withLock { $0 }, "the reads waited for the WAIT to time out")
        await #expect(throws: SessionStoreError.self) { try await slow.value }
    }

    /// Stays out of the pass that runs every Redis suite through the Sentinels
    /// (`SESSIONKIT_REDIS_URL` is the Sentinel URL): a failover under those suites would lose
    /// their unacknowledged writes, which is this feature's documented behaviour, not a bug.
    @Test(
        "SENTINEL FAILOVER: the client follows +switch-master to the new primary without a restart, and nothing acknowledged is lost",
        .disabled(if: RedisTestServer.url?.contains("-sentinel://") ?? false, "the other suites share these servers in this pass")
    )
    func followsAFailover() async throws {
        let client = try RedisSentinelTestServer.client()
        defer { Task { await client.close() } }
        let store = RedisSentinelTestServer.store(client)
        let old = try await client.resolvePrimary()
        _ = try await RedisSentinelTestServer.connectedReplicas(of: old)
        var ids: [SessionStorageID] = []
        for _ in 0..<20 {
            let id = SessionToken.generate().storageID
            try await store.create(id, signedIn())
            ids.append(id)
        }
        let sentinel = try #require(client.configuration.sentinels.first)
        _ = try await RedisSentinelTestServer.command(sentinel, "SENTINEL", ["FAILOVER", client.configuration.primaryName])
        // No call in between: only the +switch-master subscription can move the client.
        try await RedisTestServer.waitUntil("the client to switch primaries", timeout: .seconds(60)) {
            client.primaryAddress != nil && client.primaryAddress != old
        }
        let new = try #require(client.primaryAddress)
        #expect(try await RedisSentinelTestServer.command(new, "ROLE", []).array?.first?.string == "master")
        for id in ids { #expect(try await store.load(id)?.userID == "ada", "a sign-in acknowledged before the failover was lost") }
        let id = SessionToken.generate().storageID
        try await store.create(id, signedIn())
        #expect(try await RedisSentinelTestServer.command(new, "EXISTS", [store.sessionKey(id)]) == .integer(1))
        // The old primary rejoins as a replica, so later tests (and failovers) have one.
        _ = try await RedisSentinelTestServer.connectedReplicas(of: new)
        for id in ids + [id] { try await store.delete(id) }
    }
}
