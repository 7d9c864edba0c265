import Logging
import PostgresNIO
import ServiceLifecycle
import SessionKit

/// Connection pools to a PostgreSQL primary and its standbys that always send to the host
/// that takes writes, and move to the new primary after a promotion without a restart.
///
/// postgres-nio's `PostgresClient` talks to one host. This client runs one `PostgresClient` per
/// host of a multi-host URL (libpq's `postgres://u:p@h1:p1,h2:p2/db?target_session_attrs=read-write`)
/// and finds the writable one the way libpq does for `target_session_attrs=read-write`: it opens
/// a probe connection to every host at once and asks
/// `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`.
///
/// It asks again
/// - when a request on the primary fails in a way that says it may have stopped being the
///   primary (the connection closed or failed, SQLSTATE `25006` read-only transaction, `57P01`–`57P03`
///   shutting down or starting up, class `08` connection exceptions), and
/// - every ``PostgresFailoverConfiguration/recheckInterval``, which catches a switchover that
///   demotes the old primary without closing its connections.
///
/// While no host takes writes (between a primary's loss and a standby's promotion) requests fail
/// at once with `SessionStoreError.unavailable`, which the engine answers with 503 and
/// `Retry-After`; nothing waits for the store timeout. Run it as a service:
/// ```swift
/// let primaries = try PostgresPrimaryClient(configuration: try PostgresConnectionURL.failoverConfiguration(from: url))
/// let store = PostgresSessionStore(primaryClient: primaries)
/// // run `primaries` in your ServiceGroup, then: try await store.migrate()
/// ```
public final class PostgresPrimaryClient: Service, Sendable {
    /// The hosts and settings.
    public let configuration: PostgresFailoverConfiguration
    /// One pool per host, in URL order.
    let pools: [PostgresClient]
    private let probeConfigurations: [PostgresConnection.Configuration]
    private let state = LockedValue(State())
    private let logger: Logger

    private struct State: Sendable {
        var selection = PostgresPrimarySelection()
        var round: Task<Int?, Never>?
    }

    /// Creates the pools (they connect once ``run()`` runs). Throws when the configuration names
    /// no host or its TLS settings cannot be turned into a TLS context.
    public init(configuration: PostgresFailoverConfiguration, logger: Logger = Logger(label: "SessionKit.Postgres")) throws {
        guard !configuration.hosts.isEmpty else { throw PostgresURLError("the configuration names no PostgreSQL host") }
        self.configuration = configuration
        self.logger = logger
        pools = configuration.hosts.map { PostgresClient(configuration: configuration.clientConfiguration(for: $0), backgroundLogger: logger) }
        probeConfigurations = try configuration.hosts.map { try configuration.probeConfiguration(for: $0) }
    }

    /// The host requests go to now, or `nil` while none is known to take writes.
    public var currentPrimary: PostgresFailoverConfiguration.Host? {
        state.withLock { $0.selection.primary.map { configuration.hosts[$0] } }
    }

