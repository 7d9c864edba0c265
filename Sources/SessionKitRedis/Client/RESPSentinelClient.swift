import NIOCore
import NIOPosix
import SessionKit
import SessionKitRESP

/// A client for a Redis primary that Redis Sentinel watches: it asks the Sentinels which
/// server is the primary, confirms it with `ROLE`, and sends every command there.
///
/// Discovery follows the Sentinel client specification:
/// - Ask each Sentinel in turn `SENTINEL get-master-addr-by-name`; the first that names an
///   address moves to the front of the list.
/// - Connect to that address and ask `ROLE`: anything but `master` (a failover is half done)
///   is not used; the Sentinels are asked again after a pause.
/// - Ask again after a command could not be sent or its connection broke, after a `READONLY`
///   reply (the primary was demoted under us), after a write was not acknowledged, when the
///   confirmation is older than ``RESPSentinelConfiguration/verifyInterval``, and at once on a
///   `+switch-master` event from a Sentinel (``RESPSentinelConfiguration/followsSwitchMaster``).
///
/// Commands are never sent to a replica: reads included, since a replica can still serve a
/// session that a sign-out already deleted on the primary. A command is tried again only if
/// it certainly did not run (it could not be sent, or the server refused it with `READONLY`).
public final class RESPSentinelClient: RESPCommandSending {
    /// The configuration the client connects with.
    public let configuration: RESPSentinelConfiguration
    private let group: any EventLoopGroup
    private let state: LockedValue<SentinelState>

    /// The primary in use: where it is, its pool, and how many replicas `ROLE` listed.
    struct Primary: Sendable {
        var address: RESPNodeAddress
        var pool: RESPConnectionPool
        var replicas: Int
    }

    struct SentinelState {
        var sentinels: [RESPNodeAddress]
        var primary: Primary?
        var confirmedAt: ContinuousClock.Instant?
        var resolving: Task<Primary, any Error>?
        var sentinelPools: [RESPNodeAddress: RESPConnectionPool] = [:]
        var watcher: Task<Void, Never>?
        var closed = false
    }

