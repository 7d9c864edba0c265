import CoreMetrics
/// The readiness probe: whether the store behind the sessions answers.
extension SessionEngine {
    /// Checks that the session store answers, for a readiness probe (`GET /readyz`).
    ///
    /// Pings the store (for sealed cookies, the revocation store) when it adopts
    /// ``PingableSessionStore``, within ``SessionConfiguration/storeTimeout``, and throws
    /// ``SessionError/storeUnavailable(_:)`` when it does not answer: answer 503 with the
    /// error's ``SessionError/responseFields(retryAfterSeconds:)``, so a load balancer stops
    /// sending traffic until the store is back. Returns at once when there is nothing to ask
    /// (sealed cookies without a revocation store, a store without the capability).
    ///
    /// Keep it out of the liveness probe (`/healthz`): an unreachable store is no reason to
    /// restart the app, which would only add a cold start to the outage.
    public func checkReadiness() async throws {
        let store: (any SessionStore)?
        switch backend {
        case .store(let sessions): store = sessions
        case .sealed(_, let epochs): store = epochs?.store
        }
        guard let pingable = store as? any PingableSessionStore else { return }
        try await storeCall("ping") { try await pingable.ping() }
    }
}

/// The active-sessions gauge.
extension SessionEngine {
    /// Sets the `sessionkit_active_sessions` gauge to the store's count, for a store that
    /// adopts ``SessionCountingStore``, and returns the count (`nil`: the store cannot count
    /// cheaply, or the count failed, which is logged and counted like any store failure).
    ///
    /// Call it where the metrics are read, before a scrape (the demo's `GET /metrics` does), or
    /// on a timer: a gauge set on every request would cost the hot path for nothing.
    @discardableResult
    public func recordActiveSessions() async -> Int? {
        guard case .store(let store) = backend, let counting = store as? any SessionCountingStore else { return nil }
        guard let count = try? await storeCall("activeSessions", { try await counting.sessionCount() }) else { return nil }
        metrics.activeSessions?.record(count)
        return count
    }
}
