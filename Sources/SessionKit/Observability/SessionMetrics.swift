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
    let storeErrors: Counter
    let rejectedTokens: Counter
    let droppedWrites: Counter
    let conflicts: Counter
    /// `modify` runs that lost their compare-and-set to another request and ran again.
    let modifyRetries: Counter
    /// `sessionkit_store_operation_duration_seconds` per operation and outcome.
    private let storeDurations: [String: (ok: Timer, error: Timer)]

    /// The store operations the engine times (the names its store-call spans carry too).
    static let storeOperations = [
        "load", "create", "update", "delete", "rotate", "compareAndSet", "increment", "sessions", "deleteSessions", "ping",
        "epoch.bump", "epoch.load",
    ]

    /// Creates the metrics in `factory`, or in the bootstrapped `MetricsSystem` when `nil`;
    /// `databaseSystem` (`redis`, `postgresql`, …) becomes the timers' `db_system` dimension.
    init(factory: (any MetricsFactory)? = nil, databaseSystem: String? = nil) {
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
        storeErrors = counter("sessionkit_store_errors_total")
        rejectedTokens = counter("sessionkit_rejected_tokens_total")
        droppedWrites = counter("sessionkit_dropped_writes_total")
        conflicts = counter("sessionkit_write_conflicts_total")
    }

    /// Records how long one store call took, and whether it failed.
    func recordStoreCall(_ operation: String, nanoseconds: Int64, failed: Bool) {
        guard let timers = storeDurations[operation] else { return }
        (failed ? timers.error : timers.ok).recordNanoseconds(nanoseconds)
    }
}
