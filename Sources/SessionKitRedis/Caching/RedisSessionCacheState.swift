import Foundation
import SessionKit

/// The client-side cache's bookkeeping as a pure value, unit-tested without a server.
///
/// A load that misses first ``beginFill(_:connection:epoch:)`` (a *pending* marker, noted before the
/// read is written), then ``completeFill(_:token:record:bytes:at:)`` with the reply. Anything
/// that says the key may have changed in between (an invalidation, a write through this
/// instance, the end of the reading connection's tracking) removes the marker, and the reply is
/// dropped: a value is only ever kept when nothing said "changed" between its read and its
/// arrival. This is the rule rueidis and redis-py's cache follow; without it a reply read just
/// before a write can be kept after the write's invalidation has already passed.
struct RedisSessionCacheState: Sendable {
    /// One key's state.
    private enum Slot: Sendable {
        /// A read is in flight on `connection`; only the reply of `token` may fill it.
        case pending(token: UInt64, connection: UInt64)
        /// A value read on `connection`, whose tracking will say when it changes.
        case filled(Filled)
    }

    private struct Filled: Sendable {
        let record: SessionRecord
        let connection: UInt64
        let filledAt: Date
        let bytes: Int
    }

    private var slots: [String: Slot] = [:]
    /// Filled keys in the order they were filled (with their fill's token), for eviction;
    /// entries whose key was dropped or refilled since are skipped when they come up.
    private var fillOrder: [(key: String, token: UInt64)] = []
    private var fillOrderStart = 0
    private var tokens: [String: UInt64] = [:]
    private var nextToken: UInt64 = 0

    /// The bytes the filled values take (their own estimate).
    private(set) var bytes = 0
    /// The most bytes the filled values may take.
    let byteBudget: Int
    /// The oldest a value may be and still be served.
    let maxStaleness: TimeInterval

    init(byteBudget: Int, maxStaleness: TimeInterval) {
        self.byteBudget = byteBudget
        self.maxStaleness = maxStaleness
    }

    /// How many keys hold a value.
    private(set) var filledCount = 0

    /// The value of `key` if one is kept and is younger than ``maxStaleness`` at `now`.
    func lookup(_ key: String, at now: Date) -> SessionRecord? {
        guard case .filled(let filled) = slots[key], now.timeIntervalSince(filled.filledAt) < maxStaleness else { return nil }
        return filled.record
    }

    /// Bumped by ``removeAll()``: a read that chose its server before a flush (a failover) must
    /// not fill the cache after it.
    private(set) var epoch: UInt64 = 0

    /// A read of `key` is about to be written on `connection`: returns the token its reply must
    /// present. A newer read of the same key replaces an older one's marker. A read whose
    /// server was chosen in an earlier `epoch` gets a token that never fills (0).
    mutating func beginFill(_ key: String, connection: UInt64, epoch: UInt64? = nil) -> UInt64 {
        remove(key)
        guard epoch == nil || epoch == self.epoch else { return 0 }
        nextToken += 1
        slots[key] = .pending(token: nextToken, connection: connection)
        return nextToken
    }

    /// The reply of the read `token` arrived. Keeps `record` only while the marker is still
    /// there and the value fits the budget (evicting the oldest values first); returns whether
    /// it was kept.
    @discardableResult
    mutating func completeFill(_ key: String, token: UInt64, record: SessionRecord, bytes size: Int, at now: Date) -> Bool {
        guard case .pending(token, let connection) = slots[key], size <= byteBudget else {
            if case .pending(token, _) = slots[key] { slots[key] = nil }
            return false
        }
        while bytes + size > byteBudget, evictOldest() {}
        slots[key] = .filled(Filled(record: record, connection: connection, filledAt: now, bytes: size))
        tokens[key] = token
        bytes += size
        filledCount += 1
        fillOrder.append((key, token))
        // Values dropped by invalidations leave their place in the order behind: compact once
        // those outnumber the live ones, so the order stays within twice the values kept.
        if fillOrder.count - fillOrderStart > 2 * filledCount + 64 {
            fillOrder = fillOrder[fillOrderStart...].filter { tokens[$0.key] == $0.token }
            fillOrderStart = 0
        }
        return true
    }

    /// `key` may have changed (an invalidation, or a write through this instance): forget its
    /// value and any read in flight.
    mutating func invalidate(_ key: String) {
        remove(key)
    }

    /// Everything read on `connection` may have changed (its tracking ended, or the server
    /// flushed): forget those values and reads.
    mutating func invalidate(connection: UInt64) {
        let doomed = slots.compactMap { key, slot -> String? in
            switch slot {
            case .pending(_, let reader): return reader == connection ? key : nil
            case .filled(let filled): return filled.connection == connection ? key : nil
            }
        }
        for key in doomed { remove(key) }
    }

    /// Forgets everything (a flush, or a move to another server) and starts a new epoch. Tokens
    /// keep counting: a reply in flight from before must never match a marker noted after.
    mutating func removeAll() {
        var fresh = RedisSessionCacheState(byteBudget: byteBudget, maxStaleness: maxStaleness)
        fresh.nextToken = nextToken
        fresh.epoch = epoch &+ 1
        self = fresh
    }

    private mutating func remove(_ key: String) {
        if case .filled(let filled) = slots[key] {
            bytes -= filled.bytes
            filledCount -= 1
        }
        slots[key] = nil
        tokens[key] = nil
    }

    /// Evicts the oldest filled value; `false` when none is left.
    private mutating func evictOldest() -> Bool {
        while fillOrderStart < fillOrder.count {
            let (key, token) = fillOrder[fillOrderStart]
            fillOrderStart += 1
            if tokens[key] == token, case .filled = slots[key] {
                remove(key)
                return true
            }
        }
        return false
    }
}
