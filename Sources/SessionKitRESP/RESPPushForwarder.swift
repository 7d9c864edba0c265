import NIOCore

/// Hands every reply of a subscribed connection (`SUBSCRIBE`: the confirmation, then one
/// `message` array per event) to an `AsyncStream`, which ends when the connection closes.
package final class RESPPushForwarder: ChannelInboundHandler, Sendable {
    package typealias InboundIn = RESPReply

    private let continuation: AsyncStream<RESPReply>.Continuation

    package init(_ continuation: AsyncStream<RESPReply>.Continuation) {
        self.continuation = continuation
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(Self.unwrapInboundIn(data))
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}
