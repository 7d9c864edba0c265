import CoreMetrics
import Foundation

/// Read-modify-write calls that never lose an update, even when concurrent requests change
/// the same key: the change is written at once as a per-key compare-and-set (or a native
/// increment), not at commit.
extension SessionHandle {
    /// How many times ``modify(_:_:)`` runs its transform in all (the first run and the runs
    /// after another request changed the key first) before it answers ``SessionError/conflict``
    /// (409). The store timeout bounds the retries too.
    public static let maxModifyAttempts = 64

    /// Changes a value in place and commits the change atomically: the store applies it only
    /// while the key still holds the value the transform saw; when another request changed it
    /// first, the transform runs again on the new value. The obvious code for a cart or a list
    /// (`try await session.modify(.cart) { $0 = ($0 ?? []) + [item] }`) never loses an item.
    ///
    /// - The transform must be a pure function of the value: it may run more than once.
    ///   `nil` means the key is absent; set it to `nil` to remove the key.
    /// - The change is written before this call returns (one round trip without contention),
    ///   and answered with ``SessionError/conflict`` (409) only when the key kept changing for
    ///   ``maxModifyAttempts`` tries or the store timeout. Once written it stays written: a
    ///   later error, 409 or 503 of the same request does not undo it, as a statement outside a
    ///   transaction is not undone (a client that retries such a request applies it again).
    /// - Where nothing else can see the change yet, it is kept with the request's other
    ///   changes instead: a session created by this request, one that is being regenerated,
    ///   signed in or destroyed, a key this request already set or removed, and sealed cookies
    ///   (the browser's cookie is the only copy, so concurrent requests of one browser can
    ///   still overwrite each other's cookie; see the Sealed cookies article (SessionKit.docc)).
    /// - Needs a store with ``AtomicKeySessionStore`` (every shipped store has it); otherwise
    ///   throws ``SessionError/unsupported(_:)``.
    /// - Returns: the value the transform produced (written, or kept with the request's changes).
    @discardableResult
    public func modify<Value>(_ key: SessionKey<Value>, _ transform: (inout Value?) throws -> Void) async throws -> Value? {
        try await atomicChange(key, isIncrement: false) { current in
            let original = try current.map { try decode($0, as: Value.self, key: key.name) }
            var value = original
            try transform(&value)
            let encoded = try value.map { try encode($0, key: key.name) }
            // A store that normalises JSON (PostgreSQL's `jsonb` puts a space after every `,`
            // and `:`) returns other bytes than the encoder writes: re-encoding what was loaded
            // lets an unchanged value compare equal, so it costs no write. Compact values skip it.
            if encoded != current, let current, current.contains(0x20), let original,
                let canonical = try? encode(original, key: key.name), canonical == encoded
            {
                return (current, value)
            }
            return (encoded, value)
        } decode: { stored in
            try stored.map { try decode($0, as: Value.self, key: key.name) }
        } viaStore: { store, id, expected, newValue, idleExpiresAt, now in
            let write = SessionKeyWrite(key: key.name, expected: expected, newValue: newValue, idleExpiresAt: idleExpiresAt, lastSeenAt: now)
            switch try await store.compareAndSet(id, write) {
            case .applied(let version): return .written(newValue, version: version)
            case .notFound: return .gone
            case .conflict(let current): return .changed(current)
            }
        }
    }

    /// Changes a value in place, starting from `defaultValue` when the key is absent, and
    /// commits it atomically like ``modify(_:_:)``:
    /// `try await session.modify(.cart, default: []) { $0.append(item) }`.
    @discardableResult
    public func modify<Value>(_ key: SessionKey<Value>, default defaultValue: @autoclosure () -> Value, _ transform: (inout Value) throws -> Void)
        async throws -> Value
    {
        let result = try await modify(key) { value in
            var current = value ?? defaultValue()
            try transform(&current)
            value = current
        }
        return result ?? defaultValue()
    }

    /// Adds `delta` to an integer value (an absent key counts as 0) in one atomic store
    /// operation (`HINCRBY` in Redis, `jsonb` arithmetic in PostgreSQL, a read and write in one
    /// `BEGIN IMMEDIATE` transaction in SQLite, the shard lock in memory), which never
    /// conflicts, and returns the new value. Like ``modify(_:_:)`` it is written at once and
    /// not undone by a later failure of the request. The same
    /// local cases as ``modify(_:_:)`` apply. Throws ``SessionError/typeMismatch(key:expected:)``
    /// when the key holds something else or the sum would overflow.
    @discardableResult
    public func increment(_ key: SessionKey<Int>, by delta: Int = 1) async throws -> Int {
        let result = try await atomicChange(key, isIncrement: true) { current in
            guard let sum = SessionInteger.adding(Int64(delta), to: current) else {
                throw SessionError.typeMismatch(key: key.name, expected: "Int")
            }
            return (SessionInteger.encode(sum), Int(sum))
        } decode: { stored in
            guard let sum = stored.flatMap(SessionInteger.decode) else { throw SessionError.typeMismatch(key: key.name, expected: "Int") }
            return Int(sum)
        } viaStore: { store, id, _, _, idleExpiresAt, now in
            let increment = SessionKeyIncrement(key: key.name, delta: Int64(delta), idleExpiresAt: idleExpiresAt, lastSeenAt: now)
            switch try await store.increment(id, increment) {
            case .applied(let value, let version): return .written(SessionInteger.encode(value), version: version)
            case .notFound: return .gone
            case .notAnInteger: throw SessionError.typeMismatch(key: key.name, expected: "Int")
            }
        }
        return result
    }

