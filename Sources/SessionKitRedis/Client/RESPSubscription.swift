import NIOCore
import NIOPosix
import SessionKitRESP

/// A connection subscribed to pub/sub channels; its messages arrive as a stream.
enum RESPSubscription {
    /// Connects to `address`, subscribes to `channels` and returns every reply that follows
    /// (confirmations included). The stream ends when the connection closes; ending the
    /// iteration (or cancelling its task) closes the connection.
    static func open(
        _ address: RESPNodeAddress,
        channels: [String],
        configuration: RESPClientConfiguration,
        group: any EventLoopGroup
    ) async throws -> AsyncStream<RESPReply> {
        // Pub/sub here is for Sentinels' events; a TLS Sentinel is asked by the pool instead.
        guard !configuration.useTLS else { throw RESPClientError.connectFailed(reason: "subscriptions over TLS are not supported") }
        let (stream, continuation) = AsyncStream<RESPReply>.makeStream()
        let parser = RESPParser(limits: configuration.limits)
        let timeout = configuration.connectTimeout.components
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPReplyDecoder(parser: parser)))
                        try channel.pipeline.syncOperations.addHandler(RESPPushForwarder(continuation))
                    }
                }
                .connect(host: address.host, port: address.port).get()
        } catch {
            continuation.finish()
            throw RESPClientError.connectFailed(reason: "cannot connect to \(address)")
        }
        continuation.onTermination = { _ in channel.close(promise: nil) }
        var buffer = channel.allocator.buffer(capacity: 64)
        if let password = configuration.password {
            // Its reply (`+OK`, or an error the reader stops at) arrives before the confirmation.
            RESPCommand("AUTH", configuration.username.map { [$0, password] } ?? [password]).encode(into: &buffer)
        }
        RESPCommand("SUBSCRIBE", channels).encode(into: &buffer)
        do {
            try await channel.writeAndFlush(buffer)
        } catch {
            continuation.finish()
            try? await channel.close()
            throw RESPClientError.connectionClosed(reason: "cannot subscribe on \(address)")
        }
        return stream
    }
}
