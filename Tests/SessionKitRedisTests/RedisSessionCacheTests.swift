import Foundation
import SessionKit
import SessionKitRESP
import SessionKitTesting
import Testing

@testable import SessionKitRedis

@Suite("Client-side cache bookkeeping (pure)")
struct RedisSessionCacheStateTests {
    let now = Date(timeIntervalSince1970: 1_000_000)
    let record = SessionRecord(
        data: ["n": Data("1".utf8)],
        createdAt: Date(timeIntervalSince1970: 1_000_000),
        idleExpiresAt: Date(timeIntervalSince1970: 1_000_600),
        absoluteExpiresAt: Date(timeIntervalSince1970: 1_003_600)
    )

    @Test("a filled value is served until it is older than maxStaleness")
    func fillAndStaleness() {
        var state = RedisSessionCacheState(byteBudget: 10_000, maxStaleness: 5)
        #expect(state.lookup("k", at: now) == nil)
        let token = state.beginFill("k", connection: 1)
        #expect(state.lookup("k", at: now) == nil, "a pending read is not a value")
        let filled1 = state.completeFill("k", token: token, record: record, bytes: 300, at: now)
        #expect(filled1)
        #expect(state.lookup("k", at: now + 4.9) == record)
        #expect(state.lookup("k", at: now + 5) == nil)
        #expect(state.filledCount == 1 && state.bytes == 300)
    }

    @Test("an invalidation between the read and its reply drops the reply (the push held back)")
    func invalidationBeforeReplyDropsIt() {
        var state = RedisSessionCacheState(byteBudget: 10_000, maxStaleness: 5)
        let token = state.beginFill("k", connection: 1)
        state.invalidate("k")
        let filled2 = state.completeFill("k", token: token, record: record, bytes: 300, at: now)
        #expect(!filled2)
        #expect(state.lookup("k", at: now) == nil && state.filledCount == 0)
    }

    @Test("the end of a connection's tracking drops what it read and its reads in flight, nothing else")
    func trackingEndedDropsThatConnection() {
        var state = RedisSessionCacheState(byteBudget: 10_000, maxStaleness: 5)
        state.completeFill("a", token: state.beginFill("a", connection: 1), record: record, bytes: 300, at: now)
        state.completeFill("b", token: state.beginFill("b", connection: 2), record: record, bytes: 300, at: now)
        let pending = state.beginFill("c", connection: 1)
        state.invalidate(connection: 1)
        let filled3 = state.completeFill("c", token: pending, record: record, bytes: 300, at: now)
        #expect(!filled3)
        #expect(state.lookup("a", at: now) == nil && state.lookup("b", at: now) == record)
        #expect(state.filledCount == 1 && state.bytes == 300)
    }

    @Test("of two reads of one key, only the later one's reply fills")
    func laterReadWins() {
        var state = RedisSessionCacheState(byteBudget: 10_000, maxStaleness: 5)
        let first = state.beginFill("k", connection: 1)
        let second = state.beginFill("k", connection: 2)
        let filled4 = state.completeFill("k", token: first, record: record, bytes: 300, at: now)
        #expect(!filled4)
        let filled5 = state.completeFill("k", token: second, record: record, bytes: 300, at: now)
        #expect(filled5)
    }

    @Test("the byte budget evicts the oldest values; a value larger than the budget is not kept")
    func budget() {
        var state = RedisSessionCacheState(byteBudget: 1_000, maxStaleness: 5)
        // Churn first: values dropped by invalidations must not count or linger in the order.
        for round in 0..<500 {
            state.completeFill("x\(round)", token: state.beginFill("x\(round)", connection: 1), record: record, bytes: 100, at: now)
            state.invalidate("x\(round)")
        }
        #expect(state.bytes == 0)
        for key in ["a", "b", "c"] {
            state.completeFill(key, token: state.beginFill(key, connection: 1), record: record, bytes: 400, at: now)
        }
        #expect(state.lookup("a", at: now) == nil && state.lookup("b", at: now) == record && state.lookup("c", at: now) == record)
        #expect(state.bytes == 800)
        let filled6 = state.completeFill("big", token: state.beginFill("big", connection: 1), record: record, bytes: 1_001, at: now)
        #expect(!filled6)
        #expect(state.bytes == 800 && state.filledCount == 2)
    }

