import Synchronization

/// Runs `operation` but gives up after `timeout` with ``SessionStoreError/timedOut``.
///
/// Unlike a task group, this returns at the deadline even if the operation ignores
/// cancellation (a store stuck in a syscall): the operation is cancelled and left to finish
/// on its own, and the request gets its 503 on time. When the operation finishes first, the
/// timer is cancelled at once.
func withDeadline<Result: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let race = DeadlineRace()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
        let timer = Task {
            do {
                try await Task.sleep(for: timeout)
            } catch {
                return
            }
            guard race.claim() else { return }
            race.cancelWork()
            continuation.resume(throwing: SessionStoreError.timedOut)
        }
        let work = Task {
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await operation())
            } catch {
                result = .failure(error)
            }
            timer.cancel()
            if race.claim() { continuation.resume(with: result) }
        }
        race.setWork(work)
    }
}

/// Decides which of the operation and the timer resumes the caller (exactly one does).
private final class DeadlineRace: Sendable {
    private let resumed = LockedValue(false)
    private let work = LockedValue<Task<Void, Never>?>(nil)

    func claim() -> Bool {
        resumed.withLock { done in
            defer { done = true }
            return !done
        }
    }

    func setWork(_ task: Task<Void, Never>) {
        work.withLock { $0 = task }
        if resumed.withLock({ $0 }) { task.cancel() }
    }

    func cancelWork() {
        work.withLock { $0 }?.cancel()
    }
}
