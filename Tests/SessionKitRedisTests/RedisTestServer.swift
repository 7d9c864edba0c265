import Foundation
import SessionKit
import SessionKitRESP
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

    /// Whether the URL names a cluster (`redis-cluster://`): the single-server client tests
    /// then stay out, and the store tests run through ``RESPClusterClient``.
    static let isCluster = url?.hasPrefix("redis-cluster://") ?? false

    /// Whether the URL names one server by its address (`redis://`, `rediss://`), not a
    /// cluster or a Sentinel-watched primary: the single-server client tests need one.
    static let isSingleServer = url.map { $0.hasPrefix("redis://") || $0.hasPrefix("rediss://") } ?? false

    static func configuration() throws -> RESPClientConfiguration {
        try RESPClientConfiguration(url: try configuredURL())
    }

    /// The configured URL, or a failure naming the variable to set.
    static func configuredURL() throws -> String {
        guard let url else { throw RedisTestServerNotConfigured() }
        return url
    }

    /// A store whose keys live under a prefix of their own, so tests never see each other's keys.
    static func isolatedStore(clock: any SessionClock = SystemSessionClock(), pool: RESPConnectionPool? = nil) throws -> RedisSessionStore {
        let prefix = "test:\(UUID().uuidString.prefix(8)):"
        if let pool { return RedisSessionStore(pool: pool, keyPrefix: prefix, clock: clock) }
        return try RedisSessionStore(url: try configuredURL(), keyPrefix: prefix, clock: clock)
    }

    /// Waits (bounded) until `condition` holds, checking every 50 ms.
    static func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw RESPClientError.unexpectedReply("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func runCommand(_ variable: String) throws {
        let command = try #require(ProcessInfo.processInfo.environment[variable], "\(variable) is not set")
        let status = try ChildProcess.runShell(command)
        #expect(status == 0, "\(command) failed with status \(status)")
    }
}

/// Thrown when a test needs the server but `SESSIONKIT_REDIS_URL` is unset.
struct RedisTestServerNotConfigured: Error, CustomStringConvertible {
    var description: String { "SESSIONKIT_REDIS_URL is not set" }
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
