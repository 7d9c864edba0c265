import Foundation
import NIOHTTP1
import Testing

/// Issue 18 over real HTTP: 32 concurrent clients of one session increment one counter through
/// `increment` and through `modify`, on every store and both adapters, and 20 clients add
/// distinct items to one cart. The final value must equal the acknowledged requests: nothing
/// lost, nothing applied twice.
@Suite(
    "Concurrent writes of one key over HTTP",
    .serialized,
    .enabled(
        if: DemoServer.isBuilt && DemoServer.isBuilt(named: "session-demo-vapor"),
        "session-demo and session-demo-vapor are not built next to the tests"
    )
)
struct ConcurrentCounterProcessTests {
    static let clients = 32
    static let requestsPerClient = 10

    /// `binary|store` pairs: both adapters on every store this machine runs.
    static var servers: [String] {
        var stores = ["memory", "sqlite"]
        if ProcessInfo.processInfo.environment["SESSIONKIT_POSTGRES_URL"] != nil { stores.append("postgres") }
        if ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_URL"] != nil { stores.append("redis") }
        return ["session-demo", "session-demo-vapor"].flatMap { binary in stores.map { "\(binary)|\($0)" } }
    }

    @Test(arguments: servers)
    func noUpdateIsLost(server: String) async throws {
        let parts = server.split(separator: "|").map(String.init)
        let sqlitePath = FileManager.default.temporaryDirectory.appendingPathComponent("counter-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) } }
        let environment = ProcessInfo.processInfo.environment
        let store =
            switch parts[1] {
            case "sqlite": "sqlite:\(sqlitePath)"
            case "postgres": environment["SESSIONKIT_POSTGRES_URL"] ?? ""
            case "redis": environment["SESSIONKIT_REDIS_URL"] ?? ""
            default: parts[1]
            }
        let demo = try await DemoServer.start(store: store, binaryName: parts[0])
        let client = DemoClient(connections: Self.clients)
        do {
            for path in ["/api/counter", "/api/counter/modify"] {
                let tally = try await Self.hammer(path, demo, client)
                let final = try await client.send(.GET, demo, "/api/counter")
                #expect(
                    final.json?["count"] as? Int == tally.acknowledged,
                    "\(server) \(path): counter \(final.body) after \(tally.acknowledged) acknowledged requests (\(tally.conflicts) 409s)"
                )
                #expect(tally.failures.isEmpty, "\(server) \(path): \(tally.failures.prefix(3))")
                // One instance: its requests take turns per key, so even modify never needs to answer 409.
                #expect(tally.conflicts == 0, "\(server) \(path): answered 409")
                print("\(server) \(path): \(tally.acknowledged) acknowledged, \(tally.conflicts) 409, counter \(final.body)")
            }
            try await Self.concurrentCart(demo, client, server)
        } catch {
            try? await client.shutdown()
            await demo.stop()
            throw error
        }
        try await client.shutdown()
        await demo.stop()
    }

    struct Tally: Sendable {
        var acknowledged = 0
        var conflicts = 0
        var failures: [String] = []
    }

    /// A fresh session, then `clients` × `requestsPerClient` POSTs to `path` with its cookie.
    static func hammer(_ path: String, _ demo: DemoServer, _ client: DemoClient) async throws -> Tally {
        client.cookie = nil
        let first = try await client.send(.POST, demo, path)
        guard first.status == 200, client.cookie != nil else {
            throw ChildProcessFailure("\(path) created no session: \(first.status) \(first.body)")
        }
        return try await withThrowingTaskGroup(of: Tally.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var tally = Tally()
                    for _ in 0..<requestsPerClient {
                        let reply = try await client.send(.POST, demo, path)
                        switch reply.status {
                        case 200: tally.acknowledged += 1
                        case 409: tally.conflicts += 1
                        default: tally.failures.append("\(reply.status) \(reply.body)")
                        }
                    }
                    return tally
                }
            }
            var total = Tally(acknowledged: 1)
            for try await tally in group {
                total.acknowledged += tally.acknowledged
                total.conflicts += tally.conflicts
                total.failures += tally.failures
            }
            return total
        }
    }

    /// 20 clients each add a distinct item to one cart at once: all 20 are there.
    static func concurrentCart(_ demo: DemoServer, _ client: DemoClient, _ server: String) async throws {
        client.cookie = nil
        _ = try await client.send(.POST, demo, "/api/cart", json: #"{"item":"first"}"#)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await client.send(.POST, demo, "/api/cart", json: #"{"item":"item \#(index)"}"#).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let cart = try await client.send(.GET, demo, "/api/cart")
        let items = Set(cart.json?["items"] as? [String] ?? [])
        #expect(statuses.allSatisfy { $0 == 200 }, "\(server): cart statuses \(statuses)")
        #expect(items == Set(["first"] + (0..<20).map { "item \($0)" }), "\(server): cart \(cart.body)")
    }
}

struct ChildProcessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
