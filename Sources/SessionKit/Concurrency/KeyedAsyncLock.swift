/// One first-in, first-out async lock per key, created on demand and dropped when idle: the
/// package's only async lock.
///
/// The engine serialises the sign-ins of one user within a process with it, so the per-user
/// session cap is exact for concurrent sign-ins on one instance (across instances the cap is
/// re-checked after each sign-in and converges; see the Architecture article (SessionKit.docc)). The SQLite store
/// serialises its writer connection with it under one key.
package final class KeyedAsyncLock: Sendable {
    private struct Entry: Sendable {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let entries = LockedValue<[String: Entry]>([:])

    /// Creates a lock with no holders.
    package init() {}

    /// Runs `body` while holding the lock for `key`; callers of the same key run one at a time,
    /// in arrival order.
    package func withLock<Result: Sendable>(_ key: String, _ body: () async throws -> Result) async throws -> Result {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = entries.withLock { entries -> Bool in
                var entry = entries[key] ?? Entry()
                defer { entries[key] = entry }
                if entry.held {
                    entry.waiters.append(continuation)
                    return false
                }
                entry.held = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    private func release(_ key: String) {
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
