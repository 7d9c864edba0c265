import Logging
import ServiceLifecycle

/// A store that can delete its expired records in bounded batches.
public protocol SweepableSessionStore: SessionStore {
    /// Deletes up to `batchSize` expired records and returns how many it deleted.
    func sweepExpired(batchSize: Int) async throws -> Int
}

/// A background service that removes expired sessions, for stores without their own TTL
/// (SQLite, PostgreSQL). Add it to your `ServiceGroup` (Hummingbird:
/// `app.addServices(sweeper)`).
///
/// Each round deletes expired rows in batches of `batchSize` until a batch comes back short,
/// then waits `interval`. A failed round is logged and retried next round; it never stops
/// the service. Records are invisible from their expiry instant on whether or not the sweeper
/// has run: sweeping only reclaims space.
public struct SessionSweeper: Service {
    /// The store being swept.
    public let store: any SweepableSessionStore
    /// The pause between rounds (default 60 seconds).
    public let interval: Duration
    /// The most rows deleted per statement (default 1000).
    public let batchSize: Int
    let logger: Logger

    /// Creates a sweeper.
    public init(
        store: any SweepableSessionStore,
        interval: Duration = .seconds(60),
        batchSize: Int = 1000,
        logger: Logger = Logger(label: "SessionKit.Sweeper")
    ) {
        self.store = store
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// Runs rounds until the service group shuts down. The first round starts one
    /// `interval` after start-up, once migrations have run.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            do {
                let removed = try await sweepNow()
                if removed > 0 { logger.debug("swept expired sessions", metadata: ["count": .stringConvertible(removed)]) }
            } catch {
                logger.warning("session sweep failed; retrying next round", metadata: ["error": .string("\(error)")])
            }
        }
    }

    /// Runs one round now: batches until every expired record is gone. Returns the total.
    @discardableResult
    public func sweepNow() async throws -> Int {
        var total = 0
        while true {
            let removed = try await store.sweepExpired(batchSize: batchSize)
            total += removed
            if removed < batchSize || Task.isCancelled { return total }
        }
    }
}