    /// Creates a client; it asks the Sentinels at first use.
    public init(configuration: RESPSentinelConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        throws(RESPClientError)
    {
        guard !configuration.sentinels.isEmpty else { throw .invalidURL("Sentinel needs at least one Sentinel address") }
        guard !configuration.primaryName.isEmpty else { throw .invalidURL("Sentinel needs the primary's name") }
        self.configuration = configuration
        self.group = group
        self.state = LockedValue(SentinelState(sentinels: configuration.sentinels))
    }

    /// `true`: one server holds every key.
    public var allowsCrossSlotKeys: Bool { true }

    /// The primary's address as last confirmed, or `nil` before first use and while none is.
    public var primaryAddress: RESPNodeAddress? { state.withLock { $0.confirmedAt == nil ? nil : $0.primary?.address } }

    /// Sends `commands` to the current primary.
    public func send(_ commands: [RESPCommand], touching key: String?) async throws -> [RESPReply] {
        try await route(commands) { pool, batch in try await pool.send(batch) }
    }

    /// Sends `commands` to the current primary, followed by `WAIT` there.
    public func sendAcknowledged(_ commands: [RESPCommand], touching key: String?, replicas: Int, timeout: Duration) async throws
        -> [RESPReply]
    {
        try await route(commands) { pool, batch in try await pool.sendAcknowledged(batch, replicas: replicas, timeout: timeout) }
    }

    /// The replicas the primary's `ROLE` listed when it was last confirmed.
    public func replicaCount(touching key: String?) -> Int? {
        state.withLock { $0.primary?.replicas }
    }

    /// The current primary's pool.
    public func primaryPools() async throws -> [RESPConnectionPool] {
        [try await currentPrimary().pool]
    }

    /// The pool of the primary the Sentinels name now, confirmed again.
    public func refreshedPrimaryPools() async throws -> [RESPConnectionPool]? {
        invalidate(nil)
        return [try await currentPrimary().pool]
    }

    /// Asks the Sentinels now and returns the confirmed primary's address.
    @discardableResult
    public func resolvePrimary() async throws -> RESPNodeAddress {
        invalidate(nil)
        return try await currentPrimary().address
    }

    /// Stops following `+switch-master` and closes every connection.
    public func close() async {
        let (pools, watcher) = state.withLock { state -> ([RESPConnectionPool], Task<Void, Never>?) in
            state.closed = true
            defer {
                state.primary = nil
                state.sentinelPools = [:]
                state.watcher = nil
            }
            return ((state.primary.map { [$0.pool] } ?? []) + Array(state.sentinelPools.values), state.watcher)
        }
        watcher?.cancel()
        for pool in pools { await pool.close() }
    }

    // MARK: Sending

    private func route(
        _ commands: [RESPCommand],
        sending: (RESPConnectionPool, [RESPCommand]) async throws -> [RESPReply]
    ) async throws -> [RESPReply] {
        guard !commands.isEmpty else { return [] }
        var replies = [RESPReply?](repeating: nil, count: commands.count)
        var pending = Array(commands.indices)
        var pause = configuration.initialRetryPause
        for attempt in 1...max(1, configuration.maxAttempts) {
            let last = attempt >= configuration.maxAttempts
            do {
                let primary = try await currentPrimary()
                let answered: [RESPReply]
                do {
                    answered = try await sending(primary.pool, pending.map { commands[$0] })
                } catch let error as RESPClientError {
                    // Whatever broke, the next call asks the Sentinels first.
                    invalidate(primary.address)
                    throw error
                }
                var refused: [Int] = []
                for (index, reply) in zip(pending, answered) {
                    replies[index] = reply
                    if reply.serverError?.isServerError("READONLY") == true { refused.append(index) }
                }
                if refused.isEmpty || last { return replies.map { $0 ?? .null } }
                invalidate(primary.address)
                pending = refused
            } catch let error as RESPClientError where error.commandWasNotSent && !last {
                // No primary confirmed, or it could not be reached: nothing ran, try again.
            }
            do {
                try await Task.sleep(for: pause)
            } catch {
                throw RESPClientError.cancelled
            }
            pause = min(pause * 2, configuration.maxRetryPause)
        }
        return replies.map { $0 ?? .null }
    }

    // MARK: Discovery

    /// Marks the primary as needing confirmation (only if it is still `address`, when given).
    private func invalidate(_ address: RESPNodeAddress?) {
        state.withLock { state in
            if address == nil || state.primary?.address == address { state.confirmedAt = nil }
        }
    }

    private func currentPrimary() async throws -> Primary {
        let (primary, confirmedAt, closed) = state.withLock { ($0.primary, $0.confirmedAt, $0.closed) }
        guard !closed else { throw RESPClientError.connectionClosed(reason: "the client was closed") }
        startWatchingIfNeeded()
        if let primary, let confirmedAt, ContinuousClock.now - confirmedAt < configuration.verifyInterval { return primary }
        do {
            return try await sharedResolve()
        } catch {
            // A periodic check that no Sentinel answered keeps the primary that still works.
            if let primary, confirmedAt != nil { return primary }
            throw error
        }
    }

    /// Asks the Sentinels; concurrent callers share one resolution.
    private func sharedResolve() async throws -> Primary {
        let task = state.withLock { state -> Task<Primary, any Error> in
            if let running = state.resolving { return running }
            let task = Task { try await self.resolve() }
            state.resolving = task
            return task
        }
        do {
            let primary = try await task.value
            let replaced = state.withLock { state -> RESPConnectionPool? in
                if state.resolving == task { state.resolving = nil }
                let old = state.primary
                state.primary = primary
                state.confirmedAt = .now
                return old.flatMap { $0.address == primary.address ? nil : $0.pool }
            }
            await replaced?.close()
            return primary
        } catch {
            state.withLock { state in
                if state.resolving == task { state.resolving = nil }
            }
            throw error
        }
    }

    private func resolve() async throws -> Primary {
        let (sentinels, current) = state.withLock { ($0.sentinels, $0.primary) }
        var reasons: [String] = []
        for sentinel in sentinels {
            let named: RESPReply
            do {
                named = try await sentinelPool(sentinel).send(RESPCommand("SENTINEL", ["get-master-addr-by-name", configuration.primaryName]))
            } catch {
                reasons.append("\(sentinel): \(error)")
                continue
            }
            guard let parts = named.array, parts.count == 2, let host = parts[0].string, let port = parts[1].string.flatMap({ Int($0) })
            else {
                reasons.append("\(sentinel) does not know \(configuration.primaryName)")
                continue
            }
            let address = RESPNodeAddress(host: host, port: port)
            let pool = current?.address == address ? current?.pool ?? makePool(address) : makePool(address)
            let role: RESPReply
            do {
                role = try await pool.send(RESPCommand("ROLE"))
            } catch {
                reasons.append("\(address), named by \(sentinel): \(error)")
                if current?.address != address { await pool.close() }
                continue
            }
            guard let fields = role.array, fields.first?.string == "master" else {
                reasons.append("\(address), named by \(sentinel), is not a primary (yet)")
                if current?.address != address { await pool.close() }
                continue
            }
            state.withLock { state in
                state.sentinels.removeAll { $0 == sentinel }
                state.sentinels.insert(sentinel, at: 0)
            }
            return Primary(address: address, pool: pool, replicas: fields.count > 2 ? fields[2].array?.count ?? 0 : 0)
        }
        throw RESPClientError.noPrimary(reasons.joined(separator: "; "))
    }

    private func makePool(_ address: RESPNodeAddress) -> RESPConnectionPool {
        var node = configuration.node
        node.host = address.host
        node.port = address.port
        return RESPConnectionPool(configuration: node, group: group)
    }

    private func sentinelPool(_ address: RESPNodeAddress) -> RESPConnectionPool {
        state.withLock { state in
            if let pool = state.sentinelPools[address] { return pool }
            var node = configuration.sentinel
            node.host = address.host
            node.port = address.port
            let pool = RESPConnectionPool(configuration: node, group: group)
            state.sentinelPools[address] = pool
            return pool
        }
    }

    // MARK: +switch-master

    private func startWatchingIfNeeded() {
        guard configuration.followsSwitchMaster else { return }
        state.withLock { state in
            guard state.watcher == nil, !state.closed else { return }
            state.watcher = Task { [weak self] in await self?.watchSwitchMaster() }
        }
    }

    /// Stays subscribed to `+switch-master` on one Sentinel after another until the client closes;
    /// an event naming this primary makes the next call ask the Sentinels.
    private func watchSwitchMaster() async {
        let prefix = configuration.primaryName + " "
        while !Task.isCancelled {
            for sentinel in state.withLock({ $0.sentinels }) {
                guard !Task.isCancelled else { return }
                guard
                    let messages = try? await RESPSubscription.open(
                        sentinel,
                        channels: ["+switch-master"],
                        configuration: configuration.sentinel,
                        group: group
                    )
                else { continue }
                for await message in messages {
                    var parts = message.array
                    if case .push(let elements) = message { parts = elements }
                    guard let parts, parts.count == 3, parts[0].string == "message",
                        parts[2].string?.hasPrefix(prefix) == true
                    else { continue }
                    invalidate(nil)
                    _ = try? await sharedResolve()
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
