import Foundation

/// A store that changes one key of a live session atomically, so concurrent requests never
/// lose an update of the same key: ``SessionHandle/modify(_:_:)`` commits through
/// ``compareAndSet(_:_:)`` and ``SessionHandle/increment(_:by:)`` through ``increment(_:_:)``.
///
/// Both calls write at once (not at commit), move the idle expiry and the last-seen instant
/// like ``SessionStore/update(_:_:)``, increment the record's version by exactly one (the
/// engine relies on it in versioned mode), and never re-create a record that is gone. Only ``compareAndSet(_:_:)`` is required: the default ``increment(_:_:)``
/// loads the value and compares-and-sets until it wins, and a store with a native counter
/// (`HINCRBY`, `jsonb` arithmetic) replaces it with one round trip that cannot conflict.
/// `SessionStoreConformance.atomicKeys` checks both.
public protocol AtomicKeySessionStore: SessionStore {
    /// Writes ``SessionKeyWrite/newValue`` (or removes the key when it is `nil`) only while the
    /// key still holds ``SessionKeyWrite/expected`` (`nil`: the key is absent). Byte-equal
    /// values always match; a store may also match equal JSON spelled differently (`jsonb`).
    func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult

    /// Adds ``SessionKeyIncrement/delta`` to the JSON integer under the key (an absent key
    /// counts as 0) and returns the new value.
    func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult

    /// Whether ``increment(_:_:)`` is one operation that cannot conflict (`false`, the default,
    /// for the load-and-compare-and-set loop): the engine then lets concurrent increments of one
    /// key run at once instead of taking turns.
    var incrementsNatively: Bool { get }
}

/// One conditional write of one key, for ``AtomicKeySessionStore/compareAndSet(_:_:)``.
public struct SessionKeyWrite: Sendable, Equatable {
    /// The key's name.
    public var key: String
    /// The JSON value the key must still hold; `nil` when it must be absent.
    public var expected: Data?
    /// The JSON value to write; `nil` removes the key.
    public var newValue: Data?
    /// The new idle expiry. Stores never let the record outlive its absolute expiry.
    public var idleExpiresAt: Date
    /// The instant of this write, recorded as "last seen".
    public var lastSeenAt: Date

    /// Creates a conditional write.
    public init(key: String, expected: Data?, newValue: Data?, idleExpiresAt: Date, lastSeenAt: Date) {
        self.key = key
        self.expected = expected
        self.newValue = newValue
        self.idleExpiresAt = idleExpiresAt
        self.lastSeenAt = lastSeenAt
    }

    /// The same change as a plain update (what a store applies once the condition holds).
    public var update: SessionUpdate {
        SessionUpdate(
            setValues: newValue.map { [key: $0] } ?? [:],
            removedKeys: newValue == nil ? [key] : [],
            idleExpiresAt: idleExpiresAt,
            lastSeenAt: lastSeenAt
        )
    }
}

/// What a conditional write did.
public enum SessionKeyWriteResult: Sendable, Equatable {
    /// Written; the record now has this ``SessionRecord/version``.
    case applied(version: UInt64)
    /// No live record has that ID. Nothing was written.
    case notFound
    /// The key holds another value (`nil`: absent) than expected. Nothing was written.
    case conflict(current: Data?)
}

/// One atomic addition to an integer key, for ``AtomicKeySessionStore/increment(_:_:)``.
public struct SessionKeyIncrement: Sendable, Equatable {
    /// The key's name.
    public var key: String
    /// What to add (negative to subtract).
    public var delta: Int64
    /// The new idle expiry. Stores never let the record outlive its absolute expiry.
    public var idleExpiresAt: Date
    /// The instant of this write, recorded as "last seen".
    public var lastSeenAt: Date

    /// Creates an increment.
    public init(key: String, delta: Int64, idleExpiresAt: Date, lastSeenAt: Date) {
        self.key = key
        self.delta = delta
        self.idleExpiresAt = idleExpiresAt
        self.lastSeenAt = lastSeenAt
    }
}

/// What an increment did.
public enum SessionIncrementResult: Sendable, Equatable {
    /// Added; the key now holds `value` and the record has this ``SessionRecord/version``.
    case applied(value: Int64, version: UInt64)
    /// No live record has that ID. Nothing was written.
    case notFound
    /// The key holds something other than a JSON integer, or the sum would not fit in 64
    /// bits. Nothing was written.
    case notAnInteger
}

extension AtomicKeySessionStore {
    /// Loads the value and compares-and-sets the sum until no other write came between (at
    /// most ``defaultIncrementAttempts`` times, then ``SessionStoreError/timedOut``).
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        var current = try await load(id)?.data[increment.key]
        for _ in 0..<defaultIncrementAttempts {
            guard let sum = SessionInteger.adding(increment.delta, to: current) else { return .notAnInteger }
            let write = SessionKeyWrite(
                key: increment.key,
                expected: current,
                newValue: SessionInteger.encode(sum),
                idleExpiresAt: increment.idleExpiresAt,
                lastSeenAt: increment.lastSeenAt
            )
            switch try await compareAndSet(id, write) {
            case .applied(let version): return .applied(value: sum, version: version)
            case .notFound: return .notFound
            case .conflict(let value): current = value
            }
            // A short random pause spreads the contenders, so fewer of them collide again.
            try await Task.sleep(for: .microseconds(Int.random(in: 0...200)))
        }
        throw SessionStoreError.timedOut
    }

    /// How often the default ``increment(_:_:)`` retries a conflicting write.
    public var defaultIncrementAttempts: Int { 100 }

    /// `false`: the default ``increment(_:_:)`` is a loop that can conflict.
    public var incrementsNatively: Bool { false }
}

/// The JSON integers ``SessionHandle/increment(_:by:)`` counts with: at most 64 bits, written
/// as JSON encoders write them (`-12`; never `+12`, `012`, `-0` or `12.0`, which are not
/// integers to `HINCRBY` either).
public enum SessionInteger {
    /// The integer a JSON value holds, or `nil` when it is not a plain 64-bit JSON integer.
    public static func decode(_ json: Data) -> Int64? {
        let bytes = Array(json)
        let digits = bytes.first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        guard let first = digits.first, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            first != UInt8(ascii: "0") || bytes.count == 1
        else { return nil }
        return Int64(String(decoding: bytes, as: UTF8.self))
    }

    /// The JSON text of an integer.
    public static func encode(_ value: Int64) -> Data { Data(String(value).utf8) }

    /// `delta` added to the integer in `json` (an absent value counts as 0), or `nil` when the
    /// value is not an integer or the sum overflows.
    public static func adding(_ delta: Int64, to json: Data?) -> Int64? {
        guard let base = json.map(decode) ?? 0 else { return nil }
        let (sum, overflow) = base.addingReportingOverflow(delta)
        return overflow ? nil : sum
    }
}