    // MARK: Plumbing

    /// What one store attempt of an atomic change did.
    private enum AttemptOutcome: Sendable {
        /// Written; the key now holds the value and the record has `version`.
        case written(Data?, version: UInt64)
        /// The session ended meanwhile.
        case gone
        /// Another request changed the key first; it holds this value now.
        case changed(Data?)
    }

    /// The loop both calls share: compute the new value from the current one, then either keep
    /// it with the request's changes (nothing else can see it yet) or write it through the
    /// store, re-computing after a conflict. `decode` turns what the store wrote, when that is
    /// not the computed value (an increment counts from the stored value), into the result.
    private func atomicChange<Key, Result: Sendable>(
        _ key: SessionKey<Key>,
        isIncrement: Bool,
        compute: (Data?) throws -> (Data?, Result),
        decode: (Data?) throws -> Result,
        viaStore: @escaping @Sendable (any AtomicKeySessionStore, SessionStorageID, Data?, Data?, Date, Date) async throws -> AttemptOutcome
    ) async throws -> Result {
        if let refusal = key.refusal { throw refusal }
        try await ensureLoaded()
        guard let engine else { throw SessionError.notActive }
        let incomingID = incoming.token?.storageID
        func attempt() async throws -> Result? {
            try await attemptAtomicChange(key, engine, incomingID, isIncrement: isIncrement, compute: compute, decode: decode, viaStore: viaStore)
        }
        /// Retries until one attempt wins, within ``maxModifyAttempts`` (`tried` of them are
        /// spent) and the store timeout.
        func attempts(tried: Int) async throws -> Result {
            // The bound starts with this request's turn: waiting behind other requests of this
            // instance is not contention (counting it answered 409 under load in CI).
            let limit = ContinuousClock.now + (engine.configuration.storeTimeout ?? .seconds(5))
            var tried = tried
            while true {
                if tried > 0 {
                    guard tried < Self.maxModifyAttempts, ContinuousClock.now < limit else {
                        engine.metrics.conflicts.increment()
                        throw SessionError.conflict
                    }
                    engine.metrics.modifyRetries.increment()
                    // A short random pause spreads contenders of other instances, so fewer
                    // collide again. An in-process store's retry runs at once: nothing waits
                    // between its read of the current value and its compare-and-set.
                    if !engine.storeIsInProcess {
                        try await Task.sleep(for: .microseconds(Int.random(in: 0...(25 << min(tried, 6)))))
                    }
                }
                if let result = try await attempt() { return result }
                tried += 1
            }
        }
        guard let incomingID, case .store = engine.backend, !isIncrement || engine.atomicStore?.incrementsNatively != true else {
            return try await attempts(tried: 0)
        }
        // Requests of this instance that modify the same key of the same session take turns,
        // so they do not keep invalidating each other's compare-and-set (each then needs at
        // most one retry); requests of other instances are kept apart by the compare-and-set.
        // Native increments never conflict, so they skip this and run at once.
        let turn = AtomicKeyLockKey(session: incomingID, key: key.name)
        guard engine.storeIsInProcess else {
            return try await engine.atomicKeyLocks.withLock(turn) { try await attempts(tried: 0) }
        }
        // An in-process store's compare-and-set never waits, so its first attempt runs without
        // the turn (almost always it wins); only a request that lost it queues for the turn,
        // so racing threads cannot keep beating one request until it gives up.
        if let result = try await attempt() { return result }
        return try await engine.atomicKeyLocks.withLock(turn) { try await attempts(tried: 1) }
    }