    @Test("a reply in flight across a flush never fills, even if a later read of the key is pending")
    func flushKeepsTokensUnique() {
        var state = RedisSessionCacheState(byteBudget: 10_000, maxStaleness: 5)
        let before = state.beginFill("k", connection: 1)
        state.removeAll()
        let after = state.beginFill("k", connection: 2)
        let staleFilled = state.completeFill("k", token: before, record: record, bytes: 300, at: now)
        #expect(!staleFilled, "the reply read before the flush was kept")
        let freshFilled = state.completeFill("k", token: after, record: record, bytes: 300, at: now)
        #expect(freshFilled)
    }

    @Test("a read whose server was chosen before a failover (an older epoch) does not fill")
    func olderEpochDoesNotFill() {
        var state = RedisSessionCacheState(byteBudget: 10_000, maxStaleness: 5)
        let epoch = state.epoch
        state.removeAll()  // the client moved to another primary
        let token = state.beginFill("k", connection: 1, epoch: epoch)
        let filled = state.completeFill("k", token: token, record: record, bytes: 300, at: now)
        #expect(!filled && state.lookup("k", at: now) == nil)
        let current = state.beginFill("k", connection: 1, epoch: state.epoch)
        let currentFilled = state.completeFill("k", token: current, record: record, bytes: 300, at: now)
        #expect(currentFilled)
    }

    @Test("client_cache=on in a one-server or Sentinel URL turns the cache on with its limits; a cluster URL is refused")
    func url() throws {
        let store = try RedisSessionStore(url: "redis://127.0.0.1:6379/0?client_cache=on&cache_max_staleness_ms=500&cache_bytes=4096")
        #expect(store.cache?.configuration == RedisSessionCache.Configuration(maxStaleness: .milliseconds(500), byteBudget: 4096))
        #expect(try RedisSessionStore(url: "redis://127.0.0.1:6379/0?client_cache=off").cache == nil)
        #expect(try RedisSessionStore(url: "redis://127.0.0.1:6379/0").cache == nil)
        let sentinel = try RedisSessionStore(url: "redis-sentinel://127.0.0.1:26379/0?client_cache=on#sessionkit")
        #expect(sentinel.cache != nil && sentinel.client is RESPSentinelClient)
        #expect(throws: RESPClientError.self) { try RedisSessionStore(url: "redis-cluster://127.0.0.1:7000?client_cache=on") }
        #expect(throws: RESPClientError.self) { try RedisSessionStore(url: "redis://127.0.0.1?client_cache=yes") }
    }

    @Test("invalidation pushes: keys, a flush (null), and other pushes ignored")
    func invalidationPushes() {
        let keys = RESPReply.push([.bulkString(Array("invalidate".utf8)), .array([.bulkString(Array("sk:s:{a}".utf8))])])
        #expect(RESPInvalidation(push: keys) == .keys(["sk:s:{a}"]))
        #expect(RESPInvalidation(push: .push([.bulkString(Array("invalidate".utf8)), .null])) == .everything)
        #expect(RESPInvalidation(push: .push([.bulkString(Array("message".utf8)), .bulkString([]), .bulkString([])])) == nil)
    }
}

/// Against the real server of `SESSIONKIT_REDIS_URL` (one server: Redis, and Valkey in `.ci/run`).
@Suite(
    "Redis client-side cache",
    .serialized,
    .enabled(if: RedisTestServer.isSingleServer, "needs one Redis or Valkey server (SESSIONKIT_REDIS_URL=redis://…)")
)
struct RedisSessionCacheTests {
    static func cachedStore(prefix: String, clock: any SessionClock = SystemSessionClock()) throws -> RedisSessionStore {
        RedisSessionStore(configuration: try RedisTestServer.configuration(), cache: RedisSessionCache(), keyPrefix: prefix, clock: clock)
    }

    static func prefix() -> String { "test:\(UUID().uuidString.prefix(8)):" }

