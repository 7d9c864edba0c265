import Foundation
import NIOHTTP1
import SessionKitTesting
import Testing

/// A Hummingbird `session-demo` and a Vapor `session-demo-vapor` process sharing one store:
/// one user's session is served by both in turns, and signing out on one ends it on the other.
@Suite(
    "Hummingbird and Vapor demo processes sharing a store",
    .serialized,
    .enabled(
        if: DemoServer.isBuilt && DemoServer.isBuilt(named: "session-demo-vapor"),
        "session-demo and session-demo-vapor are not built next to the tests"
    )
)
struct CrossFrameworkProcessTests {
    static let postgres = ProcessInfo.processInfo.environment["SESSIONKIT_POSTGRES_URL"]
    static let redis = ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_URL"]

    /// Signs in on Hummingbird, visits on Vapor, reads on Hummingbird, signs out on Vapor.
    /// With `revocable`, the signed-out cookie must then be anonymous on Hummingbird too
    /// (server-side stores); sealed cookies have no server state to revoke, so only the
    /// client's deleted cookie is checked there.
    func signInOnHummingbirdSignOutOnVapor(store: String, environment: [String: String] = [:], revocable: Bool) async throws {
        let hummingbird = try await DemoServer.start(store: store, environment: environment)
        let vapor: DemoServer
        do {
            vapor = try await DemoServer.start(store: store, environment: environment, binaryName: "session-demo-vapor")
        } catch {
            await hummingbird.stop()
            throw error
        }
        let client = DemoClient()
        do {
            let login = try await client.send(.POST, hummingbird, "/api/login", json: #"{"user":"ada","password":"demo"}"#)
            #expect(login.status == 200 && login.json?["user"] as? String == "ada", "\(login.status) \(login.body)")
            #expect(client.cookie != nil, "Hummingbird issued no cookie")

            let seenByVapor = try await client.send(.GET, vapor, "/api/me")
            #expect(seenByVapor.json?["user"] as? String == "ada", "signed in on Hummingbird, not seen on Vapor: \(seenByVapor.body)")
            let visit = try await client.send(.POST, vapor, "/api/visit")
            #expect(visit.status == 200 && visit.json?["visits"] as? Int == 1, "\(visit.status) \(visit.body)")

            let me = try await client.send(.GET, hummingbird, "/api/me")
            #expect(me.json?["user"] as? String == "ada", "Hummingbird lost the user after a Vapor request: \(me.body)")
            #expect(me.json?["visits"] as? Int == 1, "a visit counted on Vapor is not seen on Hummingbird: \(me.body)")

            let stolen = client.cookie
            let logout = try await client.send(.POST, vapor, "/api/logout")
            #expect(logout.status == 200, "\(logout.status) \(logout.body)")
            #expect(client.cookie == nil, "Vapor's logout did not delete the cookie: \(logout.setCookie ?? "no Set-Cookie")")
            let afterLogout = try await client.send(.GET, hummingbird, "/api/me")
            #expect(afterLogout.json?["user"] is NSNull, "still signed in on Hummingbird after signing out on Vapor: \(afterLogout.body)")

            if revocable {
                client.cookie = stolen
                let replay = try await client.send(.GET, hummingbird, "/api/me")
                #expect(replay.status == 200)
                #expect(replay.json?["user"] is NSNull, "the cookie signed out on Vapor still works on Hummingbird: \(replay.body)")
                #expect(replay.json?["visits"] as? Int == 0)
            }
        } catch {
            Issue.record(error)
        }
        try await client.shutdown()
        await hummingbird.stop()
        await vapor.stop()
    }

    @Test("Hummingbird and Vapor processes share sessions through PostgreSQL", .enabled(if: postgres != nil, "set SESSIONKIT_POSTGRES_URL"))
    func postgresShared() async throws {
        try await signInOnHummingbirdSignOutOnVapor(store: try #require(Self.postgres), revocable: true)
    }

    @Test("Hummingbird and Vapor processes share sessions through Redis", .enabled(if: redis != nil, "set SESSIONKIT_REDIS_URL"))
    func redisShared() async throws {
        try await signInOnHummingbirdSignOutOnVapor(store: try #require(Self.redis), revocable: true)
    }

    @Test("Hummingbird and Vapor processes share sealed-cookie sessions through one key ring")
    func sealedCookiesShared() async throws {
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await signInOnHummingbirdSignOutOnVapor(store: "cookie", environment: ["SESSIONKIT_KEYS": "k1=\(key)"], revocable: false)
    }
}