    /// One attempt: keeps the change locally, or writes it through the store. Returns `nil`
    /// when another request changed the key first (the handle now holds its value: retry).
    private func attemptAtomicChange<Key, Result>(
        _ key: SessionKey<Key>,
        _ engine: SessionEngine,
        _ incomingID: SessionStorageID?,
        isIncrement: Bool,
        compute: (Data?) throws -> (Data?, Result),
        decode: (Data?) throws -> Result,
        viaStore: @escaping @Sendable (any AtomicKeySessionStore, SessionStorageID, Data?, Data?, Date, Date) async throws -> AttemptOutcome
    ) async throws -> Result? {
        let target: AtomicTarget = try state.withLock { state in try state.atomicTarget(for: key.name, incomingID: incomingID, engine: engine) }
        let (newValue, result) = try compute(target.current)
        guard case .store(let store, let id, _) = target else {
            try state.withLock { state in try state.keepLocally(newValue, for: key.name) }
            return result
        }
        if newValue == target.current { return result }
        let now = engine.clock.now()
        let idleExpiresAt: Date = try state.withLock { state in
            try state.prepareAtomicWrite(newValue, for: key.name, now: now, policy: engine.lifecyclePolicy)
        }
        let expected = target.current
        let call: @Sendable () async throws -> AttemptOutcome = { try await viaStore(store, id, expected, newValue, idleExpiresAt, now) }
        let outcome = try await isIncrement ? engine.storeCall("increment", session: id, call) : engine.storeCall("compareAndSet", session: id, call)
        switch outcome {
        case .written(let stored, let version):
            state.withLock { state in state.adoptAtomicWrite(stored, for: key.name, version: version, idleExpiresAt: idleExpiresAt, now: now) }
            return stored == newValue ? result : try decode(stored)
        case .gone:
            // Kept like any other change: the commit drops it, as it drops every write to a
            // session that ended while the request ran.
            try state.withLock { state in try state.keepLocally(newValue, for: key.name) }
            return result
        case .changed(let current):
            state.withLock { state in state.adoptStoredValue(current, for: key.name) }
            return nil
        }
    }
}

private func decode<Value: Decodable>(_ data: Data, as type: Value.Type, key: String) throws -> Value {
    do {
        return try SessionValueCoder.decode(type, from: data)
    } catch {
        throw SessionError.typeMismatch(key: key, expected: String(describing: Value.self))
    }
}

private func encode<Value: Encodable>(_ value: Value, key: String) throws -> Data {
    do {
        return try SessionValueCoder.encode(value)
    } catch {
        throw SessionError.encodingFailed(key: key)
    }
}

/// What the per-key turns of atomic changes are keyed by: one session's one key.
struct AtomicKeyLockKey: Hashable, Sendable {
    let session: SessionStorageID
    let key: String
}

/// Where an atomic change goes.
enum AtomicTarget {
    /// Nothing else can see the key yet: keep the change with the request's others.
    case local(current: Data?)
    /// Write it through the store, conditioned on `current`.
    case store(any AtomicKeySessionStore, SessionStorageID, current: Data?)

    var current: Data? {
        switch self {
        case .local(let current), .store(_, _, let current): return current
        }
    }
}

extension HandleState {
    /// Decides where an atomic change of `name` goes (see ``SessionHandle/modify(_:_:)``).
    func atomicTarget(for name: String, incomingID: SessionStorageID?, engine: SessionEngine) throws -> AtomicTarget {
        try checkWritable()
        // The load failed and the handler went on as anonymous: nothing can be written safely,
        // so say so now rather than count from nothing and fail at commit.
        if let loadFailure { throw SessionError.storeUnavailable(loadFailure) }
        let current = values[name]
        guard case .store(let store) = engine.backend, record != nil, let incomingID, intent == .keep,
            setValues[name] == nil, !removedKeys.contains(name)
        else { return .local(current: current) }
        guard let atomic = engine.atomicStore else {
            throw SessionError.unsupported(
                "modify and increment need a store with AtomicKeySessionStore; \(String(describing: type(of: store))) has none"
            )
        }
        return .store(atomic, incomingID, current: current)
    }

    /// Keeps an atomic change with the request's other changes, written at commit.
    mutating func keepLocally(_ value: Data?, for name: String) throws {
        try checkWritable()
        if let value { setValue(value, for: name) } else { removeValue(for: name) }
    }

    /// Refuses a write over the session's size limits (like the commit's check) and returns
    /// the idle expiry the write moves the record to.
    func prepareAtomicWrite(_ value: Data?, for name: String, now: Date, policy: LifecyclePolicy) throws -> Date {
        try checkWritable()
        if let value {
            try SessionLifecycle.checkSize(after: values, replacing: name, with: value, before: record?.data ?? [:], policy)
        }
        let absolute = record?.absoluteExpiresAt ?? now
        return min(now.addingTimeInterval(policy.idle(persistent: isPersistent)), absolute)
    }

    /// Records a write the store made: the key, the expiry, and the version when no other
    /// write came between (otherwise the old one stays, so a versioned commit still conflicts).
    mutating func adoptAtomicWrite(_ value: Data?, for name: String, version: UInt64, idleExpiresAt: Date, now: Date) {
        adoptStoredValue(value, for: name)
        guard var stored = record else { return }
        if version == stored.version &+ 1 { stored.version = version }
        stored.idleExpiresAt = idleExpiresAt
        stored.lastSeenAt = now
        record = stored
        wroteAtomically = true
    }

    /// Takes the store's current value of a key the request has not changed itself.
    mutating func adoptStoredValue(_ value: Data?, for name: String) {
        values[name] = value
        record?.data[name] = value
    }
}
