import SessionKitRESP
import SessionKitRedis
import Testing

/// The pure parts of Redis Cluster support, without a server: slot hashing, the slot map,
/// redirect replies and `redis-cluster://` URLs.
@Suite("Redis Cluster routing (no server)")
struct ClusterRoutingTests {
    // MARK: Hash slots

    @Test("CRC16/XMODEM matches the cluster specification's check value and known slots")
    func crc16Vectors() {
        // The cluster specification: CRC16 of "123456789" is 0x31C3; slot = CRC16 mod 16384.
        #expect(RESPHashSlot.of("123456789") == 0x31C3 % 16384)
        // Values `CLUSTER KEYSLOT` answers on a real server.
        #expect(RESPHashSlot.of("foo") == 12182)
        #expect(RESPHashSlot.of("bar") == 5061)
        #expect(RESPHashSlot.of("") == 0)
    }

    @Test("a hash tag hashes only the text between the first { and the next }")
    func hashTags() {
        #expect(RESPHashSlot.of("{user1000}.following") == RESPHashSlot.of("{user1000}.followers"))
        #expect(RESPHashSlot.of("{user1000}.following") == RESPHashSlot.of("user1000"))
        // An empty tag does not count: the whole key is hashed.
        #expect(RESPHashSlot.of("foo{}{bar}") != RESPHashSlot.of("bar"))
        #expect(RESPHashSlot.of("foo{}{bar}") == 8363)
        // The tag ends at the first } after the first {.
        #expect(RESPHashSlot.of("foo{{bar}}zap") == 4015 && RESPHashSlot.of("{bar") == 4015)
        #expect(RESPHashSlot.of("foo{bar}{zap}") == RESPHashSlot.of("bar"))
        // No closing brace: the whole key.
        #expect(RESPHashSlot.of("foo{bar") == RESPHashSlot.of("foo{bar"))
        #expect(RESPHashSlot.of("foo{bar") != RESPHashSlot.of("bar"))
    }

    @Test("every slot is below 16384, and 10 000 distinct keys reach most of them")
    func slotRange() {
        var slots = Set<Int>()
        for index in 0..<10_000 {
            let slot = RESPHashSlot.of("s:{\(index)}")
            #expect((0..<RESPHashSlot.count).contains(slot))
            slots.insert(slot)
        }
        #expect(slots.count > 7_000)
    }

    // MARK: Slot map

    static func node(_ host: String, _ port: Int64, _ id: String) -> RESPReply {
        .array([.bulkString(Array(host.utf8)), .integer(port), .bulkString(Array(id.utf8))])
    }

    @Test("CLUSTER SLOTS builds a map from every slot to its primary; an empty host means the seed's")
    func clusterSlotsParsing() throws {
        let reply = RESPReply.array([
            .array([.integer(0), .integer(5460), Self.node("10.0.0.1", 7000, "a"), Self.node("10.0.0.4", 7003, "d")]),
            .array([.integer(10923), .integer(16383), Self.node("", 7002, "c")]),
            .array([.integer(5461), .integer(10922), Self.node("10.0.0.2", 7001, "b"), Self.node("10.0.0.5", 7004, "e")]),
        ])
        let seed = RESPNodeAddress(host: "127.0.0.1", port: 7000)
        let topology = try RESPClusterTopology(clusterSlots: reply, reachedAt: seed)
        #expect(topology.coversAllSlots)
        #expect(topology.primary(forSlot: 0) == RESPNodeAddress(host: "10.0.0.1", port: 7000))
        #expect(topology.primary(forSlot: 5460) == RESPNodeAddress(host: "10.0.0.1", port: 7000))
        #expect(topology.primary(forSlot: 5461) == RESPNodeAddress(host: "10.0.0.2", port: 7001))
        #expect(topology.primary(forSlot: 16383) == RESPNodeAddress(host: "127.0.0.1", port: 7002))
        #expect(topology.shard(forSlot: 0)?.replicas == [RESPNodeAddress(host: "10.0.0.4", port: 7003)])
        #expect(topology.primaries.count == 3)
        #expect(Set(topology.primaries).count == 3)
    }

    @Test("a map with a gap does not cover every slot; the gap has no primary")
    func uncoveredSlots() throws {
        let reply = RESPReply.array([.array([.integer(0), .integer(100), Self.node("h", 1, "a")])])
        let topology = try RESPClusterTopology(clusterSlots: reply, reachedAt: RESPNodeAddress(host: "h", port: 1))
        #expect(!topology.coversAllSlots)
        #expect(topology.primary(forSlot: 100) != nil)
        #expect(topology.primary(forSlot: 101) == nil)
    }

