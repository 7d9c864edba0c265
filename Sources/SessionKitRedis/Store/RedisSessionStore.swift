import SessionKitRESP
import Crypto
import Foundation
import SessionKit

/// A session store in Redis or Valkey, shared by any number of server instances.
///
/// Layout (prefix `sk:` by default): one hash per session at `sk:s:{<digest>}` — session
/// values as `d:<key>` fields plus metadata — with `PEXPIREAT` at the session's expiry, so
/// Redis removes it by itself; one set per user at `sk:u:{<hash of user>}` listing the user's
/// session digests, trimmed as sessions die. The `{…}` hash tag keeps each session's key in
/// one cluster slot.
///
/// Each lifecycle step is one round trip: a load is `HGETALL`; create, update (and touch) and
/// rotate are one `EVALSHA` of a small Lua script that checks expiry and applies only the
/// changed fields atomically (a gone session is never re-created); destroy is one `DEL`.
public final class RedisSessionStore: SessionUserIndexing, VersionedSessionStore, AtomicKeySessionStore, PingableSessionStore {
    /// The connection pool.
    public let pool: RESPConnectionPool
    /// The prefix of every key.
    public let keyPrefix: String
    let clock: any SessionClock

    /// Creates a store over a pool.
    public init(pool: RESPConnectionPool, keyPrefix: String = "sk:", clock: any SessionClock = SystemSessionClock()) {
        self.pool = pool
        self.keyPrefix = keyPrefix
        self.clock = clock
    }

    /// The key of a session's hash.
    public func sessionKey(_ id: SessionStorageID) -> String { "\(keyPrefix)s:{\(id.hex)}" }

    /// The key of a user's set of sessions (the user ID is hashed, so any ID makes a safe key).
    public func userKey(_ user: String) -> String {
        let digest = SHA256.hash(data: Array(user.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        return "\(keyPrefix)u:{\(digest)}"
    }

    // MARK: SessionStore

    /// Returns the live record (one `HGETALL`).
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        let reply = try await command(RESPCommand("HGETALL", [sessionKey(id)]))
        let fields = try Self.pairs(reply)
        guard !fields.isEmpty else { return nil }
        let record = try Self.record(from: fields)
        return record.isExpired(at: clock.now()) ? nil : record
    }

    /// Creates a record (one `EVALSHA`).
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        var keys = [sessionKey(id)]
        if let user = record.userID { keys.append(userKey(user)) }
        let arguments = [millis(clock.now()), millis(record.expiresAt), millis(record.absoluteExpiresAt), id.hex] + Self.fields(of: record)
        let reply = try await evaluate(.create, keys: keys, arguments: arguments)
        guard reply.int == 1 else { throw SessionStoreError.collision }
    }

