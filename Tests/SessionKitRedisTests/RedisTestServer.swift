import Foundation
import SessionKit
import SessionKitRedis
import SessionKitTesting
import Testing

/// The Redis server the tests use, named by `SESSIONKIT_REDIS_URL` (set by
/// `scripts/services.sh start`). Without it the suite is skipped, except under `CI=true`,
/// where a missing server is a failure.
enum RedisTestServer {
    static let url = ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_URL"]
    static let isConfigured = url != nil
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let skipReason: Comment = "Redis tests skipped: set SESSIONKIT_REDIS_URL (eval \"$(scripts/services.sh start)\")"

    static func configuration() throws -> RESPClientConfiguration {
        try RESPClientConfiguration(url: try #require(url))
    }

    /// A store whose keys live under a prefix of their own, so tests never see each other's keys.
    static func isolatedStore(clock: any SessionClock = SystemSessionClock(), pool: RESPConnectionPool? = nil) throws -> RedisSessionStore {
        let pool = try pool ?? RESPConnectionPool(configuration: configuration())
        return RedisSessionStore(pool: pool, keyPrefix: "test:\(UUID().uuidString.prefix(8)):", clock: clock)
    }

    static func runCommand(_ variable: String) throws {
        let command = try #require(ProcessInfo.processInfo.environment[variable], "\(variable) is not set")
        let status = try ChildProcess.runShell(command)
        #expect(status == 0, "\(command) failed with status \(status)")
    }
}

@Suite("Redis server availability")
struct RedisAvailabilityTests {
    @Test("CI provides a Redis server")
    func serverIsConfiguredInCI() {
        if RedisTestServer.isCI {
            #expect(RedisTestServer.isConfigured, "CI=true but SESSIONKIT_REDIS_URL is not set: .ci/run must start Redis")
        }
    }
}
