/// Which host a ``PostgresPrimaryClient`` sends to, as a pure value: the client feeds it what
/// happened (a request's failure, a probe round's answers) and asks it what to do. No I/O, so
/// every transition is unit-tested.
struct PostgresPrimarySelection: Sendable {
    /// What one host answered to a probe.
    enum ProbeAnswer: Sendable, Equatable {
        /// Not in recovery and `transaction_read_only` is off: it takes writes.
        case writable
        /// A standby, or a primary that refuses writes.
        case readOnly
        /// No connection, no log-in or no answer within the probe timeout.
        case unreachable
    }

    /// What a request should do next.
    enum Route: Sendable, Equatable {
        /// Send to host `index`; report a failure with `generation`.
        case send(index: Int, generation: UInt64)
        /// No host is known to take writes: ask them (or wait for the round in flight).
        case probe
        /// A probe round just found no writable host: fail at once with 503.
        case unavailable
    }

    /// The host requests go to, if one is known.
    private(set) var primary: Int?
    /// Counts changes of `primary`, so a failure seen on an earlier choice cannot discard a newer one.
    private(set) var generation: UInt64 = 0
    /// Until when requests fail fast after a round that found no writable host.
    private(set) var noPrimaryUntil: ContinuousClock.Instant?

    /// Where a request goes at `now`.
    func route(at now: ContinuousClock.Instant) -> Route {
        if let primary { return .send(index: primary, generation: generation) }
        if let until = noPrimaryUntil, now < until { return .unavailable }
        return .probe
    }

    /// A request sent with `generation` failed in a way that says the host may no longer be
    /// the writable primary (its connection closed, it refused a write as read-only, it is
    /// shutting down). Forgets the primary unless a newer choice was already made, and returns
    /// whether it did.
    @discardableResult
    mutating func primaryFailed(generation failed: UInt64) -> Bool {
        guard failed == generation, primary != nil else { return false }
        primary = nil
        generation += 1
        return true
    }

    /// A probe round ended with `answers` (one per host, in URL order). Keeps the current
    /// primary while it still answers writable (two writable hosts happen when an old primary
    /// returns without being made a standby; the one already in use has taken the writes since),
    /// otherwise takes the first writable host in URL order; with none, fails fast until
    /// `now + retryInterval`. Returns the chosen host.
    @discardableResult
    mutating func probed(
        _ answers: [ProbeAnswer],
        at now: ContinuousClock.Instant,
        retryInterval: Duration
    ) -> Int? {
        let chosen: Int?
        if let primary, answers.indices.contains(primary), answers[primary] == .writable {
            chosen = primary
        } else {
            chosen = answers.firstIndex(of: .writable)
        }
        if chosen != primary {
            primary = chosen
            generation += 1
        }
        noPrimaryUntil = chosen == nil ? now + retryInterval : nil
        return chosen
    }
}
