/// Runs `operation` as a child task and gives up after `timeout` with
/// ``SessionStoreError/timedOut``.
///
/// Structured: the operation and its timer are children of the caller's task, so cancelling
/// the request (a client that went away) cancels the store call, and nothing outlives the call.
/// At the deadline the operation is cancelled and the caller resumes once it returns: the
/// shipped stores honour cancellation (the Redis client fails the call at once, the SQL stores
/// bound their waits with their own timeouts), so the 503 is on time. A store call that ignores
/// cancellation delays the 503 until it returns, never past it.
func withDeadline<Result: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: DeadlineOutcome<Result>.self) { group in
        group.addTask { .finished(try await operation()) }
        group.addTask {
            try await Task.sleep(for: timeout)
            return .timedOut
        }
        defer { group.cancelAll() }
        switch try await group.next() {
        case .finished(let value): return value
        case .timedOut, nil: throw SessionStoreError.timedOut
        }
    }
}

/// Which child of ``withDeadline(_:_:)`` finished first.
private enum DeadlineOutcome<Result: Sendable>: Sendable {
    case finished(Result)
    case timedOut
}
