import Foundation
import SessionKit
import SessionKitRESP
import SessionKitRedis
import SessionKitTesting
import Testing

/// Every test against the real server runs in one serialized suite: the outage test stops it.
@Suite("Redis store", .serialized, .enabled(if: RedisTestServer.isConfigured, RedisTestServer.skipReason))
struct RedisStoreTests {
    @Test(arguments: SessionStoreConformance.cases + SessionStoreConformance.capping)
    func conformance(_ check: SessionStoreConformance.Case) async throws {
        try await check.run { clock in try RedisTestServer.isolatedStore(clock: clock) }
    }

    @Test("keys hold only the token digest; a signed-in session shares its user's slot; both have a TTL")
    func keyLayout() async throws {
        let store = try RedisTestServer.isolatedStore()
        let engine = try SessionEngine(store: store)
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.signIn(userID: "ada") }
        let token = try #require(client.cookie)
        let id = try #require(SessionToken(validating: token)).storageID
        let placement = try #require(id.placement, "a signed-in token carries its user's placement")
        #expect(placement == store.placement(forUser: "ada"))
        let keys = try await store.keys()
        #expect(Set(keys) == [store.sessionKey(id), store.userKey("ada")])
        #expect(store.sessionKey(id) == "\(store.keyPrefix)s:{\(placement.tag)}\(id.hex)")
        #expect(RESPHashSlot.of(store.sessionKey(id)) == RESPHashSlot.of(store.userKey("ada")))
        #expect(!keys.contains { $0.contains(token) })
        func ttl(_ key: String) async throws -> Int64 {
            try await store.client.send([RESPCommand("PTTL", [key])], touching: key)[0].int ?? -1
        }
        let sessionTTL = try await ttl(store.sessionKey(id))
        #expect(sessionTTL > 0 && sessionTTL <= 30 * 60 * 1000)
        #expect(try await ttl(store.userKey("ada")) > 0)

