import Foundation
import Logging
import PostgresNIO
import SessionKit
import SessionKitPostgres
import SessionKitTesting
import Testing

/// The PostgreSQL server the tests use, named by `SESSIONKIT_POSTGRES_URL` (set by
/// `scripts/services.sh start`). Without it the suite is skipped, except under `CI=true`,
/// where a missing server is a failure.
enum PostgresTestServer {
    static let url = ProcessInfo.processInfo.environment["SESSIONKIT_POSTGRES_URL"]
    static let isConfigured = url != nil
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let skipReason: Comment = "PostgreSQL tests skipped: set SESSIONKIT_POSTGRES_URL (eval \"$(scripts/services.sh start)\")"

    /// Runs `body` with a client whose connections use a fresh schema, dropped afterwards, so
    /// every test starts with an empty table.
    static func withIsolatedClient<Result>(_ body: (PostgresClient) async throws -> Result) async throws -> Result {
        let url = try #require(url)
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = PostgresClient(configuration: try PostgresConnectionURL.configuration(from: url))
        var configuration = try PostgresConnectionURL.configuration(from: url)
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await admin.run() }
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
            do {
                let result = try await body(client)
                try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
                return result
            } catch {
                _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
                throw error
            }
        }
    }

    /// Runs a shell command from the environment (the server's stop/start commands).
    static func runCommand(_ variable: String) throws {
        let command = try #require(ProcessInfo.processInfo.environment[variable], "\(variable) is not set")
        let status = try ChildProcess.runShell(command)
        #expect(status == 0, "\(command) failed with status \(status)")
    }
}

@Suite("PostgreSQL server availability")
struct PostgresAvailabilityTests {
    @Test("CI provides a PostgreSQL server")
    func serverIsConfiguredInCI() {
        if PostgresTestServer.isCI {
            #expect(PostgresTestServer.isConfigured, "CI=true but SESSIONKIT_POSTGRES_URL is not set: .ci/run must start PostgreSQL")
        }
    }
}
