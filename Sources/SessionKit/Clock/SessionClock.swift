import Foundation

/// The source of wall-clock time for expiry decisions.
///
/// Expiry instants are stored in databases and compared across processes, so they are
/// wall-clock `Date`s. Inject a controllable clock in tests (`SessionKitTesting.TestClock`)
/// instead of sleeping.
public protocol SessionClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The real wall clock.
public struct SystemSessionClock: SessionClock {
    /// Creates the system clock.
    public init() {}

    /// The current instant from the operating system.
    public func now() -> Date { Date() }
}
