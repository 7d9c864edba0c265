import NIOCore

/// Turns bytes from the server into ``RESPReply`` replies (a `ByteToMessageDecoder`).
///
/// The parser resumes the reply in progress on every read: the elements already received are
/// consumed from the buffer and kept in the parser, so a large reply arriving in many reads is
/// parsed once. A parse error closes the connection (``RedisCommandHandler``).
package struct RESPReplyDecoder: ByteToMessageDecoder {
    package typealias InboundOut = RESPReply

    /// The parser, holding the part of the reply in progress that has been parsed so far.
    var parser: RESPParser

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
    package let id: RESPCommandStateMachine<EventLoopPromise<[RESPReply]>>.RequestID
    package let commands: [RESPCommand]
    package let promise: EventLoopPromise<[RESPReply]>

    package init(id: UInt64 = 0, commands: [RESPCommand], promise: EventLoopPromise<[RESPReply]>) {
        self.id = id
        self.commands = commands
        self.promise = promise
    }
}

/// An outbound user event: the caller of request `id` gave up (its task was cancelled). The
/// request fails with `error` at once; its replies are dropped when they arrive, so the
/// connection stays usable.
package struct RESPCancelRequest: Sendable {
    package let id: UInt64
    package let error: RESPClientError

    package init(id: UInt64, error: RESPClientError) {
        self.id = id
        self.error = error
    }
}

/// Matches replies to requests in order, so many requests can be in flight on one connection.
///
/// The decisions live in ``RESPCommandStateMachine``; this handler only performs the actions
/// it returns: encode and write, complete or fail promises, close the channel.
package final class RedisCommandHandler: ChannelDuplexHandler {
    package typealias InboundIn = RESPReply
    package typealias OutboundIn = RedisRequest
    package typealias OutboundOut = ByteBuffer

    private var state = RESPCommandStateMachine<EventLoopPromise<[RESPReply]>>()
    /// Called on the event loop with every RESP3 push, in stream order with the replies: a
    /// push read before a reply is handled before that reply's request completes.
    private let onPush: (@Sendable (RESPReply) -> Void)?

    /// Creates the handler; `onPush` receives the connection's pushes (dropped without one).
    package init(onPush: (@Sendable (RESPReply) -> Void)? = nil) {
        self.onPush = onPush
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        switch state.enqueue(request.id, expected: request.commands.count, promise: request.promise) {
        case .write:
            var buffer = context.channel.allocator.buffer(capacity: 128 * request.commands.count)
            for command in request.commands { command.encode(into: &buffer) }
            context.write(Self.wrapOutboundOut(buffer), promise: promise)
        case .succeedEmpty(let replies):
            replies.succeed([])
            promise?.succeed(())
        case .fail(let replies, let error):
            replies.fail(error)
            promise?.fail(error)
        }
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state.received(Self.unwrapInboundIn(data)) {
        case .none:
            break
        case .push(let push):
            onPush?(push)
        case .succeed(let promise, let replies):
            promise.succeed(replies)
        case .failAndClose(let promises, let error):
            for promise in promises { promise.fail(error) }
            context.close(promise: nil)
        }
    }

    package func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let cancel = event as? RESPCancelRequest else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        state.cancel(cancel.id)?.fail(cancel.error)
        promise?.succeed(())
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure = error as? RESPClientError ?? .protocolViolation(reason: String(describing: type(of: error)))
        for promise in state.fail(failure) { promise.fail(failure) }
        context.close(promise: nil)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        let failure = RESPClientError.connectionClosed(reason: "the server closed the connection")
        for promise in state.fail(failure) { promise.fail(failure) }
        context.fireChannelInactive()
    }
}
