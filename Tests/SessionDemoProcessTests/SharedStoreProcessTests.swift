import Foundation
import NIOHTTP1
import SessionKitTesting
import Testing

let environment = ProcessInfo.processInfo.environment

/// Real `session-demo` processes sharing one store: signed in on one, signed in on the
/// other; signed out on one, signed out on both.
@Suite("Demo processes sharing a store", .serialized, .enabled(if: DemoServer.isBuilt, "session-demo is not built next to the tests"))
struct SharedStoreProcessTests {
    static let postgres = environment["SESSIONKIT_POSTGRES_URL"]
    static let redis = environment["SESSIONKIT_REDIS_URL"]

    func signInOnOneSignOutOnTheOther(store: String, environment: [String: String] = [:]) async throws {
        let first = try await DemoServer.start(store: store, environment: environment)
        let second = try await DemoServer.start(store: store, environment: environment)
        let client = DemoClient()
        do {
            #expect(try await client.send(.POST, first, "/api/login", json: #"{"user":"ada","password":"demo"}"#).status == 200)
            #expect(try await client.send(.POST, second, "/api/visit").json?["visits"] as? Int == 1)
            let me = try await client.send(.GET, first, "/api/me")
            #expect(me.json?["user"] as? String == "ada", "signed in on the first process, not seen there")
            #expect(me.json?["visits"] as? Int == 1, "a write on the second process is not seen by the first")
            let stolen = client.cookie
            #expect(try await client.send(.POST, second, "/api/logout").status == 200)
            client.cookie = stolen
            let after = try await client.send(.GET, first, "/api/me")
            #expect(after.json?["user"] is NSNull, "signed out on the second process, still signed in on the first")
        } catch {
            Issue.record(error)
        }
        try await client.shutdown()
        await first.stop()
        await second.stop()
    }

    @Test("two processes share sessions through PostgreSQL", .enabled(if: postgres != nil, "set SESSIONKIT_POSTGRES_URL"))
    func postgresShared() async throws {
        try await signInOnOneSignOutOnTheOther(store: try #require(Self.postgres))
    }

    @Test("two processes share sessions through Redis", .enabled(if: redis != nil, "set SESSIONKIT_REDIS_URL"))
    func redisShared() async throws {
        try await signInOnOneSignOutOnTheOther(store: try #require(Self.redis))
    }

    @Test("two processes share sealed-cookie sessions through a shared key ring")
    func cookieShared() async throws {
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let first = try await DemoServer.start(store: "cookie", environment: ["SESSIONKIT_KEYS": "k1=\(key)"])
        let second = try await DemoServer.start(store: "cookie", environment: ["SESSIONKIT_KEYS": "k1=\(key)"])
        let client = DemoClient()
        do {
            #expect(try await client.send(.POST, first, "/api/login", json: #"{"user":"ada","password":"demo"}"#).status == 200)
            #expect(try await client.send(.GET, second, "/api/me").json?["user"] as? String == "ada")
        } catch {
            Issue.record(error)
        }
        try await client.shutdown()
        await first.stop()
        await second.stop()
    }

    @Test("an SQLite-backed demo keeps its sessions across a restart")
    func sqliteSurvivesRestart() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let client = DemoClient()
        let first = try await DemoServer.start(store: "sqlite:\(path)")
        _ = try await client.send(.POST, first, "/api/login", json: #"{"user":"ada","password":"demo"}"#)
        _ = try await client.send(.POST, first, "/api/visit")
        await first.stop()
        let restarted = try await DemoServer.start(store: "sqlite:\(path)")
        let me = try await client.send(.GET, restarted, "/api/me")
        #expect(me.json?["user"] as? String == "ada", "the restart signed the user out")
        #expect(me.json?["visits"] as? Int == 1)
        try await client.shutdown()
        await restarted.stop()
    }
}
