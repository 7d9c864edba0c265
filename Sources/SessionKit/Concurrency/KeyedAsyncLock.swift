/// One first-in, first-out async lock per key, created on demand and dropped when idle: the
/// package's only async lock.
///
/// The engine serialises the sign-ins of one user within a process with it, so the per-user
/// session cap is exact for concurrent sign-ins on one instance (across instances the cap is
/// re-checked after each sign-in and converges; see the Architecture article (SessionKit.docc)),
/// and the atomic changes of one key of one session. The SQLite store serialises its writer
/// connection with it under one key.
package final class KeyedAsyncLock<Key: Hashable & Sendable>: Sendable {
    /// A held lock (an entry exists exactly while its key is held) and who waits for it.
    private struct Entry: Sendable {
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let entries = LockedValue<[Key: Entry]>([:])

    /// Creates a lock with no holders.
    package init() {}

    /// Runs `body` while holding the lock for `key`; callers of the same key run one at a time,
    /// in arrival order.
    package func withLock<Result: Sendable>(_ key: Key, _ body: () async throws -> Result) async throws -> Result {
        // Uncontended (the common case): take it at once, without a continuation.
        if !tryAcquire(key) { await acquire(key) }
        defer { release(key) }
        return try await body()
    }

    private func tryAcquire(_ key: Key) -> Bool {
        entries.withLock { entries in
            guard entries[key] == nil else { return false }
            entries[key] = Entry()
            return true
        }
    }

    private func acquire(_ key: Key) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = entries.withLock { entries -> Bool in
                guard entries[key] != nil else {
                    // Released between the first try and now.
                    entries[key] = Entry()
                    return true
                }
                entries[key]?.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the lock to the longest waiter, or drops the entry when nobody waits.
    private func release(_ key: Key) {
        let next = entries.withLock { entries -> CheckedContinuation<Void, Never>? in
            guard var entry = entries[key] else { return nil }
            if entry.waiters.isEmpty {
                entries.removeValue(forKey: key)
                return nil
            }
            let next = entry.waiters.removeFirst()
            entries[key] = entry
            return next
        }
        next?.resume()
    }
}
