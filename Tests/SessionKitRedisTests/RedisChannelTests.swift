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

    init() throws {
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(RESPReplyDecoder(parser: RESPParser())),
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

/// A request and the exact bytes the handler must write for it.
struct EncodedRequest: Sendable, CustomTestStringConvertible {
    let name: String
    let commands: [RESPCommand]
    let bytes: [UInt8]
    var testDescription: String { name }
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

    static let encodedRequests: [EncodedRequest] = [
        EncodedRequest(name: "3 commands, one buffer", commands: threeCommands, bytes: threeCommandsBytes),
        EncodedRequest(
            name: "binary arguments (CRLF, NUL, empty, 0xFF) are length-prefixed verbatim",
            commands: [RESPCommand(raw: [Array("SET".utf8), [0x0D, 0x0A, 0x00], [], [0xFF]])],
            bytes: Array("*4\r\n$3\r\nSET\r\n$3\r\n".utf8) + [0x0D, 0x0A, 0x00] + Array("\r\n$0\r\n\r\n$1\r\n".utf8) + [0xFF, 0x0D, 0x0A]
        ),
        EncodedRequest(
            name: "a UTF-8 argument's length is its byte count",
            commands: [RESPCommand("GET", ["é"])],
            bytes: Array("*2\r\n$3\r\nGET\r\n$2\r\né\r\n".utf8)
        ),
        EncodedRequest(name: "empty request", commands: [], bytes: []),
    ]

    @Test(
        "a request is written as its exact RESP bytes, in one buffer; an empty one writes nothing and completes at once",
        arguments: RedisChannelTests.encodedRequests
    )
    func encodesRequest(_ row: EncodedRequest) throws {
        var test = try RedisTestChannel()
        defer { test.finish() }
        let outcome = try test.send(row.commands)
        if row.commands.isEmpty {
            #expect(try test.channel.readOutbound(as: ByteBuffer.self) == nil, "an empty request wrote bytes")
            #expect(outcome.value == [], "an empty request did not complete at once")
        } else {
            let first = try #require(try test.channel.readOutbound(as: ByteBuffer.self))
            #expect(Array(first.readableBytesView) == row.bytes)
            #expect(try test.channel.readOutbound(as: ByteBuffer.self) == nil, "written in more than one buffer")
            #expect(!outcome.isComplete)
        }
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

    @Test("an unsolicited reply (no pending request) closes the connection")
    func unsolicitedReply() throws {
        let test = try RedisTestChannel()
        defer { test.finish() }
        try test.receive("+OK\r\n")
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
}
