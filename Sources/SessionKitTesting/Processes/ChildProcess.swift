import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process started with `posix_spawn`, for tests that need real servers (the demo
/// app, a database's stop/start command). It is stopped by its PID, never by name.
///
/// Foundation's `Process.waitUntilExit()` can hang when the child leaves a daemon holding
/// its output pipes (as `pg_ctlcluster start` does); this type waits with `waitpid` instead
/// and sends the child's output to a file or `/dev/null`.
public final class ChildProcess: Sendable {
    /// The child's process ID.
    public let pid: pid_t

    /// Starts `executable` with `arguments`; output goes to `logPath` (or `/dev/null`).
    public init(executable: String, arguments: [String], environment: [String: String]? = nil, logPath: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let output = logPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw ChildProcessError(message: "posix_spawn \(executable) failed: \(result)") }
        self.pid = child
    }

    /// Runs a shell command to completion and returns its exit status.
    @discardableResult
    public static func runShell(_ command: String, logPath: String? = nil) throws -> Int32 {
        let process = try ChildProcess(executable: "/bin/sh", arguments: ["-c", command], logPath: logPath)
        return process.waitForExit()
    }

    /// Waits for the child to exit and returns its exit status (or 128 + signal).
    @discardableResult
    public func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }

    /// Sends a signal (default `SIGTERM`) to the child.
    public func signal(_ signal: Int32 = SIGTERM) {
        kill(pid, signal)
    }

    /// Stops the child: `SIGTERM`, then `SIGKILL` if it has not exited after `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        signal(SIGTERM)
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        signal(SIGKILL)
        _ = waitpid(pid, &status, 0)
    }
}

/// Tests that stop or pause a shared server (PostgreSQL/Redis outage tests, `CLIENT PAUSE`)
/// would disturb every other test using that server at the same time, so they run only in a
/// separate, exclusive pass: `SESSIONKIT_OUTAGE_TESTS=1 swift test --skip-build --filter "outageAndRecovery|commandTimeout"`
/// (`.ci/run` does this after the main run).
public enum ExclusiveServerTests {
    /// Whether this run is the exclusive pass.
    public static let enabled = ProcessInfo.processInfo.environment["SESSIONKIT_OUTAGE_TESTS"] == "1"
    /// The skip message for the main pass.
    public static let skipReason =
        "stops or pauses a shared server: runs alone with SESSIONKIT_OUTAGE_TESTS=1 swift test --filter \"outageAndRecovery|commandTimeout\""
}

/// A child process could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error with a message.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