        // An anonymous session has no placement: its own digest is its hash tag.
        let anonymous = EngineTestClient(engine: engine)
        try await anonymous.send { try await $0.set(SessionKey<Int>("n"), 1) }
        let anonymousCookie = try #require(anonymous.cookie)
        let anonymousID = try #require(SessionToken(validating: anonymousCookie)).storageID
        #expect(anonymousID.placement == nil)
        #expect(store.sessionKey(anonymousID) == "\(store.keyPrefix)s:{\(anonymousID.hex)}")
    }

    @Test("a session signed in before placements (43-character token, u:{digest} index) still loads, is listed, and is signed out everywhere")
    func sessionFromBeforeTheUpgrade() async throws {
        let store = try RedisTestServer.isolatedStore()
        let engine = try SessionEngine(store: store)
        let visits = SessionKey<Int>("visits")
        // What the previous release left behind: an unplaced token, its session under
        // s:{<digest>}, and its ID in the user's set under the old key.
        let legacyToken = SessionToken.generate()
        let now = Date()
        try await store.create(
            legacyToken.storageID,
            SessionRecord(data: [:], userID: "grace", createdAt: now, idleExpiresAt: now + 600, absoluteExpiresAt: now + 3600)
        )
        let legacyIndex = store.legacyUserKey("grace")
        // The previous release's layout: u:{<32 hex digits of SHA-256(user)>}.
        #expect(legacyIndex.hasPrefix(store.keyPrefix + "u:{") && legacyIndex.hasSuffix("}"))
        #expect(legacyIndex.utf8.count == store.keyPrefix.utf8.count + 4 + 32)
        let member = legacyToken.storageID.hex
        _ = try await store.client.send([RESPCommand("SREM", [store.userKey("grace"), member])], touching: store.userKey("grace"))
        _ = try await store.client.send(
            [RESPCommand("SADD", [legacyIndex, member]), RESPCommand("PEXPIRE", [legacyIndex, "3600000"])],
            touching: legacyIndex
        )
        #expect(Set(try await store.keys()) == [store.sessionKey(legacyToken.storageID), legacyIndex])

        // The old cookie keeps working.
        let laptop = EngineTestClient(engine: engine)
        laptop.cookie = legacyToken.text
        let (user, _) = try await laptop.request { session -> String? in
            try await session.set(visits, 1)
            return try await session.userID
        }
        #expect(user == "grace")
        #expect(laptop.cookie == legacyToken.text, "an ordinary request must not re-issue the cookie")

        // A new sign-in on another device gets a placed token; both devices are listed.
        let phone = EngineTestClient(engine: engine)
        try await phone.send { try await $0.signIn(userID: "grace") }
        let phoneToken = try #require(phone.cookie.flatMap { SessionToken(validating: $0) })
        #expect(phoneToken.placement == store.placement(forUser: "grace"))
        let listed = try await store.sessions(forUser: "grace").map(\.id)
        #expect(Set(listed) == [legacyToken.storageID, phoneToken.storageID])

        // Sign-out everywhere from the phone ends the old-format session too.
        #expect(try await phone.request { try await $0.signOutOtherSessions() }.value == 1)
        #expect(try await laptop.request { try await $0.userID }.value == nil)
        #expect(try await store.load(legacyToken.storageID) == nil)
        #expect(try await store.sessions(forUser: "grace").map(\.id) == [phoneToken.storageID])
    }

    @Test("scripts are reloaded after SCRIPT FLUSH")
    func scriptFlush() async throws {
        let store = try RedisTestServer.isolatedStore()
        let id = SessionToken.generate().storageID
        let now = Date()
        func flush() async throws {
            for pool in try await store.client.primaryPools() { _ = try await pool.send(RESPCommand("SCRIPT", ["FLUSH"])) }
        }
        try await flush()
        try await store.create(
            id,
            SessionRecord(data: ["a": Data("1".utf8)], createdAt: now, idleExpiresAt: now + 600, absoluteExpiresAt: now + 3600)
        )
        try await flush()
        #expect(try await store.update(id, SessionUpdate(setValues: ["b": Data("2".utf8)], idleExpiresAt: now + 600, lastSeenAt: now)))
        #expect(try await store.load(id)?.version == 2)
    }

    @Test(
        "Outage: Redis down answers 503 during the outage, success afterwards without restarting the app",
        .enabled(if: ExclusiveServerTests.enabled, Comment(rawValue: ExclusiveServerTests.skipReason))
    )
    func outageAndRecovery() async throws {
        var configuration = try RedisTestServer.configuration()
        configuration.commandTimeout = .milliseconds(500)
        let store = try RedisTestServer.isolatedStore(pool: RESPConnectionPool(configuration: configuration))
        let engine = try SessionEngine(store: store)
        let visits = SessionKey<Int>("visits")
        let user = EngineTestClient(engine: engine)
        try await user.send { try await $0.signIn(userID: "ada") }
        try await user.send { try await $0.set(visits, 1) }
        let cookie = user.cookie

        try RedisTestServer.runCommand("SESSIONKIT_REDIS_STOP")
        var outageErrors = 0
        for _ in 0..<5 {
            do {
                try await user.send { _ = try await $0.get(visits) }
                Issue.record("a request succeeded while Redis was down")
            } catch let error as SessionError {
                guard error.code == .storeUnavailable else { Issue.record("expected storeUnavailable, got \(error)"); continue }
                outageErrors += 1
            }
        }
        #expect(outageErrors == 5)
        #expect(user.cookie == cookie, "the outage changed the client's cookie")

        // Redis keeps no data across this restart (--save ""), as a failover to an empty
        // replica would: the session is gone, but the app must work again by itself.
        try RedisTestServer.runCommand("SESSIONKIT_REDIS_START")
        let restarted = ContinuousClock.now
        var recovered = false
        for _ in 0..<100 where !recovered {
            do {
                try await user.send { try await $0.set(visits, 1) }
                recovered = true
            } catch {
                try await Task.sleep(for: .milliseconds(50))  // polling for the restarted server
            }
        }
        #expect(recovered, "requests did not succeed again after Redis came back")
        print("redis outage: \(outageErrors) requests answered 503; recovered \(ContinuousClock.now - restarted) after restart")
    }
}
