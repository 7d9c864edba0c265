#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value guarded by a `pthread_mutex_t`: the package's only lock type.
///
/// SessionKit uses this instead of `Synchronization.Mutex` for its shared state because Thread
/// Sanitizer intercepts pthread mutexes: with them, the sanitizer runs in CI see every
/// happens-before edge and report only real races (`Mutex`'s futex fast path is invisible to
/// it and produced false reports).
// Why `@unchecked Sendable` is safe: `value` is only touched inside `withLock`, between
// `pthread_mutex_lock` and `pthread_mutex_unlock` on `mutex`, which this class allocates,
// never exposes, and destroys only in `deinit` (when no other reference exists).
package final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Creates the lock around an initial value.
    package init(_ value: Value) {
        self.mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(self.mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
