import Synchronization

/// Runs `operation` but gives up after `timeout` with ``SessionStoreError/timedOut``.
///
/// The 503 must come on time even when a store call ignores cancellation (postgres-nio does
/// not promise to return promptly when a query waiting for a connection is cancelled), and a
/// task group always awaits its children. So the operation and the timer run as tasks of
/// their own, and whichever finishes first resumes the caller (see the Architecture article (SessionKit.docc),
/// Timeouts, for the topology run that showed it).
/// Cancellation still flows both ways:
/// - at the deadline the operation is cancelled and left to finish on its own;
/// - when the caller is cancelled (the client went away), the operation and the timer are
///   cancelled and the caller resumes at once with `CancellationError`;
/// - when the operation finishes first, the timer is cancelled.
func withDeadline<Result: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let race = DeadlineRace()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            let timer = Task {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return
                }
                guard race.claim() else { return }
                race.cancelAll()
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
            race.set(work: work, timer: timer, continuation: { continuation.resume(throwing: CancellationError()) })
        }
    } onCancel: {
        race.callerCancelled()
    }
}

/// Decides which of the operation, the timer and the caller's cancellation resumes the caller
/// (exactly one does).
private final class DeadlineRace: Sendable {
    private struct State {
        var resumed = false
        var callerCancelled = false
        var tasks: [Task<Void, Never>] = []
        var resumeCancelled: (@Sendable () -> Void)?
    }
    private let state = LockedValue(State())

    func claim() -> Bool {
        state.withLock { state in
            defer { state.resumed = true }
            return !state.resumed
        }
    }

    func set(work: Task<Void, Never>, timer: Task<Void, Never>, continuation resumeCancelled: @escaping @Sendable () -> Void) {
        let cancelledAlready = state.withLock { state -> Bool in
            state.tasks = [work, timer]
            state.resumeCancelled = resumeCancelled
            return state.callerCancelled || state.resumed
        }
        if cancelledAlready {
            cancelAll()
            if claim() { resumeCancelled() }
        }
    }

    func cancelAll() {
        for task in state.withLock({ $0.tasks }) { task.cancel() }
    }

    func callerCancelled() {
        let resume = state.withLock { state -> (@Sendable () -> Void)? in
            state.callerCancelled = true
            return state.resumeCancelled
        }
        cancelAll()
        if let resume, claim() { resume() }
    }
}
