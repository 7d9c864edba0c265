import NIOCore
import NIOEmbedded
import Testing

@testable import SessionKitRedis
@testable import SessionKitRESP

/// The outcome of a future on an `EmbeddedEventLoop`, recorded as soon as it completes (the
/// embedded loop runs callbacks inline, on the test's thread).
final class FutureOutcome<Value: Sendable>: @unchecked Sendable {
    private(set) var result: Result<Value, any Error>?

    init(_ future: EventLoopFuture<Value>) {
        future.whenComplete { self.result = $0 }
    }

    var isComplete: Bool { result != nil }

    var value: Value? {
        if case .success(let value) = result { return value }
        return nil
    }

    var redisError: RESPClientError? {
        if case .failure(let error) = result { return error as? RESPClientError }
        return nil
    }
}

/// An `EmbeddedChannel` with the client's pipeline: the RESP decoder and the command handler.
struct RedisTestChannel {
    let channel = EmbeddedChannel()
    private var promises: [EventLoopPromise<[RESPReply]>] = []

    init(limits: RESPParser.Limits = .init()) throws {
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(RESPReplyDecoder(parser: RESPParser(limits: limits))),
            RedisCommandHandler(),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    /// Writes a request and returns the outcome of its reply promise.
    mutating func send(_ commands: [RESPCommand], id: UInt64 = 0) throws -> FutureOutcome<[RESPReply]> {
        let promise = channel.eventLoop.makePromise(of: [RESPReply].self)
        promises.append(promise)
        let outcome = FutureOutcome(promise.futureResult)
        try channel.writeOutbound(RedisRequest(id: id, commands: commands, promise: promise))
        return outcome
    }

    /// All bytes written to the "server" so far.
    func written() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    /// Delivers bytes from the "server".
    func receive(_ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    func receive(_ text: String) throws {
        try receive(Array(text.utf8))
    }

    /// Closes the channel and completes any promise a test left open, so none leaks.
    func finish() {
        _ = try? channel.finish(acceptAlreadyClosed: true)
        for promise in promises { promise.fail(RESPClientError.connectionClosed(reason: "test finished")) }
    }
}

@Suite("Redis channel handlers (EmbeddedChannel)")
struct RedisChannelTests {
    static let threeCommands = [
        RESPCommand("SET", ["key", "value"]),
        RESPCommand("GET", ["key"]),
        RESPCommand("PING"),
    ]
    static let threeCommandsBytes = Array(
        "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n".utf8
    )

    @Test("a request of 3 commands is written as the exact RESP bytes, in one buffer")
    func encodesRequest() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send(Self.threeCommands)
        let first = try #require(try test.channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(first.readableBytesView) == Self.threeCommandsBytes)
        #expect(try test.channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(!outcome.isComplete)
    }

    @Test("binary arguments (CRLF, NUL, 0xFF, empty) are length-prefixed verbatim")
    func encodesBinaryArguments() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        _ = try test.send([RESPCommand(raw: [Array("SET".utf8), [0x0D, 0x0A, 0x00], [], [0xFF]])])
        let expected: [UInt8] =
            Array("*4\r\n$3\r\nSET\r\n$3\r\n".utf8) + [0x0D, 0x0A, 0x00] + Array("\r\n$0\r\n\r\n$1\r\n".utf8) + [0xFF, 0x0D, 0x0A]
        #expect(try test.written() == expected)
        var buffer = ByteBuffer()
        RESPCommand("GET", ["é"]).encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == Array("*2\r\n$3\r\nGET\r\n$2\r\né\r\n".utf8))
    }

    @Test("replies arriving in pieces complete the promise with 3 values, in order")
    func repliesInPieces() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send(Self.threeCommands)
        #expect(try test.written() == Self.threeCommandsBytes)
        let reply = Array("+OK\r\n$5\r\nvalue\r\n+PONG\r\n".utf8)
        for (index, byte) in reply.enumerated() {
            #expect(!outcome.isComplete, "completed after \(index) of \(reply.count) bytes")
            try test.receive([byte])
        }
        #expect(outcome.value == [.simpleString("OK"), .bulkString(Array("value".utf8)), .simpleString("PONG")])
    }

    @Test("replies split at every byte boundary complete the promise the same way")
    func repliesAtEverySplit() throws {
        let reply = Array("+OK\r\n*2\r\n$1\r\na\r\n$-1\r\n:3\r\n".utf8)
        for split in 0...reply.count {
            var test = try RedisTestChannel()
            defer { test.finish() }
            let outcome = try test.send(Self.threeCommands)
            try test.receive(Array(reply[0..<split]))
            #expect(outcome.isComplete == (split == reply.count), "split at \(split)")
            try test.receive(Array(reply[split...]))
            #expect(outcome.value == [.simpleString("OK"), .array([.bulkString([0x61]), .null]), .integer(3)], "split at \(split)")
        }
    }

    @Test("two requests pipelined back to back each get their own replies")
    func pipelinedRequests() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let first = try test.send([RESPCommand("INCR", ["a"]), RESPCommand("INCR", ["a"])])
        let empty = try test.send([])
        let second = try test.send([RESPCommand("GET", ["b"])])
        #expect(empty.value == [], "an empty request completes at once")
        #expect(try test.written() == Array("*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n".utf8))
        // The first request's last reply and the second's arrive in one read.
        try test.receive(":1\r\n")
        #expect(!first.isComplete && !second.isComplete)
        try test.receive(":2\r\n$2\r\n")
        #expect(first.value == [.integer(1), .integer(2)])
        #expect(!second.isComplete)
        try test.receive("hi\r\n")
        #expect(second.value == [.bulkString(Array("hi".utf8))])

        // All three replies for two requests in one read.
        let third = try test.send([RESPCommand("PING")])
        let fourth = try test.send([RESPCommand("PING"), RESPCommand("ECHO", ["x"])])
        try test.receive("+PONG\r\n+PONG\r\n$1\r\nx\r\n")
        #expect(third.value == [.simpleString("PONG")])
        #expect(fourth.value == [.simpleString("PONG"), .bulkString([0x78])])
        #expect(test.channel.isActive)
    }

    @Test("an error reply is returned as a value in its place, not thrown")
    func errorReplyInPlace() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send([RESPCommand("SET", ["k", "v"]), RESPCommand("INCR", ["h"]), RESPCommand("GET", ["k"])])
        let next = try test.send([RESPCommand("PING")])
        try test.receive("+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\nv\r\n+PONG\r\n")
        let values = try #require(outcome.value)
        #expect(values == [.simpleString("OK"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"), .bulkString([0x76])])
        #expect(values[1].serverError == .server(kind: "WRONGTYPE", message: "Operation against a key holding the wrong kind of value"))
        #expect(next.value == [.simpleString("PONG")])
        #expect(test.channel.isActive)
    }

    @Test("a RESP3 blob error and push-shaped replies are ordinary values too")
    func resp3Replies() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send([RESPCommand("HELLO", ["3"]), RESPCommand("EVAL", ["x", "0"])])
        try test.receive("%1\r\n+proto\r\n:3\r\n!14\r\nERR bad script\r\n")
        #expect(outcome.value == [.map([(.simpleString("proto"), .integer(3))]), .error("ERR bad script")])
    }

    @Test("a RESP3 push (out of band, e.g. a tracking invalidation) does not take the place of a reply")
    func pushIsNotAReply() throws {
        // BUG (RESPParser maps `>` pushes to .array; RedisCommandHandler.channelRead counts every
        // value as the reply of the oldest request): with RESP3 the server may send pushes at
        // any time (CLIENT TRACKING invalidations, pub/sub messages); the push is handed to the
        // waiting request as its reply, and the real reply then arrives "unsolicited" and
        // closes the connection, or is matched to the next request.
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send([RESPCommand("GET", ["a"])])
        try test.receive(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\n1\r\n")
        #expect(outcome.value == [.bulkString(Array("1".utf8))], "the request got \(String(describing: outcome.result))")
        #expect(test.channel.isActive, "the real reply was taken for an unsolicited one and closed the connection")
    }

    @Test("an unsolicited reply (no pending request) closes the connection")
    func unsolicitedReply() throws {
        let test = try RedisTestChannel()
        defer { test.finish() }
        try test.receive("+OK\r\n")
        #expect(!test.channel.isActive)
    }

    @Test("a surplus reply after the last pending request closes the connection")
    func surplusReply() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send([RESPCommand("PING")])
        try test.receive("+PONG\r\n+PONG\r\n")
        #expect(outcome.value == [.simpleString("PONG")])
        #expect(!test.channel.isActive)
    }

    @Test("channelInactive fails every pending request with connectionClosed")
    func inactiveFailsPending() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let first = try test.send([RESPCommand("GET", ["a"]), RESPCommand("GET", ["b"])])
        let second = try test.send([RESPCommand("PING")])
        try test.receive("$1\r\n1\r\n")  // half of the first request's replies
        #expect(!first.isComplete)
        test.channel.pipeline.fireChannelInactive()
        guard first.redisError?.code == .connectionClosed else {
            Issue.record("first: \(String(describing: first.result))")
            return
        }
        guard second.redisError?.code == .connectionClosed else {
            Issue.record("second: \(String(describing: second.result))")
            return
        }
    }

    @Test("closing the channel fails pending requests with connectionClosed")
    func closeFailsPending() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let pending = try test.send([RESPCommand("PING")])
        try test.channel.close().wait()
        guard pending.redisError?.code == .connectionClosed else {
            Issue.record("pending: \(String(describing: pending.result))")
            return
        }
    }

    @Test("malformed bytes fail every pending request with protocolViolation and close")
    func malformedBytes() throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let first = try test.send([RESPCommand("PING"), RESPCommand("PING")])
        let second = try test.send([RESPCommand("PING")])
        try? test.receive("+PONG\r\n?garbage\r\n")
        guard first.redisError?.code == .protocolViolation else {
            Issue.record("first: \(String(describing: first.result))")
            return
        }
        guard second.redisError?.code == .protocolViolation else {
            Issue.record("second: \(String(describing: second.result))")
            return
        }
        #expect(!test.channel.isActive)
    }

    @Test("a reply over the configured limits fails pending requests with protocolViolation")
    func replyOverLimits() throws {
        var test = try RedisTestChannel(limits: .init(maxBulkLength: 8))
        defer { test.finish() }
        let pending = try test.send([RESPCommand("GET", ["big"])])
        try? test.receive("$9\r\n")
        guard pending.redisError?.code == .protocolViolation else {
            Issue.record("pending: \(String(describing: pending.result))")
            return
        }
        #expect(!test.channel.isActive)
    }

    @Test("an unterminated header line over the limit fails pending requests instead of waiting")
    func unterminatedLine() throws {
        var test = try RedisTestChannel(limits: .init(maxLineLength: 32))
        defer { test.finish() }
        let pending = try test.send([RESPCommand("PING")])
        for _ in 0..<10 { try? test.receive("+" + String(repeating: "x", count: 10)) }
        guard pending.redisError?.code == .protocolViolation else {
            Issue.record("pending: \(String(describing: pending.result))")
            return
        }
    }
}
