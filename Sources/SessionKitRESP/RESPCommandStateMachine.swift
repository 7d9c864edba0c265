import NIOCore

/// The command handler's bookkeeping as a pure value: which requests wait for how many
/// replies, in order. Every event returns the action the handler must take; nothing here does
/// I/O, so each transition is unit-tested without a channel (`RESPCommandStateMachineTests`).
///
/// `Promise` is whatever the handler completes (an `EventLoopPromise` in production, a plain
/// value in tests).
package struct RESPCommandStateMachine<Promise> {
    /// Identifies one request on its connection, for cancellation.
    package typealias RequestID = UInt64

    private struct Entry {
        let id: RequestID
        /// `nil` once the request was cancelled: its replies are still read off the stream
        /// (to keep the order) and dropped.
        var promise: Promise?
        let expected: Int
        var replies: [RESPReply]
    }

    private var pending = CircularBuffer<Entry>()
    private var failure: RESPClientError?

    /// Creates the state of a fresh connection.
    package init() {}

    /// How many requests still wait for replies (cancelled ones included).
    package var pendingCount: Int { pending.count }

    /// What to do with a new request.
    package enum WriteAction {
        /// Encode and write the commands.
        case write
        /// No commands: complete the promise with no replies at once.
        case succeedEmpty(Promise)
        /// The connection already failed: fail the promise.
        case fail(Promise, RESPClientError)
    }

    /// A request of `expected` commands is about to be written.
    package mutating func enqueue(_ id: RequestID, expected: Int, promise: Promise) -> WriteAction {
        if let failure { return .fail(promise, failure) }
        guard expected > 0 else { return .succeedEmpty(promise) }
        pending.append(Entry(id: id, promise: promise, expected: expected, replies: []))
        return .write
    }

    /// What to do after a reply arrived.
    package enum ReadAction {
        /// Nothing yet (more replies due, or a cancelled request's reply).
        case none
        /// A RESP3 push (a client-tracking invalidation, pub/sub): not a reply to any request;
        /// hand it to whoever listens to the connection's pushes.
        case push(RESPReply)
        /// The request is complete.
        case succeed(Promise, [RESPReply])
        /// The stream is out of step: fail these and close the connection.
        case failAndClose([Promise], RESPClientError)
    }

    /// One reply arrived.
    package mutating func received(_ reply: RESPReply) -> ReadAction {
        // RESP3 pushes (invalidations, pub/sub) are out of band: they never complete a request.
        if case .push = reply { return .push(reply) }
        guard var head = pending.popFirst() else {
            // A reply nobody asked for: the stream cannot be trusted any more.
            return .failAndClose(fail(.protocolViolation(reason: "unsolicited reply")), .protocolViolation(reason: "unsolicited reply"))
        }
        head.replies.append(reply)
        guard head.replies.count == head.expected else {
            pending.prepend(head)
            return .none
        }
        guard let promise = head.promise else { return .none }
        return .succeed(promise, head.replies)
    }

    /// The caller gave up on a request (its task was cancelled). Returns the promise to fail
    /// now, or `nil` when the request already completed. Its replies will be dropped.
    package mutating func cancel(_ id: RequestID) -> Promise? {
        guard let index = pending.firstIndex(where: { $0.id == id }) else { return nil }
        let promise = pending[index].promise
        pending[index].promise = nil
        return promise
    }

    /// The connection failed or closed: every waiting request fails, and so does every later one.
    package mutating func fail(_ error: RESPClientError) -> [Promise] {
        if failure == nil { failure = error }
        var promises: [Promise] = []
        while let next = pending.popFirst() {
            if let promise = next.promise { promises.append(promise) }
        }
        return promises
    }
}
