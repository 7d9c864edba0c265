import CoreMetrics

/// The counters the engine reports through swift-metrics. Labels never carry tokens or IDs.
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

    /// Creates the counters in `factory`, or in the bootstrapped `MetricsSystem` when `nil`.
    init(factory: (any MetricsFactory)? = nil) {
        func counter(_ label: String) -> Counter {
            if let factory { return Counter(label: label, factory: factory) }
            return Counter(label: label)
        }
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
}
