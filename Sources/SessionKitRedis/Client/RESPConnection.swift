import SessionKitRESP
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One connection to Redis or Valkey: many requests may be in flight on it at once
/// (pipelining), each with its own timeout.
public final class RESPConnection: Sendable {
    let channel: any Channel
    let commandTimeout: Duration
    /// Numbers this connection's requests, so a cancelled caller can name its own.
    private let requestIDs = Atomic<UInt64>(0)
    /// Names this connection to a ``RESPTrackingObserver``; unique in the process.
    package let id: UInt64
    private static let connectionIDs = Atomic<UInt64>(0)

    init(channel: any Channel, commandTimeout: Duration, id: UInt64) {
        self.channel = channel
        self.commandTimeout = commandTimeout
        self.id = id
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Opens a connection and runs the handshake (`HELLO 3`/`AUTH`, `SELECT`).
    public static func connect(
        _ configuration: RESPClientConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RESPConnection {
        try await connect(configuration, group: group, tracking: nil)
    }

    /// Opens a connection; with `tracking`, a RESP3 one with `CLIENT TRACKING ON OPTIN` whose
    /// invalidations and closing go to the observer (it hears of the closing even when the
    /// handshake fails).
    package static func connect(
        _ configuration: RESPClientConfiguration,
        group: any EventLoopGroup,
        tracking: (any RESPTrackingObserver)?
    ) async throws -> RESPConnection {
        let id = connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue
        let onPush: (@Sendable (RESPReply) -> Void)? = tracking.map { observer in
            { @Sendable push in
                if let invalidation = RESPInvalidation(push: push) { observer.invalidated(invalidation, connection: id) }
            }
        }
        let sslContext: NIOSSLContext?
        if configuration.useTLS {
            do {
                sslContext = try NIOSSLContext(configuration: .makeClientConfiguration())
            } catch {
                throw RESPClientError.connectFailed(reason: "TLS setup failed")
            }
        } else {
            sslContext = nil
        }
        let parser = RESPParser(limits: configuration.limits)
        let host = configuration.host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(
                .nanoseconds(
                    Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000 + configuration.connectTimeout.components.attoseconds
                        / 1_000_000_000
                )
            )
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        // SNI takes host names only; an IP address is verified without it.
                        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: isAddress ? nil : host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPReplyDecoder(parser: parser)))
                    try channel.pipeline.syncOperations.addHandler(RedisCommandHandler(onPush: onPush))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RESPClientError.connectFailed(reason: "cannot connect to \(configuration.host):\(configuration.port)")
        }
        if let tracking {
            channel.closeFuture.whenComplete { _ in tracking.trackingEnded(connection: id) }
        }
        let connection = RESPConnection(channel: channel, commandTimeout: configuration.commandTimeout, id: id)
        do {
            try await connection.handshake(configuration, tracking: tracking != nil)
        } catch {
            try? await channel.close()
            throw error
        }
        return connection
    }

    private func handshake(_ configuration: RESPClientConfiguration, tracking: Bool) async throws {
        var commands: [RESPCommand] = []
        // Invalidations arrive as pushes on the connection itself, which needs RESP3.
        if configuration.protocolVersion == 3 || tracking {
            var hello = ["3"]
            if let password = configuration.password {
                hello += ["AUTH", configuration.username ?? "default", password]
            }
            commands.append(RESPCommand("HELLO", hello))
        } else if let password = configuration.password {
            commands.append(RESPCommand("AUTH", configuration.username.map { [$0, password] } ?? [password]))
        }
        if configuration.database != 0 {
            commands.append(RESPCommand("SELECT", [String(configuration.database)]))
        }
        if tracking {
            commands.append(RESPCommand("CLIENT", ["TRACKING", "ON", "OPTIN"]))
        }
        guard !commands.isEmpty else { return }
        for reply in try await send(commands) {
            if let error = reply.serverError { throw error }
        }
    }

    /// Sends commands in one write and returns one reply per command, in order. Error replies
    /// are returned as `RESPReply.error(_:)`, not thrown; connection failures and timeouts
    /// throw `RESPClientError`. Cancelling the calling task fails the call at once with
    /// `RESPClientError.cancelled`; the connection stays usable (the late replies are dropped).
    ///
    /// `extendingTimeoutBy` lengthens this call's command timeout, for a command that blocks
    /// on purpose (`WAIT`).
    public func send(_ commands: [RESPCommand], extendingTimeoutBy extra: Duration = .zero) async throws -> [RESPReply] {
        let id = requestIDs.wrappingAdd(1, ordering: .relaxed).newValue
        let promise = channel.eventLoop.makePromise(of: [RESPReply].self)
        let channel = self.channel
        let limit = (commandTimeout + extra).components
        let timeout = channel.eventLoop.scheduleTask(
            in: .nanoseconds(Int64(limit.seconds) * 1_000_000_000 + limit.attoseconds / 1_000_000_000)
        ) {
            // A late reply would be matched to the next request: close the connection.
            promise.fail(RESPClientError.timedOut)
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        channel.writeAndFlush(RedisRequest(id: id, commands: commands, promise: promise)).whenFailure { _ in
            promise.fail(RESPClientError.connectionClosed(reason: "write failed"))
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.triggerUserOutboundEvent(RESPCancelRequest(id: id, error: .cancelled), promise: nil)
        }
    }

    /// Sends one command and returns its reply, throwing server errors as `RESPClientError.server(kind:message:)`.
    public func send(_ command: RESPCommand) async throws -> RESPReply {
        let reply = try await send([command]).first ?? .null
        if let error = reply.serverError { throw error }
        return reply
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }
}
