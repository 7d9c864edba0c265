import Foundation
import NIOHTTP1
import SessionKitTesting
import Testing

/// Both demo processes over real HTTP: `/readyz` follows the store, `/healthz` does not.
@Suite(
    "Demo processes: readiness and liveness",
    .enabled(
        if: DemoServer.isBuilt && DemoServer.isBuilt(named: "session-demo-vapor"),
        "session-demo and session-demo-vapor are not built next to the tests"
    )
)
struct ReadinessProcessTests {
    /// With a Redis store nothing listens for (port 1 on loopback), the process still starts
    /// and is alive, but not ready; with the memory store it is ready.
    @Test(arguments: ["session-demo", "session-demo-vapor"])
    func readyzAnswers503WhileTheStoreIsUnreachable(binary: String) async throws {
        let unreachable = try await DemoServer.start(store: "redis://127.0.0.1:1/0", binaryName: binary)
        let memory: DemoServer
        do {
            memory = try await DemoServer.start(store: "memory", binaryName: binary)
        } catch {
            await unreachable.stop()
            throw error
        }
        let client = DemoClient()
        do {
            let down = try await client.send(.GET, unreachable, "/readyz")
            #expect(down.status == 503 && down.retryAfter == "5", "\(binary): \(down.status) \(down.body)")
            let alive = try await client.send(.GET, unreachable, "/healthz")
            #expect(alive.status == 200 && alive.body == "ok", "\(binary): \(alive.status) \(alive.body)")
            let ready = try await client.send(.GET, memory, "/readyz")
            #expect(ready.status == 200 && ready.body == "ready", "\(binary): \(ready.status) \(ready.body)")
        } catch {
            Issue.record(error)
        }
        try await client.shutdown()
        await unreachable.stop()
        await memory.stop()
    }
}
