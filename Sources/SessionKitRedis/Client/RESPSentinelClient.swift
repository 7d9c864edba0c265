import NIOCore
import NIOPosix
import SessionKit
import SessionKitRESP

/// A client for a Redis primary that Redis Sentinel watches: it asks the Sentinels which
/// server is the primary, confirms it with `ROLE`, and sends every command there.
///
/// Discovery follows the Sentinel client specification, with one strengthening:
/// - Every Sentinel is asked at once (`SENTINEL MASTER`), and the address with the highest
///   configuration epoch wins: during a failover the Sentinels disagree for a few seconds, and
///   the one that ran the failover knows first).
/// - That address must answer `ROLE` with `master`; otherwise the next candidate is tried, and
///   the call fails with `RESPClientError.noPrimary(_:)` (nothing sent) when none does.
/// - The Sentinels are asked again after a command could not be sent or its connection broke,
///   after a `READONLY` reply (the primary was demoted under us), after a write was not
///   acknowledged, when the confirmation is older than
///   ``RESPSentinelConfiguration/verifyInterval``; and a `+switch-master` event moves the
///   client to the new address at once (``RESPSentinelConfiguration/followsSwitchMaster``).
/// - Each of these bumps a generation, and a resolution that began before the latest one
///   never overwrites what the client learned since.
///
/// Commands are never sent to a replica: reads included, since a replica can still serve a
/// session that a sign-out already deleted on the primary. A command is tried again only if
/// it certainly did not run (it could not be sent, or the server refused it with `READONLY`).
public final class RESPSentinelClient: RESPCommandSending {
    /// The configuration the client connects with.
    public let configuration: RESPSentinelConfiguration
    private let group: any EventLoopGroup
    private let state: LockedValue<SentinelState>
    /// The client-side cache hearing the data connections, when there is one.
    private let tracking: (any RESPTrackingObserver)?

    /// The primary in use: where it is, its pool, and how many replicas the Sentinels know for it.
    struct Primary: Sendable {
        var address: RESPNodeAddress
        var pool: RESPConnectionPool
        var replicas: Int
    }

    struct SentinelState {
        var sentinels: [RESPNodeAddress]
        var primary: Primary?
        var confirmedAt: ContinuousClock.Instant?
        /// Bumped by every event that makes the current primary doubtful.
        var generation: UInt64 = 0
        var resolving: (task: Task<Primary, any Error>, generation: UInt64)?
        /// One pool per data node ever used, kept (a demoted primary's pool may still carry
        /// requests in flight) and closed with the client.
        var pools: [RESPNodeAddress: RESPConnectionPool] = [:]
        var sentinelPools: [RESPNodeAddress: RESPConnectionPool] = [:]
        var watcher: Task<Void, Never>?
        var subscribed = false
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
        self.tracking = nil
    }

    /// Creates a client whose data connections track what they read for `tracking` (RESP3,
    /// `CLIENT TRACKING ON OPTIN`); every move to another primary tells it
    /// ``RESPTrackingObserver/serverChanged()``.
    package init(
        configuration: RESPSentinelConfiguration,
        tracking: any RESPTrackingObserver,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(RESPClientError) {
        guard !configuration.sentinels.isEmpty else { throw .invalidURL("Sentinel needs at least one Sentinel address") }
        guard !configuration.primaryName.isEmpty else { throw .invalidURL("Sentinel needs the primary's name") }
        self.configuration = configuration
        self.group = group
        self.state = LockedValue(SentinelState(sentinels: configuration.sentinels))
        self.tracking = tracking
    }

    /// `true`: one server holds every key.
    public var allowsCrossSlotKeys: Bool { true }

    /// The primary's address as last confirmed, or `nil` before first use and while none is.
    public var primaryAddress: RESPNodeAddress? { state.withLock { $0.confirmedAt == nil ? nil : $0.primary?.address } }

    /// Whether a subscription to a Sentinel's `+switch-master` channel is currently confirmed.
    public var isFollowingSwitchMaster: Bool { state.withLock { $0.subscribed } }

    /// Sends `commands` to the current primary.
    public func send(_ commands: [RESPCommand], touching key: String?) async throws -> [RESPReply] {
        try await route(commands) { primary, batch in try await primary.pool.send(batch) }
    }

    /// Sends `commands` to the current primary, followed by `WAIT` there (with
    /// `onlyIfReplicated`, only when the Sentinels know a replica of it).
    public func sendAcknowledged(
        _ commands: [RESPCommand],
        touching key: String?,
        replicas: Int,
        timeout: Duration,
        onlyIfReplicated: Bool
    ) async throws -> [RESPReply] {
        try await route(commands) { primary, batch in
            if onlyIfReplicated, primary.replicas == 0 { return try await primary.pool.send(batch) }
            return try await primary.pool.sendAcknowledged(batch, replicas: replicas, timeout: timeout)
        }
    }

    /// Sends `commands` on a tracking connection of the current primary (see
    /// ``RESPTrackedSending``). A batch is never split: a refused command fails the call, so a
    /// read is never resent without the `CLIENT CACHING YES` before it.
    package func sendTracked(_ commands: [RESPCommand], beforeSending: (UInt64) -> Void) async throws -> [RESPReply] {
        try await route(commands) { primary, batch in
            guard batch.count == commands.count else {
                throw RESPClientError.unexpectedReply("a tracked read was refused by the server (READONLY)")
            }
            return try await primary.pool.sendTracked(batch, beforeSending: beforeSending)
        }
    }

    /// The replicas the Sentinels knew for the primary when it was last confirmed (`nil`
    /// before the first confirmation).
    public var knownReplicas: Int? { state.withLock { $0.primary?.replicas } }

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
        let (pools, watcher, resolving) = state.withLock { state in
            state.closed = true
            defer {
                state.primary = nil
                state.confirmedAt = nil
                state.pools = [:]
                state.sentinelPools = [:]
                state.watcher = nil
                state.resolving = nil
            }
            return (Array(state.pools.values) + Array(state.sentinelPools.values), state.watcher, state.resolving?.task)
        }
        watcher?.cancel()
        resolving?.cancel()
        _ = try? await resolving?.value
        for pool in pools { await pool.close() }
    }

