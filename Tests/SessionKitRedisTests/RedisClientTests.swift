import Foundation
import NIOCore
import NIOPosix
import SessionKit
import SessionKitTesting
import Synchronization
import Testing

@testable import SessionKitRedis
@testable import SessionKitRESP

// MARK: - Support

enum ClientTestSupport {
    /// A key prefix of the test's own; every test deletes the keys it creates.
    static func prefix() -> String { "skc:\(UUID().uuidString.prefix(8)):" }

    static func configuration(_ edit: (inout RESPClientConfiguration) -> Void = { _ in }) throws -> RESPClientConfiguration {
        var configuration = try RedisTestServer.configuration()
        edit(&configuration)
        return configuration
    }

    static func pool(_ edit: (inout RESPClientConfiguration) -> Void = { _ in }) throws -> RESPConnectionPool {
        RESPConnectionPool(configuration: try configuration(edit))
    }

    /// The typed error `body` threw; `nil` if it succeeded. Any other error is recorded.
    static func redisError<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async -> RESPClientError? {
        do {
            _ = try await body()
            return nil
        } catch let error as RESPClientError {
            return error
        } catch {
            Issue.record("expected a RESPClientError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Runs `redis-cli -h <host> -p <port> <arguments>` and returns its trimmed output.
    static func redisCLI(_ arguments: [String]) throws -> String {
        // posix_spawn + waitpid (ChildProcess), not Foundation's Process: its waitUntilExit
        // can hang when other tests spawn and reap children at the same time.
        let configuration = try RedisTestServer.configuration()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("redis-cli-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = try ChildProcess(
            executable: "/usr/bin/redis-cli",
            arguments: ["-h", configuration.host, "-p", String(configuration.port)] + arguments,
            logPath: output
        )
        let status = process.waitForExit()
        #expect(status == 0, "redis-cli \(arguments) exited with \(status)")
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Deletes every key under `prefix` (in the pool's database).
    static func deleteKeys(_ prefix: String, pool: RESPConnectionPool) async throws {
        let keys = try await pool.send(RESPCommand("KEYS", [prefix + "*"])).array?.compactMap(\.string) ?? []
        if !keys.isEmpty { _ = try await pool.send(RESPCommand("DEL", keys)) }
    }

    /// Runs `body`, then `cleanup` whether or not `body` threw.
    static func withCleanup<T>(_ body: () async throws -> T, cleanup: () async throws -> Void) async throws -> T {
        let result: T
        do {
            result = try await body()
        } catch {
            try? await cleanup()
            throw error
        }
        try await cleanup()
        return result
    }
}

// MARK: - URL parsing (no server needed)

@Suite("Redis configuration URLs")
struct RedisURLTests {
    /// A valid URL and every field it must configure.
    struct URLCase: Sendable, CustomTestStringConvertible {
        var url: String
        var host = "127.0.0.1"
        var port = 6379
        var useTLS = false
        var username: String? = nil
        var password: String? = nil
        var database = 0
        var protocolVersion = 2
        var testDescription: String { url }
    }

    static let validURLs: [URLCase] = [
        URLCase(url: "redis://cache.internal:6380", host: "cache.internal", port: 6380),
        URLCase(url: "redis://localhost", host: "localhost"),  // the port defaults to 6379
        URLCase(url: "redis://localhost/", host: "localhost"),  // an empty path means db 0
        URLCase(url: "rediss://secure.example.com:6380/1", host: "secure.example.com", port: 6380, useTLS: true, database: 1),
        URLCase(url: "redis://alice:s3cret@127.0.0.1:6379/0", username: "alice", password: "s3cret"),
        URLCase(url: "redis://:onlypass@127.0.0.1", password: "onlypass"),
        URLCase(url: "redis://bob@127.0.0.1", username: "bob"),
        URLCase(url: "redis://us%40er:p%40ss%3Aw%2Fd@127.0.0.1", username: "us@er", password: "p@ss:w/d"),
        // Regression row: "100%41" percent-encoded is "100%2541". URLComponents already decodes
        // the password; decoding it a second time once turned it into "100A".
        URLCase(url: "redis://user:100%2541@127.0.0.1", username: "user", password: "100%41"),
        URLCase(url: "redis://127.0.0.1/15", database: 15),
        URLCase(url: "redis://127.0.0.1:6379/3?protocol=3", database: 3, protocolVersion: 3),
        URLCase(url: "redis://127.0.0.1?protocol=3", protocolVersion: 3),
        URLCase(url: "redis://127.0.0.1?protocol=2"),
        URLCase(url: "redis://127.0.0.1?other=x"),  // an unknown query item is ignored
    ]

    @Test("valid redis:// and rediss:// URLs configure every field", arguments: RedisURLTests.validURLs)
    func valid(_ row: URLCase) throws {
        let configuration = try RESPClientConfiguration(url: row.url)
        #expect(configuration.host == row.host)
        #expect(configuration.port == row.port)
        #expect(configuration.useTLS == row.useTLS)
        #expect(configuration.username == row.username)
        #expect(configuration.password == row.password)
        #expect(configuration.database == row.database)
        #expect(configuration.protocolVersion == row.protocolVersion)
    }
    @Test(
        "malformed URLs throw RESPClientError.invalidURL",
        arguments: [
            "http://127.0.0.1:6379",  // scheme
            "redis+tls://127.0.0.1",
            "127.0.0.1:6379",
            "",
            "not a url",
            "redis:///0",  // no host
            "redis://",
            "redis://127.0.0.1/abc",  // database
            "redis://127.0.0.1/-1",
            "redis://127.0.0.1/1.5",
            "redis://127.0.0.1/1/2",
            "redis://127.0.0.1?protocol=4",  // protocol
            "redis://127.0.0.1?protocol=1",
            "redis://127.0.0.1?protocol=",
            "redis://127.0.0.1?protocol=three",
        ]
    )
    func invalid(_ url: String) {
        do {
            let configuration = try RESPClientConfiguration(url: url)
            Issue.record("\(url.debugDescription) parsed as \(configuration.host):\(configuration.port)/\(configuration.database)")
        } catch {
            guard error.code == .invalidURL else {
                Issue.record("\(url.debugDescription) threw \(error), not invalidURL")
                return
            }
        }
    }

    @Test("the error description names the problem, not the credentials")
    func descriptions() {
        do {
            _ = try RESPClientConfiguration(url: "redis://user:hunter2@127.0.0.1/notanumber")
            Issue.record("parsed")
        } catch {
            #expect(!error.description.contains("hunter2"))
            #expect(error.description.contains("invalid Redis URL"))
        }
    }
}

// MARK: - Backoff (no server needed: a closed port)

@Suite("Redis pool backoff", .serialized)
struct RedisBackoffTests {
    /// Nothing listens on 127.0.0.1:1; connecting fails at once with "connection refused".
    static func closedPortPool(connectionCount: Int = 1, initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .seconds(1))
        -> RESPConnectionPool
    {
        RESPConnectionPool(
            configuration: RESPClientConfiguration(
                host: "127.0.0.1",
                port: 1,
                connectionCount: connectionCount,
                initialBackoff: initialBackoff,
                maxBackoff: maxBackoff
            )
        )
    }

    @Test("a closed port fails with connectionClosed, then the next call fails fast with backingOff")
    func closedPort() async {
        // A first backoff long enough that a loaded machine cannot outlast it between the calls.
        let pool = Self.closedPortPool(initialBackoff: .seconds(5), maxBackoff: .seconds(5))
        let first = await ClientTestSupport.redisError { try await pool.send(RESPCommand("PING")) }
        guard first?.code == .connectionClosed else {
            Issue.record("first call: \(String(describing: first))")
            return
        }
        let started = ContinuousClock.now
        let second = await ClientTestSupport.redisError { try await pool.send(RESPCommand("PING")) }
        let elapsed = ContinuousClock.now - started
        guard second?.code == .backingOff, let retryIn = second?.retryInMilliseconds else {
            Issue.record("second call: \(String(describing: second))")
            return
        }
        #expect((1...5000).contains(retryIn), "first backoff is 5 s, got \(retryIn)")
        #expect(elapsed < .seconds(4), "backing off must not wait for the backoff: took \(elapsed)")
        await pool.close()
    }

    @Test("after the backoff the pool tries again, and the next backoff is longer, capped by maxBackoff")
    func backoffGrows() async {
        let pool = Self.closedPortPool(maxBackoff: .milliseconds(1000))
        _ = await ClientTestSupport.redisError { try await pool.send(RESPCommand("PING")) }
        // Call until the pool stops backing off and tries to connect again (each call returns at once).
        let deadline = ContinuousClock.now + .seconds(5)
        var retried: RESPClientError?
        while ContinuousClock.now < deadline {
            let error = await ClientTestSupport.redisError { try await pool.send(RESPCommand("PING")) }
            if error?.code == .backingOff {
                await Task.yield()
                continue
            }
            retried = error
            break
        }
        guard retried?.code == .connectionClosed else {
            Issue.record("the retry after the backoff: \(String(describing: retried))")
            return
        }
        let next = await ClientTestSupport.redisError { try await pool.send(RESPCommand("PING")) }
        guard next?.code == .backingOff, let retryIn = next?.retryInMilliseconds else {
            Issue.record("after the second failure: \(String(describing: next))")
            return
        }
        #expect((51...100).contains(retryIn), "the second backoff doubles to 100 ms, got \(retryIn)")

        let capped = Self.closedPortPool(maxBackoff: .milliseconds(20))
        _ = await ClientTestSupport.redisError { try await capped.send(RESPCommand("PING")) }
        let cappedError = await ClientTestSupport.redisError { try await capped.send(RESPCommand("PING")) }
        if let retryIn = cappedError?.retryInMilliseconds {
            #expect(retryIn <= 20, "maxBackoff 20 ms, got \(retryIn)")
        }
        await pool.close()
        await capped.close()
    }

    @Test("each connection slot backs off by itself: with 4 connections the 5th call is the first to back off")
    func backoffPerSlot() async {
        // A long first backoff, so a slow machine cannot outlast it between the calls.
        let pool = Self.closedPortPool(connectionCount: 4, initialBackoff: .seconds(30), maxBackoff: .seconds(30))
        var errors: [RESPClientError?] = []
        for _ in 0..<5 {
            errors.append(await ClientTestSupport.redisError { try await pool.send(RESPCommand("PING")) })
        }
        for error in errors.prefix(4) {
            guard error?.code == .connectionClosed else {
                Issue.record("expected connectionClosed, got \(String(describing: error))")
                continue
            }
        }
        guard errors[4]?.code == .backingOff else {
            Issue.record("5th call: \(String(describing: errors[4]))")
            return
        }
        await pool.close()
    }
}

// MARK: - TLS (no Redis needed: a plain TCP listener that records what the client sends)

/// Records the first byte each accepted connection sends, then closes it.
final class FirstByteRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let firstBytes = Mutex<[UInt8]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        if let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
            firstBytes.withLock { $0.append(byte) }
        }
        context.close(promise: nil)
    }
}

@Suite("Redis TLS connection setup")
struct RedisTLSTests {
    /// Connects with `useTLS` to a listener on 127.0.0.1 under the name `host` and returns the
    /// first bytes the listener received (0x16 starts a TLS handshake record).
    static func firstBytes(connectingAs host: String) async throws -> (bytes: [UInt8], error: RESPClientError?) {
        let recorder = FirstByteRecorder()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(recorder) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        // A password makes the handshake wait for a reply, so the TLS handshake is attempted.
        let configuration = RESPClientConfiguration(
            host: host,
            port: port,
            password: "x",
            useTLS: true,
            connectTimeout: .seconds(2),
            commandTimeout: .seconds(2)
        )
        let error = await ClientTestSupport.redisError { try await RESPConnection.connect(configuration) }
        try await server.close()
        return (recorder.firstBytes.withLock { $0 }, error)
    }

    /// Regression test for the IP address: RESPConnection.connect once passed every host to
    /// NIOSSLClientHandler as serverHostname, which NIOSSL rejects for an IP address
    /// (cannotUseIPAddressInSNI), so a rediss:// URL with an IP address never connected. An IP
    /// address now gets no SNI.
    @Test(
        "rediss:// starts a TLS handshake with a host name and with an IP address (SNI only for names)",
        arguments: ["localhost", "127.0.0.1"]
    )
    func tlsHandshakeStarts(connectingAs host: String) async throws {
        let result = try await Self.firstBytes(connectingAs: host)
        #expect(result.bytes.first == 0x16, "first bytes \(result.bytes), error \(String(describing: result.error))")
        #expect(result.error != nil, "a plain listener cannot complete a TLS handshake")
    }
}

// MARK: - Against the real server

/// Nested in the store suite so it shares its `.serialized` trait: the store suite stops and
/// restarts the server, and `CLIENT PAUSE` here would stall the store tests' 500 ms commands;
/// neither may run while the other does.
extension RedisStoreTests {
    @Suite(
        "Redis client",
        .serialized,
        .enabled(if: RedisTestServer.isConfigured, RedisTestServer.skipReason),
        .disabled(
            if: RedisTestServer.isConfigured && !RedisTestServer.isSingleServer,
            "single-server client tests; the cluster and Sentinel clients have their own suites"
        )
    )
    struct ClientTests {
        // MARK: RESP3

        @Test("protocol=3 (HELLO 3): replies come back as RESP3 types")
        func resp3Types() async throws {
            let url = try #require(RedisTestServer.url)
            let configuration = try RESPClientConfiguration(url: url + (url.contains("?") ? "&" : "?") + "protocol=3")
            #expect(configuration.protocolVersion == 3)
            let pool = RESPConnectionPool(configuration: configuration)
            let prefix = ClientTestSupport.prefix()
            try await ClientTestSupport.withCleanup {
                let info = try await pool.send(RESPCommand("CLIENT", ["INFO"]))
                #expect(info.string?.contains("resp=3") == true, "CLIENT INFO: \(info)")
                let hello = try await pool.send(RESPCommand("HELLO", ["3"]))
                guard case .map(let fields) = hello else {
                    Issue.record("HELLO 3 returned \(hello)")
                    return
                }
                #expect(fields.contains { $0.0.string == "proto" && $0.1 == .integer(3) })

                _ = try await pool.send(RESPCommand("HSET", [prefix + "h", "a", "1", "b", "2"]))
                let all = try await pool.send(RESPCommand("HGETALL", [prefix + "h"]))
                guard case .map(let pairs) = all else {
                    Issue.record("HGETALL returned \(all)")
                    return
                }
                #expect(Dictionary(uniqueKeysWithValues: pairs.map { ($0.0.string ?? "?", $0.1.string ?? "?") }) == ["a": "1", "b": "2"])
                #expect(try await pool.send(RESPCommand("HGETALL", [prefix + "missing"])) == .map([]))

                _ = try await pool.send(RESPCommand("ZADD", [prefix + "z", "1.5", "m"]))
                #expect(try await pool.send(RESPCommand("ZSCORE", [prefix + "z", "m"])) == .double(1.5))
                #expect(try await pool.send(RESPCommand("ZSCORE", [prefix + "z", "nobody"])) == .null)
                _ = try await pool.send(RESPCommand("SADD", [prefix + "s", "x"]))
                #expect(try await pool.send(RESPCommand("SMEMBERS", [prefix + "s"])) == .array([.bulkString(Array("x".utf8))]))
                #expect(try await pool.send(RESPCommand("GET", [prefix + "missing"])) == .null)
                let script = try await pool.send(RESPCommand("EVAL", ["redis.setresp(3); return {double=3.5}", "0"]))
                #expect(script == .double(3.5))
            } cleanup: {
                try await ClientTestSupport.deleteKeys(prefix, pool: pool)
                await pool.close()
            }
        }

        @Test("the store conformance suite passes over RESP3", arguments: SessionStoreConformance.cases)
        func conformanceOverRESP3(_ check: SessionStoreConformance.Case) async throws {
            let pool = try ClientTestSupport.pool { $0.protocolVersion = 3 }
            let prefix = ClientTestSupport.prefix()
            try await ClientTestSupport.withCleanup {
                try await check.run { clock in RedisSessionStore(pool: pool, keyPrefix: prefix, clock: clock) }
            } cleanup: {
                try await ClientTestSupport.deleteKeys(prefix, pool: pool)
                await pool.close()
            }
        }

        @Test("RESP3: a client-side caching invalidation (a push) does not take the place of the next reply")
        func resp3TrackingPush() async throws {
            // Regression test: a push was once taken as the reply of the oldest request. The state
            // machine now drops pushes (RESPCommandStateMachineTests.pushesAreDropped); this is the
            // only proof against a real server that a tracking invalidation arrives as a push.
            let connection = try await RESPConnection.connect(try ClientTestSupport.configuration { $0.protocolVersion = 3 })
            let other = try ClientTestSupport.pool()
            let key = ClientTestSupport.prefix() + "tracked"
            try await ClientTestSupport.withCleanup {
                _ = try await other.send(RESPCommand("SET", [key, "v"]))
                #expect(try await connection.send(RESPCommand("CLIENT", ["TRACKING", "ON"])) == .simpleString("OK"))
                #expect(try await connection.send(RESPCommand("GET", [key])) == .bulkString(Array("v".utf8)))
                // Changing the key makes the server push an invalidation to `connection`, ahead of
                // the reply to anything `connection` sends from now on.
                _ = try await other.send(RESPCommand("SET", [key, "changed"]))
                var reply: RESPReply?
                let error = await ClientTestSupport.redisError { reply = try await connection.send(RESPCommand("ECHO", ["mine"])) }
                #expect(
                    error == nil && reply == .bulkString(Array("mine".utf8)),
                    "ECHO got \(String(describing: reply)), error \(String(describing: error))"
                )
            } cleanup: {
                _ = try await other.send(RESPCommand("DEL", [key]))
                await connection.close()
                await other.close()
            }
        }

        // MARK: SELECT

        @Test("a configuration with database 3 writes keys visible only in db 3", arguments: [2, 3])
        func selectDatabase(protocolVersion: Int) async throws {
            let url = try #require(RedisTestServer.url)
            var configuration = try RESPClientConfiguration(
                url: url.replacingOccurrences(of: #"/\d+$"#, with: "", options: .regularExpression) + "/3"
            )
            #expect(configuration.database == 3)
            configuration.protocolVersion = protocolVersion
            let pool3 = RESPConnectionPool(configuration: configuration)
            let pool0 = try ClientTestSupport.pool { $0.database = 0 }
            let key = ClientTestSupport.prefix() + "db"
            try await ClientTestSupport.withCleanup {
                #expect(try await pool3.send(RESPCommand("SET", [key, "in-db-3"])) == .simpleString("OK"))
                #expect(try ClientTestSupport.redisCLI(["-n", "3", "GET", key]) == "in-db-3")
                #expect(try ClientTestSupport.redisCLI(["-n", "0", "EXISTS", key]) == "0")
                #expect(try await pool0.send(RESPCommand("EXISTS", [key])) == .integer(0))
                // Every connection of the pool selects db 3, including reconnections.
                let id = try await pool3.send(RESPCommand("CLIENT", ["ID"])).int ?? 0
                _ = try await pool0.send(RESPCommand("CLIENT", ["KILL", "ID", String(id)]))
                var value: RESPReply?
                for _ in 0..<3 where value == nil {
                    value = try? await pool3.send(RESPCommand("GET", [key]))
                }
                #expect(value == .bulkString(Array("in-db-3".utf8)))
            } cleanup: {
                _ = try await pool3.send(RESPCommand("DEL", [key]))
                #expect(try ClientTestSupport.redisCLI(["-n", "3", "EXISTS", key]) == "0")
                await pool3.close()
                await pool0.close()
            }
        }

        // MARK: AUTH

        @Test("AUTH with an ACL user works; a wrong password fails with a typed WRONGPASS error")
        func authentication() async throws {
            let admin = try ClientTestSupport.pool()
            let user = "sk-test"
            _ = try await admin.send(RESPCommand("ACL", ["SETUSER", user, "on", ">secret", "~*", "&*", "+@all"]))
            try await ClientTestSupport.withCleanup {
                for protocolVersion in [2, 3] {
                    // Right credentials, from a configuration and from a URL.
                    let good = RESPConnectionPool(
                        configuration: try ClientTestSupport.configuration {
                            $0.username = user
                            $0.password = "secret"
                            $0.protocolVersion = protocolVersion
                        }
                    )
                    #expect(try await good.send(RESPCommand("ACL", ["WHOAMI"])).string == user, "RESP\(protocolVersion)")
                    await good.close()
                    let configuration = try RedisTestServer.configuration()
                    let viaURL = RESPConnectionPool(
                        configuration: try RESPClientConfiguration(
                            url: "redis://\(user):secret@\(configuration.host):\(configuration.port)/0?protocol=\(protocolVersion)"
                        )
                    )
                    #expect(try await viaURL.send(RESPCommand("ACL", ["WHOAMI"])).string == user, "RESP\(protocolVersion) via URL")
                    await viaURL.close()

                    // Wrong password: directly on a connection…
                    let wrong = try ClientTestSupport.configuration {
                        $0.username = user
                        $0.password = "not-the-secret"
                        $0.protocolVersion = protocolVersion
                        $0.connectionCount = 1
                    }
                    let direct = await ClientTestSupport.redisError { try await RESPConnection.connect(wrong) }
                    guard direct?.isServerError("WRONGPASS") == true else {
                        Issue.record("RESP\(protocolVersion) connect with a wrong password: \(String(describing: direct))")
                        continue
                    }
                    #expect(direct?.isAuthenticationError == true)
                    #expect(direct.map { !$0.description.contains("not-the-secret") } == true)
                    // …and through a pool, which then backs off.
                    let badPool = RESPConnectionPool(configuration: wrong)
                    let viaPool = await ClientTestSupport.redisError { try await badPool.send(RESPCommand("PING")) }
                    guard viaPool?.isServerError("WRONGPASS") == true else {
                        Issue.record("RESP\(protocolVersion) pool with a wrong password: \(String(describing: viaPool))")
                        continue
                    }
                    let next = await ClientTestSupport.redisError { try await badPool.send(RESPCommand("PING")) }
                    guard next?.code == .backingOff else {
                        Issue.record("RESP\(protocolVersion) pool after a failed AUTH: \(String(describing: next))")
                        continue
                    }
                    await badPool.close()
                }
            } cleanup: {
                _ = try await admin.send(RESPCommand("ACL", ["DELUSER", user]))
                #expect(try await admin.send(RESPCommand("ACL", ["USERS"])).array?.contains(.bulkString(Array(user.utf8))) == false)
                await admin.close()
            }
        }

        // MARK: Server errors

        @Test("server errors are typed: WRONGTYPE, ERR for an unknown command, in place in a pipeline")
        func serverErrors() async throws {
            let pool = try ClientTestSupport.pool()
            let prefix = ClientTestSupport.prefix()
            try await ClientTestSupport.withCleanup {
                _ = try await pool.send(RESPCommand("HSET", [prefix + "hash", "f", "v"]))
                let wrongType = await ClientTestSupport.redisError { try await pool.send(RESPCommand("INCR", [prefix + "hash"])) }
                guard let message = wrongType.flatMap({ $0.isServerError("WRONGTYPE") ? $0.message : nil }) else {
                    Issue.record("INCR on a hash: \(String(describing: wrongType))")
                    return
                }
                #expect(message.contains("wrong kind of value"))

                let unknown = await ClientTestSupport.redisError { try await pool.send(RESPCommand("SESSIONKIT-NO-SUCH-COMMAND", ["x"])) }
                guard let unknownMessage = unknown.flatMap({ $0.isServerError("ERR") ? $0.message : nil }) else {
                    Issue.record("unknown command: \(String(describing: unknown))")
                    return
                }
                #expect(unknownMessage.contains("unknown command"))

                let arity = await ClientTestSupport.redisError { try await pool.send(RESPCommand("GET")) }
                guard arity?.isServerError("ERR") == true else {
                    Issue.record("GET without a key: \(String(describing: arity))")
                    return
                }

                // In a pipeline an error is a value in its place; the others still run.
                let replies = try await pool.send([
                    RESPCommand("SET", [prefix + "s", "v"]),
                    RESPCommand("INCR", [prefix + "hash"]),
                    RESPCommand("GET", [prefix + "s"]),
                ])
                #expect(replies.count == 3)
                #expect(replies.first == .simpleString("OK"))
                #expect(replies.count > 1 && replies[1].serverError.map { $0.isServerError("WRONGTYPE") } == true)
                #expect(replies.last == .bulkString(Array("v".utf8)))

                // The same on a connection of its own.
                let connection = try await RESPConnection.connect(try RedisTestServer.configuration())
                let direct = await ClientTestSupport.redisError { try await connection.send(RESPCommand("INCR", [prefix + "hash"])) }
                #expect(direct.map { $0.isServerError("WRONGTYPE") } == true)
                #expect(try await connection.send(RESPCommand("PING")) == .simpleString("PONG"))
                await connection.close()
                #expect(try await pool.send(RESPCommand("PING")) == .simpleString("PONG"))
            } cleanup: {
                try await ClientTestSupport.deleteKeys(prefix, pool: pool)
                await pool.close()
            }
        }

        // MARK: Timeouts and reconnection

        @Test(
            "Outage: a command over its timeout throws timedOut promptly; after the pause the pool reconnects",
            .timeLimit(.minutes(1)),
            .enabled(if: ExclusiveServerTests.enabled, Comment(rawValue: ExclusiveServerTests.skipReason))
        )
        func commandTimeout() async throws {
            let pool = try ClientTestSupport.pool {
                $0.connectionCount = 1
                $0.commandTimeout = .milliseconds(200)
            }
            let key = ClientTestSupport.prefix() + "t"
            let before = try #require(try await pool.send(RESPCommand("CLIENT", ["ID"])).int)
            let pauser = try await RESPConnection.connect(try RedisTestServer.configuration())
            #expect(try await pauser.send(RESPCommand("CLIENT", ["PAUSE", "1500", "ALL"])) == .simpleString("OK"))
            let started = ContinuousClock.now
            let error = await ClientTestSupport.redisError { try await pool.send(RESPCommand("SET", [key, "late"])) }
            let elapsed = ContinuousClock.now - started
            #expect(error == .timedOut)
            #expect(elapsed >= .milliseconds(150) && elapsed < .milliseconds(1000), "timed out after \(elapsed)")

            // A new connection's PING is held until the pause ends: that is the end of the pause.
            let waiter = try await RESPConnection.connect(try ClientTestSupport.configuration { $0.commandTimeout = .seconds(10) })
            #expect(try await waiter.send(RESPCommand("PING")) == .simpleString("PONG"))
            #expect(ContinuousClock.now - started >= .milliseconds(1000), "the server was not paused")

            // The timed-out connection was closed (its late reply must not reach a later
            // command); the pool opens a new one by itself.
            let after = try #require(try await pool.send(RESPCommand("CLIENT", ["ID"])).int)
            #expect(after != before)
            _ = try await pool.send(RESPCommand("DEL", [key]))
            await waiter.close()
            await pauser.close()
            await pool.close()
        }

        @Test("a request in flight when the server kills the connection fails with connectionClosed; the pool reconnects", .timeLimit(.minutes(1)))
        func killedConnection() async throws {
            let pool = try ClientTestSupport.pool {
                $0.connectionCount = 1
                $0.commandTimeout = .seconds(10)
            }
            let admin = try ClientTestSupport.pool()
            let key = ClientTestSupport.prefix() + "never"
            let id = try #require(try await pool.send(RESPCommand("CLIENT", ["ID"])).int)
            let blocked = Task { await ClientTestSupport.redisError { try await pool.send(RESPCommand("BLPOP", [key, "8"])) } }
            // Wait until the server shows the connection blocked in BLPOP (each check is a round trip).
            let deadline = ContinuousClock.now + .seconds(5)
            var isBlocked = false
            while !isBlocked && ContinuousClock.now < deadline {
                let list = try await admin.send(RESPCommand("CLIENT", ["LIST", "ID", String(id)])).string ?? ""
                isBlocked = list.contains("cmd=blpop")
            }
            #expect(isBlocked)
            let started = ContinuousClock.now
            #expect(try await admin.send(RESPCommand("CLIENT", ["KILL", "ID", String(id)])) == .integer(1))
            let error = await blocked.value
            guard error?.code == .connectionClosed else {
                Issue.record("the blocked request: \(String(describing: error))")
                return
            }
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try await pool.send(RESPCommand("PING")) == .simpleString("PONG"))
            #expect(try await pool.send(RESPCommand("CLIENT", ["ID"])).int != id)
            await pool.close()
            await admin.close()
        }

        // MARK: Pipelining

        @Test("500 concurrent pipelines each get their own replies back")
        func concurrentPipelines() async throws {
            let pool = try ClientTestSupport.pool { $0.connectionCount = 2 }
            let prefix = ClientTestSupport.prefix()
            try await ClientTestSupport.withCleanup {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<500 {
                        group.addTask {
                            let value = "value-\(index)-" + String(repeating: "x", count: index % 50)
                            let replies = try await pool.send([
                                RESPCommand("SET", [prefix + "k\(index)", value]),
                                RESPCommand("GET", [prefix + "k\(index)"]),
                                RESPCommand("STRLEN", [prefix + "k\(index)"]),
                            ])
                            #expect(replies == [.simpleString("OK"), .bulkString(Array(value.utf8)), .integer(Int64(value.utf8.count))])
                        }
                    }
                    try await group.waitForAll()
                }
            } cleanup: {
                try await ClientTestSupport.deleteKeys(prefix, pool: pool)
                await pool.close()
            }
        }
    }
}