    @Test(
        "malformed CLUSTER SLOTS replies throw unexpectedReply",
        arguments: [
            RESPReply.integer(1),
            .array([.array([.integer(0), .integer(10)])]),
            .array([.array([.integer(10), .integer(0), .array([.bulkString(Array("h".utf8)), .integer(1)])])]),
            .array([.array([.integer(0), .integer(16384), .array([.bulkString(Array("h".utf8)), .integer(1)])])]),
            .array([.array([.integer(0), .integer(1), .array([.bulkString(Array("h".utf8))])])]),
            .array([.array([.integer(-1), .integer(1), .array([.bulkString(Array("h".utf8)), .integer(1)])])]),
        ]
    )
    func malformedClusterSlots(reply: RESPReply) {
        #expect(throws: RESPClientError.self) {
            try RESPClusterTopology(clusterSlots: reply, reachedAt: RESPNodeAddress(host: "h", port: 1))
        }
    }

    @Test("a MOVED slot is patched into the map without touching the other slots")
    func movingSlot() throws {
        let reply = RESPReply.array([
            .array([.integer(0), .integer(8191), Self.node("a", 1, "a")]),
            .array([.integer(8192), .integer(16383), Self.node("b", 2, "b")]),
        ])
        let topology = try RESPClusterTopology(clusterSlots: reply, reachedAt: RESPNodeAddress(host: "a", port: 1))
        let moved = topology.moving(slot: 100, to: RESPNodeAddress(host: "b", port: 2))
        #expect(moved.primary(forSlot: 100) == RESPNodeAddress(host: "b", port: 2))
        #expect(moved.primary(forSlot: 99) == RESPNodeAddress(host: "a", port: 1))
        #expect(moved.primary(forSlot: 101) == RESPNodeAddress(host: "a", port: 1))
        #expect(moved.coversAllSlots)
        // To a node the map did not know yet.
        let elsewhere = topology.moving(slot: 9000, to: RESPNodeAddress(host: "c", port: 3))
        #expect(elsewhere.primary(forSlot: 9000) == RESPNodeAddress(host: "c", port: 3))
        #expect(elsewhere.primary(forSlot: 9001) == RESPNodeAddress(host: "b", port: 2))
    }

    // MARK: Redirects

    @Test("MOVED and ASK name the slot and node (IPv6 too); transient states retry; others are not redirects")
    func redirects() {
        func redirect(_ text: String) -> RESPClusterRedirect? { RESPClusterRedirect(RESPClientError(serverReply: text)) }
        #expect(redirect("MOVED 3999 127.0.0.1:6381") == .moved(slot: 3999, host: "127.0.0.1", port: 6381))
        #expect(redirect("ASK 3999 127.0.0.1:6381") == .ask(slot: 3999, host: "127.0.0.1", port: 6381))
        #expect(redirect("MOVED 1 ::1:7000") == .moved(slot: 1, host: "::1", port: 7000))
        #expect(redirect("TRYAGAIN Multiple keys request during rehashing of slot") == .retryLater(kind: "TRYAGAIN"))
        #expect(redirect("CLUSTERDOWN The cluster is down") == .retryLater(kind: "CLUSTERDOWN"))
        #expect(redirect("LOADING Redis is loading the dataset in memory") == .retryLater(kind: "LOADING"))
        #expect(redirect("ERR unknown command") == nil)
        #expect(redirect("CROSSSLOT Keys in request don't hash to the same slot") == nil)
        #expect(redirect("MOVED 16384 h:1") == nil)
        #expect(redirect("MOVED x h:1") == nil)
        #expect(redirect("MOVED 1 h") == nil)
        #expect(redirect("MOVED 1") == nil)
        #expect(RESPClusterRedirect(RESPClientError.connectFailed(reason: "refused")) == nil)
    }

    // MARK: URLs

    @Test("redis-cluster:// URLs name every seed, credentials, TLS and the protocol")
    func clusterURLs() throws {
        let plain = try RESPClusterConfiguration(url: "redis-cluster://127.0.0.1:7000,127.0.0.1:7001,[::1]:7002")
        #expect(
            plain.seeds == [
                RESPNodeAddress(host: "127.0.0.1", port: 7000), RESPNodeAddress(host: "127.0.0.1", port: 7001),
                RESPNodeAddress(host: "::1", port: 7002),
            ]
        )
        #expect(!plain.node.useTLS && plain.node.password == nil && plain.node.protocolVersion == 2)

        let full = try RESPClusterConfiguration(url: "rediss-cluster://app:p%40ss@cache.internal/0?protocol=3")
        #expect(full.seeds == [RESPNodeAddress(host: "cache.internal", port: 6379)])
        #expect(full.node.useTLS && full.node.username == "app" && full.node.password == "p@ss" && full.node.protocolVersion == 3)
    }

    @Test(
        "malformed cluster URLs throw invalidURL",
        arguments: [
            "redis://127.0.0.1:7000", "redis-cluster://", "redis-cluster://a:1,,b:2", "redis-cluster://a:1/3",
            "redis-cluster://a:notaport", "redis-cluster://a:1?protocol=4", "cluster://a:1",
        ]
    )
    func malformedClusterURLs(url: String) {
        #expect(throws: RESPClientError.self) { try RESPClusterConfiguration(url: url) }
    }
}