    // MARK: Sending

    private func route(
        _ commands: [RESPCommand],
        sending: (Primary, [RESPCommand]) async throws -> [RESPReply]
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
                    answered = try await sending(primary, pending.map { commands[$0] })
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
    /// Only the first doubt about a confirmed primary counts, so a burst of failures starts
    /// one resolution, not one each.
    private func invalidate(_ address: RESPNodeAddress?) {
        state.withLock { state in
            guard address == nil || state.primary?.address == address, state.confirmedAt != nil || address == nil else { return }
            state.confirmedAt = nil
            state.generation &+= 1
            state.resolving = nil
        }
    }

    private func currentPrimary() async throws -> Primary {
        let (primary, confirmedAt, closed) = state.withLock { ($0.primary, $0.confirmedAt, $0.closed) }
        guard !closed else { throw RESPClientError.connectionClosed(reason: "the client was closed") }
        if let primary, let confirmedAt, ContinuousClock.now - confirmedAt < configuration.verifyInterval { return primary }
        return try await sharedResolve(periodicCheckOf: confirmedAt == nil ? nil : primary)
    }

    /// Asks the Sentinels; concurrent callers of one generation share one resolution, whose
    /// result is stored only if no newer doubt or event came meanwhile.
    ///
    /// `periodicCheckOf`: the confirmed primary whose confirmation merely aged. If no Sentinel
    /// answers at all, it is kept (renewed) rather than failing every call during a Sentinel
    /// outage; if the Sentinels name another address, that address is used or the call fails.
    private func sharedResolve(periodicCheckOf current: Primary?) async throws -> Primary {
        // Off the per-request path: the first call of a client always resolves.
        startWatchingIfNeeded()
        let (task, generation) = state.withLock { state -> (Task<Primary, any Error>, UInt64) in
            if let running = state.resolving, running.generation == state.generation { return running }
            let generation = state.generation
            let task = Task { try await self.resolve(generation: generation) }
            state.resolving = (task, generation)
            return (task, generation)
        }
        do {
            return try await task.value
        } catch let error as RESPClientError where error.code == .noPrimary && error.message.hasPrefix(Self.noSentinelAnswered) {
            guard let current else { throw error }
            state.withLock { state in
                if state.generation == generation, state.primary?.address == current.address { state.confirmedAt = .now }
            }
            return current
        }
    }

    private static let noSentinelAnswered = "no Sentinel answered"

    private func resolve(generation: UInt64) async throws -> Primary {
        let sentinels = state.withLock { $0.sentinels }
        let answers = await withTaskGroup(of: (RESPNodeAddress, Result<RESPReply, any Error>).self) { group in
            for sentinel in sentinels {
                group.addTask {
                    do {
                        let reply = try await self.sentinelPool(sentinel).send(RESPCommand("SENTINEL", ["MASTER", self.configuration.primaryName]))
                        return (sentinel, .success(reply))
                    } catch {
                        return (sentinel, .failure(error))
                    }
                }
            }
            var answers: [(RESPNodeAddress, Result<RESPReply, any Error>)] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        var views: [(sentinel: RESPNodeAddress, view: RESPSentinelView)] = []
        var reasons: [String] = []
        for (sentinel, result) in answers {
            switch result {
            case .success(let reply):
                if let view = RESPSentinelView(reply: reply) {
                    views.append((sentinel, view))
                } else {
                    reasons.append("\(sentinel) does not know \(configuration.primaryName)")
                }
            case .failure(let error):
                reasons.append("\(sentinel): \(error)")
            }
        }
        guard !views.isEmpty else {
            throw RESPClientError.noPrimary("\(Self.noSentinelAnswered): " + reasons.joined(separator: "; "))
        }
        for candidate in RESPSentinelView.ranked(views.map(\.view)) {
            let pool = dataPool(candidate.address)
            do {
                let role = try await pool.send(RESPCommand("ROLE"))
                guard role.array?.first?.string == "master" else {
                    reasons.append("\(candidate.address) is not a primary (yet)")
                    continue
                }
            } catch {
                reasons.append("\(candidate.address): \(error)")
                continue
            }
            let primary = Primary(address: candidate.address, pool: pool, replicas: candidate.replicas)
            let answering = views.first { $0.view.address == candidate.address }?.sentinel
            store(primary, generation: generation, answeredBy: answering)
            return primary
        }
        throw RESPClientError.noPrimary(reasons.joined(separator: "; "))
    }

    /// Stores a confirmed primary unless the generation moved on since the resolution began.
    private func store(_ primary: Primary, generation: UInt64?, answeredBy sentinel: RESPNodeAddress?) {
        let moved = state.withLock { state -> Bool in
            guard !state.closed, generation == nil || generation == state.generation else { return false }
            let moved = state.primary.map { $0.address != primary.address } ?? false
            state.primary = primary
            state.confirmedAt = .now
            if generation == nil { state.generation &+= 1 }
            if let sentinel {
                state.sentinels.removeAll { $0 == sentinel }
                state.sentinels.insert(sentinel, at: 0)
            }
            return moved
        }
        // After the new primary is in place: a cached load that chose the old one before this
        // point is refused by the cache's new epoch, one that chooses now gets the new one.
        if moved { tracking?.serverChanged() }
    }

    private func dataPool(_ address: RESPNodeAddress) -> RESPConnectionPool {
        // Only data connections track reads: a Sentinel holds no sessions.
        pool(address, in: \.pools, configuration.node, tracking: tracking)
    }

    private func sentinelPool(_ address: RESPNodeAddress) -> RESPConnectionPool {
        pool(address, in: \.sentinelPools, configuration.sentinel, tracking: nil)
    }

    /// The pool for `address` kept at `pools`, made from `settings` on first use (its
    /// connections tracking reads for `tracking`, when given).
    private func pool(
        _ address: RESPNodeAddress,
        in pools: WritableKeyPath<SentinelState, [RESPNodeAddress: RESPConnectionPool]>,
        _ settings: RESPClientConfiguration,
        tracking: (any RESPTrackingObserver)?
    ) -> RESPConnectionPool {
        state.withLock { state in
            if let pool = state[keyPath: pools][address] { return pool }
            let pool =
                if let tracking {
                    RESPConnectionPool(configuration: settings.reaching(address), tracking: tracking, group: group)
                } else {
                    RESPConnectionPool(configuration: settings.reaching(address), group: group)
                }
            state[keyPath: pools][address] = pool
            return pool
        }
    }

    // MARK: +switch-master

    private func startWatchingIfNeeded() {
        guard configuration.followsSwitchMaster else { return }
        state.withLock { state in
            guard state.watcher == nil, !state.closed else { return }
            // The task holds the client only while it handles one subscription, so a client
            // dropped without `close()` stops following at the next reconnect.
            state.watcher = Task { [weak self] in
                while !Task.isCancelled {
                    guard let client = self else { return }
                    await client.followOneSubscription()
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Subscribes to `+switch-master` on the first Sentinel that accepts, and follows its
    /// events until the connection ends: an event naming this primary moves the client to the
    /// new address (once it answers `ROLE` as `master`).
    private func followOneSubscription() async {
        let prefix = configuration.primaryName + " "
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
            defer { state.withLock { $0.subscribed = false } }
            for await message in messages {
                var parts = message.array
                if case .push(let elements) = message { parts = elements }
                // An error (a refused AUTH or SUBSCRIBE) ends this subscription; the next try follows.
                guard message.serverError == nil else { break }
                guard let parts else { continue }
                if parts.count == 3, parts[0].string == "subscribe" {
                    state.withLock { $0.subscribed = true }
                    continue
                }
                guard parts.count == 3, parts[0].string == "message", let payload = parts[2].string, payload.hasPrefix(prefix) else { continue }
                let fields = payload.split(separator: " ")
                guard fields.count == 5, let port = Int(fields[4]) else { continue }
                await adopt(RESPNodeAddress(host: String(fields[3]), port: port))
            }
            return
        }
    }

    /// Moves to `address`, which a Sentinel just announced as the new primary.
    private func adopt(_ address: RESPNodeAddress) async {
        let pool = dataPool(address)
        guard let role = try? await pool.send(RESPCommand("ROLE")), role.array?.first?.string == "master" else {
            invalidate(nil)
            return
        }
        let replicas = state.withLock { $0.primary?.replicas ?? 0 }
        store(Primary(address: address, pool: pool, replicas: replicas), generation: nil, answeredBy: nil)
    }
}
