import NIOCore

/// Turns bytes from the server into ``RESPReply`` replies (a `ByteToMessageDecoder`).
package struct RESPReplyDecoder: ByteToMessageDecoder {
    package typealias InboundOut = RESPReply

    let parser: RESPParser

    package init(parser: RESPParser) {
        self.parser = parser
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    package mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// A batch of commands written together (a pipeline) and the promise for their replies.
package struct RedisRequest {
    package let commands: [RESPCommand]
    package let promise: EventLoopPromise<[RESPReply]>

    package init(commands: [RESPCommand], promise: EventLoopPromise<[RESPReply]>) {
        self.commands = commands
        self.promise = promise
    }
}

/// Matches replies to requests in order, so many requests can be in flight on one connection.
///
/// Writes encode each request's commands into one buffer; replies are collected until the
/// request at the head of the queue has one per command. When the connection fails or
/// closes, every waiting request fails with a typed ``RESPClientError``.
package final class RedisCommandHandler: ChannelDuplexHandler {
    package typealias InboundIn = RESPReply
    package typealias OutboundIn = RedisRequest
    package typealias OutboundOut = ByteBuffer

    package init() {}

    private struct Pending {
        let promise: EventLoopPromise<[RESPReply]>
        let expected: Int
        var replies: [RESPReply]
    }

    private var pending = CircularBuffer<Pending>()

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        guard !request.commands.isEmpty else {
            request.promise.succeed([])
            promise?.succeed(())
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 128 * request.commands.count)
        for command in request.commands { command.encode(into: &buffer) }
        pending.append(Pending(promise: request.promise, expected: request.commands.count, replies: []))
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        // RESP3 pushes (client-side caching invalidations, pub/sub) are not replies; this
        // client subscribes to nothing, so they are dropped.
        if case .push = value { return }
        guard var head = pending.popFirst() else {
            // A reply nobody asked for: the stream is out of step; it cannot be trusted.
            failAll(.protocolViolation(reason: "unsolicited reply"))
            context.close(promise: nil)
            return
        }
        head.replies.append(value)
        if head.replies.count == head.expected {
            head.promise.succeed(head.replies)
        } else {
            pending.prepend(head)
        }
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error as? RESPClientError ?? .protocolViolation(reason: String(describing: type(of: error))))
        context.close(promise: nil)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed(reason: "the server closed the connection"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: RESPClientError) {
        while let next = pending.popFirst() { next.promise.fail(error) }
    }
}