    /// Runs every host's pool and the periodic check until cancelled (or, in a `ServiceGroup`,
    /// until graceful shutdown).
    public func run() async {
        await withDiscardingTaskGroup { group in
            for pool in pools {
                group.addTask { await pool.run() }
            }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    await self.recheckPeriodically()
                }
            }
        }
    }

    private func recheckPeriodically() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.recheckInterval)
            } catch {
                return
            }
            _ = await currentRound().value
        }
    }

    /// Runs `body` with the primary's pool. A failure that says the host may have stopped being
    /// the primary makes the next request ask the hosts again; the failure itself is rethrown.
    package func withPrimary<Result>(_ body: (PostgresClient) async throws -> Result) async throws -> Result {
        let (index, generation) = try await primary()
        do {
            return try await body(pools[index])
        } catch {
            if Self.indicatesLostPrimary(error) {
                if state.withLock({ $0.selection.primaryFailed(generation: generation) }) {
                    logger.warning("PostgreSQL primary may have changed; asking every host", metadata: ["host": "\(configuration.hosts[index])"])
                }
            }
            throw error
        }
    }

    private func primary() async throws -> (index: Int, generation: UInt64) {
        // At most two passes: a probe round, then the route it left.
        for pass in 0..<2 {
            switch state.withLock({ $0.selection.route(at: .now) }) {
            case .send(let index, let generation):
                return (index, generation)
            case .probe where pass == 0:
                _ = await currentRound().value
            case .probe, .unavailable:
                break
            }
        }
        throw SessionStoreError.unavailable(reason: "no PostgreSQL host accepts writes (\(configuration.hosts.count) asked)")
    }

    /// The probe round in flight, or a new one: concurrent requests share one round.
    private func currentRound() -> Task<Int?, Never> {
        state.withLock { state in
            if let round = state.round { return round }
            let round = Task { await self.probeRound() }
            state.round = round
            return round
        }
    }

    private func probeRound() async -> Int? {
        let answers = await withTaskGroup(of: (Int, PostgresPrimarySelection.ProbeAnswer).self) { group in
            for index in probeConfigurations.indices {
                group.addTask { (index, await self.probe(index)) }
            }
            var answers = [PostgresPrimarySelection.ProbeAnswer](repeating: .unreachable, count: probeConfigurations.count)
            for await (index, answer) in group { answers[index] = answer }
            return answers
        }
        let (before, chosen) = state.withLock { state in
            let before = state.selection.primary
            let chosen = state.selection.probed(answers, at: .now, retryInterval: configuration.noPrimaryRetryInterval)
            state.round = nil
            return (before, chosen)
        }
        if chosen != before {
            if let chosen {
                logger.notice("PostgreSQL primary selected", metadata: ["host": "\(configuration.hosts[chosen])"])
            } else {
                logger.warning("no PostgreSQL host accepts writes", metadata: ["answers": "\(answers)"])
            }
        }
        return chosen
    }

    /// One probe, bounded by the probe timeout even if the server accepts and then stalls: the
    /// first of the answer and the timeout is returned at once (a probe that stalls is cancelled,
    /// and never holds up its round); an answer cancels the timer.
    private func probe(_ index: Int) async -> PostgresPrimarySelection.ProbeAnswer {
        let timeout = configuration.probeTimeout
        let answered = LockedValue(false)
        return await withCheckedContinuation { continuation in
            let claim: @Sendable (PostgresPrimarySelection.ProbeAnswer) -> Void = { answer in
                let first = answered.withLock { done -> Bool in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: answer) }
            }
            let ask = Task { await self.askHost(index) }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                claim(.unreachable)
                ask.cancel()
            }
            Task {
                claim(await ask.value)
                timer.cancel()
            }
        }
    }

    private func askHost(_ index: Int) async -> PostgresPrimarySelection.ProbeAnswer {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: probeConfigurations[index], id: index, logger: logger)
        } catch {
            return .unreachable
        }
        let answer = await withTaskCancellationHandler {
            await Self.askRecoveryState(connection, logger: logger)
        } onCancel: {
            // A stalled server: closing the connection ends the query in flight.
            connection.close().whenComplete { _ in }
        }
        try? await connection.close()
        return answer
    }

    private static func askRecoveryState(_ connection: PostgresConnection, logger: Logger) async -> PostgresPrimarySelection.ProbeAnswer {
        do {
            let rows = try await connection.query(
                "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')",
                logger: logger
            )
            for try await (inRecovery, readOnly) in rows.decode((Bool, String).self) {
                return !inRecovery && readOnly == "off" ? .writable : .readOnly
            }
            return .unreachable
        } catch {
            return .unreachable
        }
    }

    /// Whether `error` says the host may have stopped being the writable primary.
    static func indicatesLostPrimary(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError, error.rollbackError]
                .contains { $0.map(indicatesLostPrimary) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown:
            return true
        case .server:
            guard let state = error.serverInfo?[.sqlState] else { return false }
            return state == "25006" || state.hasPrefix("57P") || state.hasPrefix("08")
        default:
            return false
        }
    }
}