    static func record(_ value: String) -> SessionRecord {
        let now = Date()
        return SessionRecord(data: ["v": Data("\"\(value)\"".utf8)], createdAt: now, idleExpiresAt: now + 600, absoluteExpiresAt: now + 3600)
    }

    static func update(_ value: String) -> SessionUpdate {
        SessionUpdate(setValues: ["v": Data("\"\(value)\"".utf8)], idleExpiresAt: Date() + 600, lastSeenAt: Date())
    }

    @Test("every store conformance case holds with the cache on", arguments: SessionStoreConformance.cases)
    func conformance(_ check: SessionStoreConformance.Case) async throws {
        try await check.run { clock in try Self.cachedStore(prefix: Self.prefix(), clock: clock) }
    }

    @Test("a second load is answered from memory; a write through this instance is read back at once")
    func hitAndOwnWrite() async throws {
        let store = try Self.cachedStore(prefix: Self.prefix())
        let cache = try #require(store.cache)
        let id = SessionToken.generate().storageID
        try await store.create(id, Self.record("one"))
        #expect(try await store.load(id)?.data["v"] == Data("\"one\"".utf8))
        #expect(try await store.load(id)?.data["v"] == Data("\"one\"".utf8))
        #expect(cache.hits == 1 && cache.misses == 1 && cache.count == 1)
        #expect(try await store.update(id, Self.update("two")))
        #expect(try await store.load(id)?.data["v"] == Data("\"two\"".utf8), "this instance's own write was not read back")
        try await store.delete(id)
        #expect(try await store.load(id) == nil, "a deleted session was served from the cache")
        await store.client.close()
    }

    @Test("a write or a sign-out through another instance is seen once its invalidation arrives")
    func otherInstanceInvalidates() async throws {
        let prefix = Self.prefix()
        let cached = try Self.cachedStore(prefix: prefix)
        let cache = try #require(cached.cache)
        let other = try RedisSessionStore(url: try RedisTestServer.configuredURL(), keyPrefix: prefix)
        let id = SessionToken.generate().storageID
        try await other.create(id, Self.record("one"))
        _ = try await cached.load(id)
        #expect(cache.count == 1)
        let before = cache.invalidations
        #expect(try await other.update(id, Self.update("two")))
        try await RedisTestServer.waitUntil("the invalidation") { cache.invalidations > before }
        #expect(try await cached.load(id)?.data["v"] == Data("\"two\"".utf8), "a stale value after its invalidation arrived")
        let beforeDelete = cache.invalidations
        try await other.delete(id)
        try await RedisTestServer.waitUntil("the sign-out's invalidation") { cache.invalidations > beforeDelete }
        #expect(try await cached.load(id) == nil, "a signed-out session was served after its invalidation arrived")
        await cached.client.close()
        await other.client.close()
    }

    @Test("a killed connection drops what it read, and the next load goes to the server")
    func connectionLossFlushes() async throws {
        let store = try Self.cachedStore(prefix: Self.prefix())
        let cache = try #require(store.cache)
        let id = SessionToken.generate().storageID
        try await store.create(id, Self.record("one"))
        _ = try await store.load(id)
        #expect(cache.count == 1)
        let admin = RESPConnectionPool(configuration: try RedisTestServer.configuration())
        // The tracking connections are the ones whose flags include `t`.
        let clients = try await admin.send(RESPCommand("CLIENT", ["LIST"])).string ?? ""
        let tracking = clients.split(separator: "\n").filter { line in
            line.split(separator: " ").contains { $0.hasPrefix("flags=") && $0.dropFirst("flags=".count).contains("t") }
        }
        #expect(!tracking.isEmpty, "no tracking connection is listed")
        for line in tracking {
            if let id = line.split(separator: " ").first(where: { $0.hasPrefix("id=") })?.dropFirst(3) {
                _ = try? await admin.send(RESPCommand("CLIENT", ["KILL", "ID", String(id)]))
            }
        }
        try await RedisTestServer.waitUntil("the cache to drop the killed connection's values") { cache.count == 0 }
        let misses = cache.misses
        #expect(try await store.load(id)?.data["v"] == Data("\"one\"".utf8))
        #expect(cache.misses == misses + 1)
        await admin.close()
        await store.client.close()
    }
}
