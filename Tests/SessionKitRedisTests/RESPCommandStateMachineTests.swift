import NIOCore
import NIOEmbedded
import Testing

@testable import SessionKitRESP

/// The command handler's state machine, transition by transition, without a channel; then
/// cancellation by request through a real pipeline on an `EmbeddedChannel`.
@Suite("RESP command state machine")
struct RESPCommandStateMachineTests {
    typealias Machine = RESPCommandStateMachine<String>

    @Test("replies complete requests in order; a pipeline waits for all of its replies")
    func repliesCompleteInOrder() {
        var machine = Machine()
        guard case .write = machine.enqueue(1, expected: 2, promise: "a"), case .write = machine.enqueue(2, expected: 1, promise: "b") else {
            Issue.record("a request on a healthy connection was not written")
            return
        }
        guard case .none = machine.received(.integer(1)) else { Issue.record("completed after 1 of 2 replies"); return }
        guard case .succeed("a", let replies) = machine.received(.integer(2)) else { Issue.record("a did not complete"); return }
        #expect(replies == [.integer(1), .integer(2)])
        guard case .succeed("b", [.integer(3)]) = machine.received(.integer(3)) else { Issue.record("b did not complete"); return }
        #expect(machine.pendingCount == 0)
    }

    @Test("an empty request succeeds at once and is never queued")
    func emptyRequest() {
        var machine = Machine()
        guard case .succeedEmpty("e") = machine.enqueue(1, expected: 0, promise: "e") else { Issue.record("empty request queued"); return }
        #expect(machine.pendingCount == 0)
    }

    @Test("pushes are not replies: they are handed on, and the request still waits for its reply")
    func pushesAreHandedOn() {
        var machine = Machine()
        _ = machine.enqueue(1, expected: 1, promise: "a")
        let push = RESPReply.push([.bulkString(Array("invalidate".utf8)), .null])
        guard case .push(push) = machine.received(push) else {
            Issue.record("a push completed a request or was dropped"); return
        }
        guard case .succeed("a", _) = machine.received(.simpleString("OK")) else { Issue.record("the reply after a push was lost"); return }
    }

    @Test("a cancelled request fails at once, and its late replies are dropped, not given to the next request")
    func cancellationDropsLateReplies() {
        var machine = Machine()
        _ = machine.enqueue(1, expected: 2, promise: "cancelled")
        _ = machine.enqueue(2, expected: 1, promise: "next")
        #expect(machine.cancel(1) == "cancelled")
        #expect(machine.cancel(1) == nil, "a request was cancelled twice")
        guard case .none = machine.received(.integer(1)), case .none = machine.received(.integer(2)) else {
            Issue.record("a cancelled request's replies completed something")
            return
        }
        guard case .succeed("next", [.integer(3)]) = machine.received(.integer(3)) else {
            Issue.record("the next request got the wrong reply"); return
        }
        #expect(machine.cancel(2) == nil, "a completed request could still be cancelled")
    }

    @Test("an unsolicited reply fails every waiting request and closes; later requests fail at once")
    func unsolicitedReplyPoisonsTheConnection() {
        var machine = Machine()
        guard case .failAndClose([], .protocolViolation) = machine.received(.integer(1)) else { Issue.record("unsolicited reply accepted"); return }
        guard case .fail("late", .protocolViolation) = machine.enqueue(1, expected: 1, promise: "late") else {
            Issue.record("a request after a protocol violation was written")
            return
        }
    }

    @Test("a closed connection fails what waits, except cancelled requests, and everything after")
    func closeFailsWaiters() {
        var machine = Machine()
        _ = machine.enqueue(1, expected: 1, promise: "a")
        _ = machine.enqueue(2, expected: 1, promise: "b")
        _ = machine.cancel(1)
        #expect(machine.fail(.connectionClosed(reason: "gone")) == ["b"])
        guard case .fail("c", .connectionClosed) = machine.enqueue(3, expected: 1, promise: "c") else { Issue.record("written after close"); return }
    }

    @Test("over a pipeline: cancelling one request leaves the connection usable for the next")
    func cancellationOverAChannel() throws {
        var channel = try RedisTestChannel()
        let first = try channel.send([RESPCommand("GET", ["slow"])], id: 1)
        let second = try channel.send([RESPCommand("GET", ["fast"])], id: 2)
        channel.channel.pipeline.triggerUserOutboundEvent(RESPCancelRequest(id: 1, error: .cancelled), promise: nil)
        #expect(first.redisError == .cancelled)
        try channel.receive("$4\r\nslow\r\n$4\r\nfast\r\n")
        #expect(second.value == [.bulkString(Array("fast".utf8))])
        #expect(channel.channel.isActive)
    }
}
