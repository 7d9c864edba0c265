import SessionKit
import Synchronization
import SessionKitRESP
import Logging
import NIOCore
import NIOPosix

/// A fixed set of multiplexed connections to one Redis/Valkey server.
///
/// Requests are spread round-robin over ``RESPClientConfiguration/connectionCount`` connections
/// and pipelined on each, so no request waits for a free connection. Each connection slot is
/// a small state machine:
///
/// ```
/// disconnected ──use──▶ connecting ──ok──▶ connected ──closed──▶ disconnected
///      ▲                    │ failed
///      └──── backing off ◀──┘   (requests fail fast until the backoff ends)
/// ```
/// After a failed connect the slot waits ``RESPClientConfiguration/initialBackoff`` (50 ms), doubling
/// up to ``RESPClientConfiguration/maxBackoff``,
/// before trying again; in between, requests fail at once with `RESPClientError.backingOff(retryInMilliseconds:)`
/// instead of piling up. When the server returns, the next request after the backoff
/// reconnects: the pool heals without a restart.
public final class RESPConnectionPool: Sendable {
    /// The configuration the pool connects with.
    public let configuration: RESPClientConfiguration
    private let slots: [ConnectionSlot]
    private let next = Atomic<Int>(0)
    /// Idle connections for writes followed by `WAIT`. `WAIT` holds its connection until the
    /// replicas confirm, so each such write takes a connection for itself (opening one when
    /// none is idle): neither the pipelined requests nor the other acknowledged writes queue
    /// behind it.
    private let acknowledgedIdle = LockedValue<[RESPConnection]>([])
    private let group: any EventLoopGroup
    /// Hears the invalidations of the pooled connections, which then all track (`nil`: none do).
    private let tracking: (any RESPTrackingObserver)?

    /// Creates a pool; connections open on first use.
    public init(configuration: RESPClientConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.tracking = nil
        self.slots = (0..<max(1, configuration.connectionCount)).map { _ in ConnectionSlot() }
    }

    /// Creates a pool whose connections (not those of ``sendAcknowledged(_:replicas:timeout:)``,
    /// which only write) run `CLIENT TRACKING ON OPTIN` and report to `tracking`.
    package init(configuration: RESPClientConfiguration, tracking: any RESPTrackingObserver, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.tracking = tracking
        self.slots = (0..<max(1, configuration.connectionCount)).map { _ in ConnectionSlot() }
    }

    /// Sends `commands` on a tracking connection of the pool, calling `beforeSending` with the
    /// connection's ID first (before a byte is written), so the caller can note what it reads.
    package func sendTracked(_ commands: [RESPCommand], beforeSending: (UInt64) -> Void) async throws -> [RESPReply] {
        let connection = try await nextConnection()
        beforeSending(connection.id)
        return try await connection.send(commands)
    }

    private func nextConnection() async throws -> RESPConnection {
        let index = next.add(1, ordering: .relaxed).newValue % slots.count
        return try await slots[index].connection(configuration: configuration, group: group, tracking: tracking)
    }

    /// Sends commands as one pipeline on one connection; one reply per command.
    public func send(_ commands: [RESPCommand]) async throws -> [RESPReply] {
        try await nextConnection().send(commands)
    }

    /// Sends commands as one pipeline followed by `WAIT replicas timeout`, on a connection no
    /// other request uses meanwhile, and returns the commands' replies once at least
    /// `replicas` replicas hold every write of the pipeline. Fewer confirmations within
    /// `timeout` throw `RESPClientError.notAcknowledged(replicas:required:)`: the writes ran
    /// on this server but may not survive its loss. When the server refused every command
    /// without running it (`READONLY` from a demoted primary, a cluster redirect, `NOSCRIPT`),
    /// their replies are returned for the caller to resend, whatever `WAIT` said.
    public func sendAcknowledged(_ commands: [RESPCommand], replicas: Int, timeout: Duration) async throws -> [RESPReply] {
        guard !commands.isEmpty else { return [] }
        let connection = try await checkOutAcknowledged()
        let milliseconds = max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var replies: [RESPReply]
        do {
            replies = try await connection.send(
                commands + [RESPCommand("WAIT", [String(replicas), String(milliseconds)])],
                extendingTimeoutBy: timeout
            )
        } catch {
            // Broken, timed out or abandoned: late replies could still arrive, so not reused.
            await connection.close()
            throw error
        }
        await checkIn(connection)
        let wait = replies.removeLast()
        if replies.allSatisfy(Self.wasRefused) { return replies }
        guard let confirmed = wait.int, confirmed >= replicas else {
            throw RESPClientError.notAcknowledged(replicas: Int(wait.int ?? 0), required: replicas)
        }
        return replies
    }

