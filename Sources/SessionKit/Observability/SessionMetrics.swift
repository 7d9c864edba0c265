import CoreMetrics

/// The counters the engine reports through swift-metrics. Labels never carry tokens or IDs.
struct SessionMetrics: Sendable {
    let created = Counter(label: "sessionkit_sessions_created_total")
    let loaded = Counter(label: "sessionkit_sessions_loaded_total")
    let updated = Counter(label: "sessionkit_sessions_updated_total")
    let touched = Counter(label: "sessionkit_sessions_touched_total")
    let regenerated = Counter(label: "sessionkit_sessions_regenerated_total")
    let destroyed = Counter(label: "sessionkit_sessions_destroyed_total")
    let evicted = Counter(label: "sessionkit_sessions_evicted_total")
    let storeErrors = Counter(label: "sessionkit_store_errors_total")
    let rejectedTokens = Counter(label: "sessionkit_rejected_tokens_total")
    let droppedWrites = Counter(label: "sessionkit_dropped_writes_total")
    let conflicts = Counter(label: "sessionkit_write_conflicts_total")
}
