import Foundation
import SessionKit
import SessionKitRESP
import Synchronization

/// Server-assisted client-side caching of session loads (Redis 6+ / Valkey `CLIENT TRACKING`).
///
/// Give one to ``RedisSessionStore/init(configuration:cache:keyPrefix:durability:clock:)``: its
/// pool's connections then speak RESP3 with `CLIENT TRACKING ON OPTIN`, and each load that
/// misses sends `CLIENT CACHING YES` + `HGETALL` together, so the server remembers that this
/// connection read that session and pushes an invalidation on the same connection when any
/// instance changes it, it expires or it is evicted. The next load of a session read recently
/// is then answered from memory, without a round trip.
///
/// The guarantee: a value is served only while nothing has said it changed and it is younger
/// than ``Configuration/maxStaleness``. A write through this instance drops its own entry at
/// once (before and after the write), so this instance always reads its own writes; a write
/// through another instance is seen once its invalidation arrives, normally within a round trip.
/// Entries read on a connection that closes are dropped with it (the server stops tracking
/// what it read), as is everything when the server flushes. OPTIN rather than the default mode:
/// the server remembers only the keys this cache asked it to, not every key the store's scripts
/// touch.
public final class RedisSessionCache: Sendable {
    /// Limits of the cache.
    public struct Configuration: Sendable, Equatable {
        /// The oldest a cached session may be and still be served, whatever the server said
        /// (default 10 seconds): a bound even if an invalidation were lost.
        public var maxStaleness: Duration
        /// The most bytes the cached sessions may take, by their own estimate (default 64 MiB);
        /// the oldest are evicted first.
        public var byteBudget: Int

        /// Creates limits.
        public init(maxStaleness: Duration = .seconds(10), byteBudget: Int = 64 << 20) {
            self.maxStaleness = maxStaleness
            self.byteBudget = byteBudget
        }
    }

    /// The limits this cache keeps.
    public let configuration: Configuration
    private let state: LockedValue<RedisSessionCacheState>
    private let hitCount = Atomic<Int>(0)
    private let missCount = Atomic<Int>(0)
    private let invalidationCount = Atomic<Int>(0)

    /// Creates an empty cache.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let staleness = configuration.maxStaleness.components
        state = LockedValue(
            RedisSessionCacheState(
                byteBudget: configuration.byteBudget,
                maxStaleness: Double(staleness.seconds) + Double(staleness.attoseconds) / 1e18
            )
        )
    }

    /// Loads answered from memory.
    public var hits: Int { hitCount.load(ordering: .relaxed) }
    /// Loads that went to the server.
    public var misses: Int { missCount.load(ordering: .relaxed) }
    /// Invalidation messages received from the server.
    public var invalidations: Int { invalidationCount.load(ordering: .relaxed) }
    /// How many sessions are cached.
    public var count: Int { state.withLock { $0.filledCount } }
    /// The bytes the cached sessions take, by the cache's estimate.
    public var bytes: Int { state.withLock { $0.bytes } }

    /// The live record kept for `key`, counted as a hit; `nil` (not counted) when none is kept,
    /// it is older than ``Configuration/maxStaleness``, or the session itself has expired (the
    /// entry is then dropped).
    func hit(_ key: String, at now: Date) -> SessionRecord? {
        let record = state.withLock { state -> SessionRecord? in
            guard let record = state.lookup(key, at: now) else { return nil }
            guard !record.isExpired(at: now) else {
                state.invalidate(key)
                return nil
            }
            return record
        }
        if record != nil { hitCount.add(1, ordering: .relaxed) }
        return record
    }

    /// Counts a load that goes to the server.
    func countMiss() {
        missCount.add(1, ordering: .relaxed)
    }

    /// The current epoch, to read before choosing the server a load goes to.
    var epoch: UInt64 { state.withLock { $0.epoch } }

    func beginFill(_ key: String, connection: UInt64, epoch: UInt64) -> UInt64 {
        state.withLock { $0.beginFill(key, connection: connection, epoch: epoch) }
    }

    func completeFill(_ key: String, token: UInt64, record: SessionRecord, at now: Date) {
        let size = Self.estimatedBytes(of: record, key: key)
        state.withLock { _ = $0.completeFill(key, token: token, record: record, bytes: size, at: now) }
    }

    /// Drops `keys` (a write through this instance).
    func drop(_ keys: some Sequence<String>) {
        state.withLock { state in
            for key in keys { state.invalidate(key) }
        }
    }

    /// The record's bytes plus a fixed allowance for the entry and its bookkeeping: 512 B, from
    /// the measured 556 B of resident memory per cached session with a one-integer payload
    /// and a 55-byte key (`scripts/bench_cache_memory.py`).
    static func estimatedBytes(of record: SessionRecord, key: String) -> Int {
        let payload = record.data.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        return 512 + key.utf8.count + payload + (record.userID?.utf8.count ?? 0) + (record.userAgent?.utf8.count ?? 0)
    }
}

extension RedisSessionCache: RESPTrackingObserver {
    package func invalidated(_ invalidation: RESPInvalidation, connection: UInt64) {
        invalidationCount.add(1, ordering: .relaxed)
        state.withLock { state in
            switch invalidation {
            case .keys(let keys):
                for key in keys { state.invalidate(key) }
            case .everything:
                state.removeAll()
            }
        }
    }

    package func trackingEnded(connection: UInt64) {
        state.withLock { $0.invalidate(connection: connection) }
    }

    package func serverChanged() {
        state.withLock { $0.removeAll() }
    }
}
