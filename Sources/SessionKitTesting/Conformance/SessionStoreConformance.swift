import Foundation
import SessionKit

/// The contract every `SessionStore` must keep, as runnable cases, grouped by
/// capability: ``core`` for every store, then ``userIndex``, ``versioned``, ``atomicKeys``,
/// ``readiness``, ``sweeping`` and ``capping`` for the capability protocols a store adopts.
///
/// Store authors run the cases of what their store offers against a fresh store, unchanged,
/// from any test framework. With Swift Testing:
/// ```swift
/// @Test(arguments: SessionStoreConformance.core + SessionStoreConformance.userIndex)
/// func conformance(_ check: SessionStoreConformance.Case) async throws {
///     try await check.run { clock in MyStore(clock: clock) }
/// }
/// ```
/// The factory receives the ``TestClock`` the case advances; the store must judge expiry by
/// it. A failed expectation throws ``ConformanceFailure`` naming the case and the broken rule.
public enum SessionStoreConformance {
    /// One named check.
    public struct Case: Sendable, CustomStringConvertible {
        /// What the case checks.
        public let name: String
        let body: @Sendable (any SessionStore, TestClock) async throws -> Void

        /// The case's name (test frameworks show it per argument).
        public var description: String { name }

        /// Runs the case against a new store made by `makeStore`.
        public func run(_ makeStore: @Sendable (TestClock) async throws -> any SessionStore) async throws {
            let clock = TestClock()
            let store = try await makeStore(clock)
            do {
                try await body(store, clock)
            } catch let failure as ConformanceFailure {
                throw ConformanceFailure("[\(name)] \(failure.message)")
            }
        }
    }

    /// The cases for a store with every capability but sweeping (all shipped server stores):
    /// ``core``, ``userIndex``, ``versioned``, ``atomicKeys`` and ``readiness``.
    public static let cases: [Case] = core + userIndex + versioned + atomicKeys + readiness
}

/// A broken store contract.
public struct ConformanceFailure: Error, CustomStringConvertible {
    /// What was expected and what happened.
    public let message: String

    /// Creates a failure.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

// MARK: - Helpers shared by the cases

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(message()) }
}

func expectEqual<Value: Equatable>(_ actual: Value, _ expected: Value, _ what: String) throws {
    if actual != expected { throw ConformanceFailure("\(what): expected \(expected), got \(actual)") }
}

func expectClose(_ actual: Date?, _ expected: Date, _ what: String) throws {
    guard let actual else { throw ConformanceFailure("\(what): expected \(expected), got nil") }
    // Databases may store microseconds (PostgreSQL) or milliseconds (Redis); allow that much.
    if abs(actual.timeIntervalSince(expected)) > 0.002 {
        throw ConformanceFailure("\(what): expected \(expected), got \(actual)")
    }
}

func newID() -> SessionStorageID { SessionToken.generate().storageID }

func json(_ text: String) -> Data { Data(text.utf8) }

func makeRecord(
    _ clock: TestClock,
    data: [String: Data] = ["a": json("1")],
    userID: String? = nil,
    idle: TimeInterval = 1800,
    absolute: TimeInterval = 43_200,
    createdOffset: TimeInterval = 0
) -> SessionRecord {
    let now = clock.now().addingTimeInterval(createdOffset)
    return SessionRecord(
        data: data,
        userID: userID,
        createdAt: now,
        lastSeenAt: now,
        idleExpiresAt: now.addingTimeInterval(idle),
        absoluteExpiresAt: now.addingTimeInterval(absolute),
        userAgent: "conformance/1.0"
    )
}

func makeUpdate(_ clock: TestClock, set: [String: Data] = [:], remove: Set<String> = [], idle: TimeInterval = 1800) -> SessionUpdate {
    SessionUpdate(setValues: set, removedKeys: remove, idleExpiresAt: clock.now().addingTimeInterval(idle), lastSeenAt: clock.now())
}

/// Decodes stored JSON so stores that normalise JSON (PostgreSQL `jsonb` adds spaces) still match.
func jsonEquivalent(_ lhs: Data?, _ rhs: Data?) -> Bool {
    guard let lhs, let rhs else { return lhs == nil && rhs == nil }
    if lhs == rhs { return true }
    guard let left = try? JSONSerialization.jsonObject(with: lhs, options: [.fragmentsAllowed]),
        let right = try? JSONSerialization.jsonObject(with: rhs, options: [.fragmentsAllowed])
    else { return false }
    return (left as? NSObject)?.isEqual(right) ?? false
}

func expectData(_ record: SessionRecord?, _ expected: [String: Data], _ what: String) throws {
    guard let record else { throw ConformanceFailure("\(what): record is missing") }
    // By bytes: Swift's `String ==` would take a store that re-spells a key (NFD as NFC) as equal.
    let keys = Set(record.data.keys.map { Array($0.utf8) })
    let expectedKeys = Set(expected.keys.map { Array($0.utf8) })
    try expect(keys == expectedKeys, "\(what) keys: expected \(expected.keys.sorted()), got \(record.data.keys.sorted())")
    for (key, value) in expected {
        try expect(
            jsonEquivalent(record.data[key], value),
            "\(what): value of \(key) is \(String(decoding: record.data[key] ?? Data(), as: UTF8.self)), expected \(String(decoding: value, as: UTF8.self))"
        )
    }
}