    /// Whether `reply` says the server did not run the command at all.
    static func wasRefused(_ reply: RESPReply) -> Bool {
        guard let kind = reply.serverError?.serverKind else { return false }
        return ["READONLY", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "NOSCRIPT", "MASTERDOWN"].contains(kind)
    }

    private func checkOutAcknowledged() async throws -> RESPConnection {
        while let idle = acknowledgedIdle.withLock({ $0.popLast() }) {
            if idle.isActive { return idle }
        }
        return try await RESPConnection.connect(configuration, group: group)
    }

    private func checkIn(_ connection: RESPConnection) async {
        let kept = acknowledgedIdle.withLock { idle -> Bool in
            guard connection.isActive, idle.count < max(1, configuration.connectionCount) * 4 else { return false }
            idle.append(connection)
            return true
        }
        if !kept { await connection.close() }
    }

    /// Sends one command; server errors are thrown.
    public func send(_ command: RESPCommand) async throws -> RESPReply {
        let reply = try await send([command]).first ?? .null
        if let error = reply.serverError { throw error }
        return reply
    }

    /// Closes every open connection.
    public func close() async {
        for slot in slots { await slot.close() }
        for connection in acknowledgedIdle.withLock({ idle in
            defer { idle = [] }; return idle
        }) { await connection.close() }
    }
}

/// One connection of the pool and its state.
final class ConnectionSlot: Sendable {
    enum State {
        case disconnected(failures: Int, retryAt: ContinuousClock.Instant?)
        case connecting(waiters: [CheckedContinuation<RESPConnection, any Error>])
        case connected(RESPConnection)
    }

    private enum Step {
        case use(RESPConnection)
        case fail(RESPClientError)
        case connect(failures: Int)
        case wait
    }

    private let state = LockedValue<State>(.disconnected(failures: 0, retryAt: nil))

    func connection(configuration: RESPClientConfiguration, group: any EventLoopGroup, tracking: (any RESPTrackingObserver)?) async throws -> RESPConnection {
        let now = ContinuousClock.now
        let step = state.withLock { state -> Step in
            switch state {
            case .connected(let connection) where connection.isActive:
                return .use(connection)
            case .connected:
                state = .connecting(waiters: [])
                return .connect(failures: 0)
            case .connecting:
                return .wait
            case .disconnected(let failures, let retryAt):
                if let retryAt, now < retryAt {
                    let milliseconds = Int((retryAt - now).components.seconds * 1000 + (retryAt - now).components.attoseconds / 1_000_000_000_000_000)
                    return .fail(.backingOff(retryInMilliseconds: max(1, milliseconds)))
                }
                state = .connecting(waiters: [])
                return .connect(failures: failures)
            }
        }
        switch step {
        case .use(let connection):
            return connection
        case .fail(let error):
            throw error
        case .connect(let failures):
            return try await connect(configuration: configuration, group: group, tracking: tracking, failures: failures)
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Result<RESPConnection, any Error>? in
                    switch state {
                    case .connecting(var waiters):
                        waiters.append(continuation)
                        state = .connecting(waiters: waiters)
                        return nil
                    case .connected(let connection):
                        return .success(connection)
                    case .disconnected:
                        return .failure(RESPClientError.connectFailed(reason: "connection attempt failed"))
                    }
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        }
    }

    private func connect(
        configuration: RESPClientConfiguration,
        group: any EventLoopGroup,
        tracking: (any RESPTrackingObserver)?,
        failures: Int
    ) async throws -> RESPConnection {
        do {
            let connection = try await RESPConnection.connect(configuration, group: group, tracking: tracking)
            let waiters = state.withLock { state -> [CheckedContinuation<RESPConnection, any Error>] in
                defer { state = .connected(connection) }
                if case .connecting(let waiters) = state { return waiters }
                return []
            }
            for waiter in waiters { waiter.resume(returning: connection) }
            return connection
        } catch {
            let attempt = failures + 1
            let backoff = min(configuration.initialBackoff * (1 << min(attempt - 1, 16)), configuration.maxBackoff)
            let waiters = state.withLock { state -> [CheckedContinuation<RESPConnection, any Error>] in
                defer { state = .disconnected(failures: attempt, retryAt: .now + backoff) }
                if case .connecting(let waiters) = state { return waiters }
                return []
            }
            for waiter in waiters { waiter.resume(throwing: error) }
            throw error
        }
    }

    func close() async {
        let connection = state.withLock { state -> RESPConnection? in
            defer { state = .disconnected(failures: 0, retryAt: nil) }
            if case .connected(let connection) = state { return connection }
            return nil
        }
        await connection?.close()
    }
}
