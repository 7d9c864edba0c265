import CoreMetrics

/// The metrics the engine reports through swift-metrics. Labels and dimensions never carry
/// tokens, IDs or user data: every dimension has a fixed, small set of values.
struct SessionMetrics: Sendable {
    let created: Counter
    let loaded: Counter
    let updated: Counter
    let touched: Counter
    let regenerated: Counter
    let destroyed: Counter
    let evicted: Counter
    /// `sessionkit_rejected_tokens_total` per ``TokenRejection`` reason.
    private let rejectedTokens: [TokenRejection: Counter]
    /// `sessionkit_active_sessions`: the records a counting store holds, when it is asked;
    /// `nil` for a store that cannot count cheaply, so no series reads a false 0.
    let activeSessions: Gauge?
    /// `sessionkit_store_errors_total` per operation and error type, all created at start so
    /// every series exists at 0 (a series that first appears at 1 shows no `increase()`).
    private let storeErrors: [String: [SessionStoreError.Code: Counter]]
    let droppedWrites: Counter
    let conflicts: Counter
    /// `modify` runs that lost their compare-and-set to another request and ran again.
    let modifyRetries: Counter
    /// `sessionkit_store_operation_duration_seconds` per operation and outcome.
    private let storeDurations: [String: (ok: Timer, error: Timer)]

    /// The store operations the engine times (the names its store-call spans carry too).
    static let storeOperations = [
        "load", "create", "update", "delete", "rotate", "compareAndSet", "increment", "sessions", "deleteSessions", "ping",
        "epoch.bump", "epoch.load", "activeSessions",
    ]

    /// The error types `sessionkit_store_errors_total` counts (a collision is not a failure).
    static let storeErrorCodes: [SessionStoreError.Code] = [.unavailable, .timedOut, .corrupt]

    /// Creates the metrics in `factory`, or in the bootstrapped `MetricsSystem` when `nil`;
    /// `databaseSystem` (`redis`, `postgresql`, …) becomes the `db_system` dimension, and
    /// `countsSessions` (the store adopts `SessionCountingStore`) creates the gauge.
    init(factory: (any MetricsFactory)? = nil, databaseSystem: String? = nil, countsSessions: Bool = false) {
        func counter(_ label: String) -> Counter {
            if let factory { return Counter(label: label, factory: factory) }
            return Counter(label: label)
        }
        func timer(_ operation: String, _ outcome: String) -> Timer {
            let dimensions = [("operation", operation), ("outcome", outcome), ("db_system", databaseSystem ?? "other")]
            let label = "sessionkit_store_operation_duration_seconds"
            if let factory { return Timer(label: label, dimensions: dimensions, factory: factory) }
            return Timer(label: label, dimensions: dimensions)
        }
        storeDurations = Dictionary(uniqueKeysWithValues: Self.storeOperations.map { ($0, (ok: timer($0, "ok"), error: timer($0, "error"))) })
        modifyRetries = counter("sessionkit_modify_retries_total")
        created = counter("sessionkit_sessions_created_total")
        loaded = counter("sessionkit_sessions_loaded_total")
        updated = counter("sessionkit_sessions_updated_total")
        touched = counter("sessionkit_sessions_touched_total")
        regenerated = counter("sessionkit_sessions_regenerated_total")
        destroyed = counter("sessionkit_sessions_destroyed_total")
        evicted = counter("sessionkit_sessions_evicted_total")
        rejectedTokens = Dictionary(
            uniqueKeysWithValues: TokenRejection.allCases.map { reason in
                let dimensions = [("reason", reason.rawValue)]
                let label = "sessionkit_rejected_tokens_total"
                if let factory { return (reason, Counter(label: label, dimensions: dimensions, factory: factory)) }
                return (reason, Counter(label: label, dimensions: dimensions))
            }
        )
        let system = databaseSystem ?? "other"
        storeErrors = Dictionary(
            uniqueKeysWithValues: Self.storeOperations.map { operation in
                let counters = Self.storeErrorCodes.map { code in
                    let dimensions = [("operation", operation), ("error_type", code.description), ("db_system", system)]
                    let label = "sessionkit_store_errors_total"
                    if let factory { return (code, Counter(label: label, dimensions: dimensions, factory: factory)) }
                    return (code, Counter(label: label, dimensions: dimensions))
                }
                return (operation, Dictionary(uniqueKeysWithValues: counters))
            }
        )
        switch (countsSessions, factory) {
        case (false, _): activeSessions = nil
        case (true, let factory?): activeSessions = Gauge(label: "sessionkit_active_sessions", dimensions: [("db_system", system)], factory: factory)
        case (true, nil): activeSessions = Gauge(label: "sessionkit_active_sessions", dimensions: [("db_system", system)])
        }
        droppedWrites = counter("sessionkit_dropped_writes_total")
        conflicts = counter("sessionkit_write_conflicts_total")
    }

    /// Counts a token the engine ignored.
    func rejectedToken(_ reason: TokenRejection) {
        rejectedTokens[reason]?.increment()
    }

    /// Counts a failed store call in `sessionkit_store_errors_total`, the outage counter: per
    /// operation and `error_type` (`unavailable`, `timedOut`, `corrupt`), both from fixed sets.
    func storeFailed(_ operation: String, _ code: SessionStoreError.Code) {
        storeErrors[operation]?[code]?.increment()
    }

    /// Records how long one store call took, and whether it failed.
    func recordStoreCall(_ operation: String, nanoseconds: Int64, failed: Bool) {
        guard let timers = storeDurations[operation] else { return }
        (failed ? timers.error : timers.ok).recordNanoseconds(nanoseconds)
    }
}