    /// Applies an update (one `EVALSHA`; without keys it is a touch).
    public func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        try await apply(update, to: id, expectedVersion: nil) == .applied
    }

    /// Applies an update while the version matches (the same `EVALSHA`, which compares it).
    public func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        try await apply(update, to: id, expectedVersion: expectedVersion)
    }

    private func apply(_ update: SessionUpdate, to id: SessionStorageID, expectedVersion: UInt64?) async throws -> SessionUpdateResult {
        var arguments = [
            millis(clock.now()), expectedVersion.map { String($0) } ?? "", millis(update.idleExpiresAt), millis(update.lastSeenAt),
            String(update.setValues.count),
        ]
        for (key, value) in update.setValues.sorted(by: { $0.key < $1.key }) {
            arguments.append("d:" + key)
            arguments.append(String(decoding: value, as: UTF8.self))
        }
        arguments.append(String(update.removedKeys.count))
        arguments += update.removedKeys.sorted().map { "d:" + $0 }
        let reply = try await evaluate(.update, keys: [sessionKey(id)], arguments: arguments)
        switch reply.int {
        case 1: return .applied
        case -1: return .conflict
        case 0: return .notFound
        default: throw Self.storeError(.unexpectedReply("\(reply)"))
        }
    }

    // MARK: AtomicKeySessionStore

    /// Writes one field while it still holds the expected bytes (one `EVALSHA`).
    public func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        let arguments = [
            millis(clock.now()), millis(write.idleExpiresAt), millis(write.lastSeenAt), "d:" + write.key,
            write.expected == nil ? "0" : "1", write.expected.map { String(decoding: $0, as: UTF8.self) } ?? "",
            write.newValue == nil ? "0" : "1", write.newValue.map { String(decoding: $0, as: UTF8.self) } ?? "",
        ]
        let reply = try await evaluate(.compareAndSet, keys: [sessionKey(id)], arguments: arguments).array ?? []
        switch reply.first?.int {
        case 1: return .applied(version: UInt64(try Self.integer(reply, 1)))
        case 0: return .notFound
        case -1:
            guard reply.count > 1 else { return .conflict(current: nil) }
            guard case .bulkString(let bytes) = reply[1] else { throw Self.storeError(.unexpectedReply("\(reply)")) }
            return .conflict(current: Data(bytes))
        default: throw Self.storeError(.unexpectedReply("\(reply)"))
        }
    }

    /// `true`: one operation that cannot conflict.
    public var incrementsNatively: Bool { true }

    /// Adds to one field with `HINCRBY` inside a script that checks expiry and the JSON
    /// integer form (one `EVALSHA`, never a conflict).
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        let arguments = [
            millis(clock.now()), millis(increment.idleExpiresAt), millis(increment.lastSeenAt), "d:" + increment.key, String(increment.delta),
        ]
        let reply = try await evaluate(.increment, keys: [sessionKey(id)], arguments: arguments).array ?? []
        switch reply.first?.int {
        case 1: return .applied(value: try Self.integer(reply, 1), version: UInt64(try Self.integer(reply, 2)))
        case 0: return .notFound
        case -1: return .notAnInteger
        default: throw Self.storeError(.unexpectedReply("\(reply)"))
        }
    }

    private static func integer(_ reply: [RESPReply], _ index: Int) throws -> Int64 {
        guard index < reply.count, let value = reply[index].int else { throw storeError(.unexpectedReply("\(reply)")) }
        return value
    }

    /// Deletes a record (one `DEL`; the user's set drops the stale entry on its next listing).
    public func delete(_ id: SessionStorageID) async throws {
        _ = try await command(RESPCommand("DEL", [sessionKey(id)]))
    }

    /// Moves a live session to a new ID (one `EVALSHA`).
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        var keys = [sessionKey(newID), sessionKey(oldID)]
        if let user = record.userID { keys.append(userKey(user)) }
        let arguments =
            [millis(clock.now()), millis(record.expiresAt), millis(record.absoluteExpiresAt), newID.hex, oldID.hex] + Self.fields(of: record)
        let reply = try await evaluate(.rotate, keys: keys, arguments: arguments)
        switch reply.int {
        case 1: return true
        case -1: return false
        default: throw SessionStoreError.collision
        }
    }

    /// Lists a user's live sessions, oldest first (two round trips: the set, then the
    /// sessions' metadata pipelined); entries of sessions that died are removed from the set.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        let members = try await members(of: userID)
        guard !members.isEmpty else { return [] }
        let replies = try await send(members.map { RESPCommand("HMGET", [sessionKey($0), "m:e", "m:c", "m:l", "m:u", "m:g"]) })
        let now = clock.now()
        var result: [SessionSummary] = []
        var stale: [String] = []
        for (id, reply) in zip(members, replies) {
            guard let values = reply.array, values.count == 5, let expires = values[0].int, Double(expires) / 1000 > now.timeIntervalSince1970,
                values[3].string == userID
            else {
                stale.append(id.hex)
                continue
            }
            result.append(
                SessionSummary(
                    id: id,
                    userID: userID,
                    createdAt: Self.date(values[1]),
                    lastSeenAt: Self.date(values[2]),
                    expiresAt: Self.date(values[0]),
                    userAgent: values[4].string
                )
            )
        }
        if !stale.isEmpty { _ = try? await send([RESPCommand("SREM", [userKey(userID)] + stale)]) }
        return result.sorted { ($0.createdAt, $0.id.hex) < ($1.createdAt, $1.id.hex) }
    }

    /// Deletes a user's sessions except one (two round trips: the set, then one pipelined
    /// batch of deletes). Returns how many live sessions ended.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        let doomed = try await members(of: userID).filter { $0 != keptID }
        guard !doomed.isEmpty else { return 0 }
        let now = millis(clock.now())
        var commands = doomed.map { RESPCommand("EVALSHA", [RedisScript.deleteReportingLive.sha1, "1", sessionKey($0), now]) }
        commands.append(RESPCommand("SREM", [userKey(userID)] + doomed.map(\.hex)))
        var replies = try await send(commands)
        if replies.contains(where: { $0.serverError.map(Self.isNoScript) ?? false }) {
            commands = doomed.map { RESPCommand("EVAL", [RedisScript.deleteReportingLive.source, "1", sessionKey($0), now]) }
            replies = try await send(commands)
        }
        try Self.check(replies)
        return replies.prefix(doomed.count).filter { $0.int == 1 }.count
    }

    /// Sends `PING` on a pooled connection.
    public func ping() async throws {
        _ = try await command(RESPCommand("PING", []))
    }

    // MARK: Helpers

    private func members(of userID: String) async throws -> [SessionStorageID] {
        let reply = try await command(RESPCommand("SMEMBERS", [userKey(userID)]))
        return (reply.array ?? []).compactMap { $0.string.flatMap(SessionStorageID.init(hex:)) }
    }

    private func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPReply {
        let tail = [String(keys.count)] + keys + arguments
        let reply = try await send([RESPCommand("EVALSHA", [script.sha1] + tail)])[0]
        if let error = reply.serverError, Self.isNoScript(error) {
            return try await command(RESPCommand("EVAL", [script.source] + tail))
        }
        if let error = reply.serverError { throw Self.storeError(error) }
        return reply
    }

    private func command(_ command: RESPCommand) async throws -> RESPReply {
        let reply = try await send([command])[0]
        if let error = reply.serverError { throw Self.storeError(error) }
        return reply
    }

    private func send(_ commands: [RESPCommand]) async throws -> [RESPReply] {
        guard !commands.isEmpty else { return [] }
        do {
            let replies = try await pool.send(commands)
            guard replies.count == commands.count else {
                throw RESPClientError.unexpectedReply("\(replies.count) replies for \(commands.count) commands")
            }
            return replies
        } catch let error as RESPClientError {
            throw Self.storeError(error)
        }
    }

    private static func check(_ replies: [RESPReply]) throws {
        if let error = replies.lazy.compactMap(\.serverError).first { throw storeError(error) }
    }

    private static func isNoScript(_ error: RESPClientError) -> Bool {
        error.isServerError("NOSCRIPT")
    }

    static func storeError(_ error: RESPClientError) -> SessionStoreError {
        if error.code == .timedOut { return .timedOut }
        if error.isServerError("WRONGTYPE") { return .corrupt(reason: "Redis WRONGTYPE: \(error.message)") }
        return .unavailable(reason: error.description)
    }

    private static func fields(of record: SessionRecord) -> [String] {
        var fields = [
            "m:c", millis(record.createdAt), "m:l", millis(record.lastSeenAt), "m:i", millis(record.idleExpiresAt),
            "m:a", millis(record.absoluteExpiresAt), "m:e", millis(record.expiresAt), "m:v", String(record.version),
        ]
        if let user = record.userID { fields += ["m:u", user] }
        if let agent = record.userAgent { fields += ["m:g", agent] }
        for (key, value) in record.data.sorted(by: { $0.key < $1.key }) {
            fields.append("d:" + key)
            fields.append(String(decoding: value, as: UTF8.self))
        }
        return fields
    }

    private static func pairs(_ reply: RESPReply) throws -> [(String, RESPReply)] {
        switch reply {
        case .map(let pairs):
            return pairs.compactMap { key, value in key.string.map { ($0, value) } }
        case .array(let values):
            guard values.count % 2 == 0 else { throw SessionStoreError.corrupt(reason: "odd HGETALL reply") }
            return stride(from: 0, to: values.count, by: 2).compactMap { index in values[index].string.map { ($0, values[index + 1]) } }
        case .null:
            return []
        default:
            throw SessionStoreError.corrupt(reason: "unexpected HGETALL reply")
        }
    }

    private static func record(from fields: [(String, RESPReply)]) throws -> SessionRecord {
        var data: [String: Data] = [:]
        var meta: [String: RESPReply] = [:]
        for (name, value) in fields {
            // By bytes: `hasPrefix` compares Characters, and `d:` followed by a combining mark
            // (a valid NFC key such as "\u{301}x") is one Character `:\u{301}`, not `:`.
            if name.utf8.starts(with: "d:".utf8) {
                guard case .bulkString(let bytes) = value else { throw SessionStoreError.corrupt(reason: "non-string session field") }
                data[String(decoding: name.utf8.dropFirst(2), as: UTF8.self)] = Data(bytes)
            } else {
                meta[name] = value
            }
        }
        guard meta["m:e"] != nil, meta["m:a"] != nil, meta["m:i"] != nil else {
            throw SessionStoreError.corrupt(reason: "session hash without expiry metadata")
        }
        return SessionRecord(
            data: data,
            userID: meta["m:u"]?.string,
            createdAt: date(meta["m:c"]),
            lastSeenAt: date(meta["m:l"]),
            idleExpiresAt: date(meta["m:i"]),
            absoluteExpiresAt: date(meta["m:a"]),
            userAgent: meta["m:g"]?.string,
            version: UInt64(meta["m:v"]?.int ?? 1)
        )
    }

    private static func date(_ value: RESPReply?) -> Date {
        Date(timeIntervalSince1970: Double(value?.int ?? 0) / 1000)
    }

    private static func millis(_ date: Date) -> String {
        String(Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    private func millis(_ date: Date) -> String { Self.millis(date) }
}

extension RedisSessionStore: DatabaseNamingSessionStore {
    /// `redis`, the `db.system.name` of the engine's store-call spans.
    public var databaseSystem: String { "redis" }
}
