import Foundation
import SessionKit

/// A clock that only moves when a test says so: expiry tests advance it instead of sleeping.
///
/// It starts at the real current time by default, so stores that hand absolute instants to a
/// server (Redis `PEXPIREAT`, PostgreSQL `expires_at`) see sensible values.
public final class TestClock: SessionClock {
    private let current: LockedValue<Date>

    /// Creates a clock standing at `start`.
    public init(start: Date = Date()) {
        self.current = LockedValue(start)
    }

    /// The instant the clock stands at.
    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let interval = Double(seconds) + Double(attoseconds) / 1e18
        current.withLock { $0 = $0.addingTimeInterval(interval) }
    }

    /// Sets the clock to an instant.
    public func set(to date: Date) {
        current.withLock { $0 = date }
    }
}
