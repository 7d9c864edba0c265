import SessionKitRESP
import Crypto
import Foundation
import SessionKit

/// A session store in Redis or Valkey — one server or a Redis Cluster — shared by any number
/// of server instances.
///
/// Layout (prefix `sk:` by default; the full story with the reasons is in Stores.md):
/// - a signed-in session: one hash at `sk:s:{<placement>}<digest>`, where the placement is
///   four hex digits derived from the user ID (``placement(forUser:)``) and carried in the
///   session's token;
/// - the user's index: a set at `sk:u:{<placement>}<hash of user>` listing the user's
///   sessions, trimmed as they die. The shared `{…}` hash tag puts a user's sessions and index
///   in one cluster slot, so each lifecycle step of that user is one atomic script;
/// - an anonymous session (and any session whose token predates placements): `sk:s:{<digest>}`,
///   a slot of its own.
///
/// Each hash holds the values as `d:<key>` fields plus metadata, with `PEXPIREAT` at the
/// session's expiry, so Redis removes it by itself. Each lifecycle step is one round trip: a
/// load is `HGETALL`; create, update (and touch) and rotate are one `EVALSHA` of a small Lua
/// script that checks expiry and applies only the changed fields atomically (a gone session
/// is never re-created); destroy is one `DEL`. On a cluster, the one step that moves a session
/// between slots — signing in from an anonymous session — is two scripts (the new session and
/// its index entry first, then the anonymous one's deletion); see ``rotate(_:to:record:)``.
public final class RedisSessionStore: SessionCappingStore, VersionedSessionStore, AtomicKeySessionStore, PingableSessionStore,
    SessionPlacingStore, LocallyCachingSessionStore
{
    /// Where commands go: one server's pool or a cluster client.
    public let client: any RESPCommandSending
    /// The prefix of every key.
    public let keyPrefix: String
    /// Which writes wait until replicas hold them before the store answers.
    public let durability: RedisDurability
    /// The client-side cache of loads, when the store was created with one.
    public let cache: RedisSessionCache?
    /// The tracking client the cache's loads go through (the pool, or the Sentinel client).
    private let cachedReads: (any RESPTrackedSending)?
    let clock: any SessionClock

    /// Creates a store over a single server's pool, a cluster client or a Sentinel client.
    public init(
        client: any RESPCommandSending,
        keyPrefix: String = "sk:",
        durability: RedisDurability = .automatic,
        clock: any SessionClock = SystemSessionClock()
    ) {
        self.client = client
        self.keyPrefix = keyPrefix
        self.durability = durability
        self.cache = nil
        self.cachedReads = nil
        self.clock = clock
    }

    /// Creates a store over one server whose loads are cached on the client (see
    /// ``RedisSessionCache``): the store's pool connects with `configuration`, over RESP3 with
    /// `CLIENT TRACKING ON OPTIN` (Redis 6+ or Valkey).
    public init(
        configuration: RESPClientConfiguration,
        cache: RedisSessionCache,
        keyPrefix: String = "sk:",
        durability: RedisDurability = .automatic,
        clock: any SessionClock = SystemSessionClock()
    ) {
        let pool = RESPConnectionPool(configuration: configuration, tracking: cache)
        self.client = pool
        self.keyPrefix = keyPrefix
        self.durability = durability
        self.cache = cache
        self.cachedReads = pool
        self.clock = clock
    }

    /// Creates a store over a Sentinel-watched primary whose loads are cached on the client (see
    /// ``RedisSessionCache``): the data connections speak RESP3 with `CLIENT TRACKING ON OPTIN`,
    /// and the cache is emptied whenever the client moves to another primary (a failover), so
    /// nothing read from the old primary is served after it.
    public init(
        sentinel configuration: RESPSentinelConfiguration,
        cache: RedisSessionCache,
        keyPrefix: String = "sk:",
        durability: RedisDurability = .automatic,
        clock: any SessionClock = SystemSessionClock()
    ) throws(RESPClientError) {
        let client = try RESPSentinelClient(configuration: configuration, tracking: cache)
        self.client = client
        self.keyPrefix = keyPrefix
        self.durability = durability
        self.cache = cache
        self.cachedReads = client
        self.clock = clock
    }

    /// Creates a store over one server's pool.
    public convenience init(
        pool: RESPConnectionPool,
        keyPrefix: String = "sk:",
        durability: RedisDurability = .automatic,
        clock: any SessionClock = SystemSessionClock()
    ) {
        self.init(client: pool as any RESPCommandSending, keyPrefix: keyPrefix, durability: durability, clock: clock)
    }

    /// Creates a store from a URL: `redis://…` or `rediss://…` for one server
    /// (``RESPClientConfiguration/init(url:)``), `redis-cluster://…` or `rediss-cluster://…`
    /// for a cluster (``RESPClusterConfiguration/init(url:)``), `redis-sentinel://…#NAME` or
    /// `rediss-sentinel://…#NAME` for a primary that Sentinels fail over
    /// (``RESPSentinelConfiguration/init(url:)``). The query items `acknowledge=none|critical|all|auto`
    /// and `acknowledge_replicas=N` override `durability`; on one server or Sentinel,
    /// `client_cache=on` (with `cache_max_staleness_ms=N`, `cache_bytes=N`) caches loads
    /// (``RedisSessionCache``).
    public convenience init(
        url: String,
        keyPrefix: String = "sk:",
        durability: RedisDurability = .automatic,
        clock: any SessionClock = SystemSessionClock()
    ) throws(RESPClientError) {
        let durability = try RedisDurability(url: url, base: durability)
        if let cache = try RedisSessionCache.Configuration(url: url) {
            if url.hasPrefix("redis-sentinel://") || url.hasPrefix("rediss-sentinel://") {
                try self.init(
                    sentinel: try RESPSentinelConfiguration(url: url),
                    cache: RedisSessionCache(configuration: cache),
                    keyPrefix: keyPrefix,
                    durability: durability,
                    clock: clock
                )
                return
            }
            guard url.hasPrefix("redis://") || url.hasPrefix("rediss://") else {
                throw .invalidURL("client_cache=on needs one server or a Sentinel-watched primary; a cluster client is not cached yet")
            }
            self.init(
                configuration: try RESPClientConfiguration(url: url),
                cache: RedisSessionCache(configuration: cache),
                keyPrefix: keyPrefix,
                durability: durability,
                clock: clock
            )
            return
        }
        let client: any RESPCommandSending
        if url.hasPrefix("redis-cluster://") || url.hasPrefix("rediss-cluster://") {
            client = try RESPClusterClient(configuration: try RESPClusterConfiguration(url: url))
        } else if url.hasPrefix("redis-sentinel://") || url.hasPrefix("rediss-sentinel://") {
            client = try RESPSentinelClient(configuration: try RESPSentinelConfiguration(url: url))
        } else {
            client = RESPConnectionPool(configuration: try RESPClientConfiguration(url: url))
        }
        self.init(client: client, keyPrefix: keyPrefix, durability: durability, clock: clock)
    }

    /// The key of a session's hash: tagged with its placement when its token carries one.
    public func sessionKey(_ id: SessionStorageID) -> String {
        guard let placement = id.placement else { return "\(keyPrefix)s:{\(id.hex)}" }
        return "\(keyPrefix)s:{\(placement.tag)}\(id.hex)"
    }

    /// The key of a user's set of sessions, in the slot of the user's placement (the user ID
    /// is hashed, so any ID makes a safe key).
    public func userKey(_ user: String) -> String {
        "\(keyPrefix)u:{\(placement(forUser: user).tag)}\(Self.userDigest(user))"
    }

    /// The key the user's set had before placements (`sk:u:{<hash of user>}`): still read, so
    /// sessions signed in before the upgrade are listed and signed out everywhere until they
    /// expire; never written.
    package func legacyUserKey(_ user: String) -> String {
        "\(keyPrefix)u:{\(Self.userDigest(user))}"
    }

    private static func userDigest(_ user: String) -> String {
        SHA256.hash(data: Array(user.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The first 16 bits of SHA-256 of the user ID's bytes. Unkeyed on purpose: it must be the
    /// same on every instance without shared configuration, and 16 bits say next to nothing
    /// about the user (each value is shared by one user in 65,536) — far less than the
    /// 128-bit digest the index key already holds.
    public func placement(forUser userID: String) -> SessionPlacement {
        let digest = Array(SHA256.hash(data: Array(userID.utf8)))
        return SessionPlacement(UInt16(digest[0]) << 8 | UInt16(digest[1]))
    }

    /// Whether keys may be used together in one script (always on one server; on a cluster,
    /// only when they share a hash slot).
    func sameSlot(_ keys: [String]) -> Bool {
        client.allowsCrossSlotKeys || Set(keys.map { RESPHashSlot.of($0) }).count <= 1
    }

    // MARK: SessionStore

    /// Returns the live record (one `HGETALL`, or none when the client-side cache has it).
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        let key = sessionKey(id)
        if let cache, let cachedReads { return try await cachedLoad(key, cache: cache, reads: cachedReads) }
        let reply = try await command(RESPCommand("HGETALL", [key]), touching: key, .read)
        return try live(reply)
    }

    private func live(_ reply: RESPReply) throws -> SessionRecord? {
        let fields = try Self.pairs(reply)
        guard !fields.isEmpty else { return nil }
        let record = try Self.record(from: fields)
        return record.isExpired(at: clock.now()) ? nil : record
    }

    /// A fresh entry of the client-side cache, answered without I/O (always `nil` without a
    /// cache); the engine asks this before it makes a load's store call.
    public func locallyCachedRecord(_ id: SessionStorageID) -> SessionRecord? {
        guard let cache, cachedReads != nil else { return nil }
        return cache.hit(sessionKey(id), at: clock.now())
    }

    /// A hit, or `CLIENT CACHING YES` + `HGETALL` with a pending marker noted before they are
    /// written; the reply fills the cache only if nothing invalidated the key meanwhile. A
    /// missing session is not cached (made-up cookies must not fill memory).
    private func cachedLoad(_ key: String, cache: RedisSessionCache, reads: any RESPTrackedSending) async throws -> SessionRecord? {
        let now = clock.now()
        if let record = cache.hit(key, at: now) { return record }
        cache.countMiss()
        // Read before the server is chosen: a failover after this point refuses the fill.
        let epoch = cache.epoch
        var token: UInt64 = 0
        let replies: [RESPReply]
        do {
            replies = try await reads.sendTracked([RESPCommand("CLIENT", ["CACHING", "YES"]), RESPCommand("HGETALL", [key])]) { connection in
                token = cache.beginFill(key, connection: connection, epoch: epoch)
            }
        } catch let error as RESPClientError {
            cache.drop([key])
            throw Self.storeError(error)
        }
        guard replies.count == 2 else { throw SessionStoreError.unavailable(reason: "Redis: \(replies.count) replies for 2 commands") }
        if let error = replies[1].serverError ?? replies[0].serverError {
            cache.drop([key])
            throw Self.storeError(error)
        }
        guard let record = try live(replies[1]) else {
            cache.drop([key])
            return nil
        }
        cache.completeFill(key, token: token, record: record, at: now)
        return record
    }

    /// Creates a record (one `EVALSHA`). On a cluster, a signed-in record whose ID carries no
    /// placement (a caller other than the engine) is indexed by a second command.
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        var keys = [sessionKey(id)]
        if let user = record.userID { keys.append(userKey(user)) }
        let indexSeparately = !sameSlot(keys)
        if indexSeparately { keys.removeLast() }
        let arguments =
            [millis(clock.now()), millis(record.expiresAt), millis(record.absoluteExpiresAt), id.encoded] + Self.fields(of: record)
        let reply = try await evaluate(.create, keys: keys, arguments: arguments, record.userID == nil ? .write : .securityCritical)
        guard reply.int == 1 else { throw SessionStoreError.collision }
        if indexSeparately, let user = record.userID {
            _ = try await evaluate(.index, keys: [userKey(user)], arguments: [id.encoded, millis(record.absoluteExpiresAt)], .securityCritical)
        }
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
        let reply = try await evaluate(.update, keys: [sessionKey(id)], arguments: arguments, update.isSecurityCritical ? .securityCritical : .write)
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
        let reply = try await evaluate(.compareAndSet, keys: [sessionKey(id)], arguments: arguments, .write).array ?? []
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
        let reply = try await evaluate(.increment, keys: [sessionKey(id)], arguments: arguments, .write).array ?? []
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
        let key = sessionKey(id)
        _ = try await command(RESPCommand("DEL", [key]), touching: key, .securityCritical)
    }

    /// Moves a live session to a new ID: one `EVALSHA` when the old session, the new one and
    /// the user's index share a slot (always on one server; on a cluster for every rotation
    /// but a sign-in from an anonymous session or a switch of user).
    ///
    /// On a cluster, a rotation across slots is three steps: check the old session is live;
    /// create the new one with its index entry (one script in the user's slot); delete the
    /// old one. If the old one ended between the first and the last step, the new one is
    /// deleted again and the rotation reports the old one gone. Until the last step the old
    /// token still reads the session as it was before the sign-in: anonymous, so it grants
    /// nothing a session-fixation attacker did not have.
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        var keys = [sessionKey(newID), sessionKey(oldID)]
        if let user = record.userID { keys.append(userKey(user)) }
        guard sameSlot(keys) else { return try await rotateAcrossSlots(oldID, to: newID, record: record) }
        let arguments =
            [millis(clock.now()), millis(record.expiresAt), millis(record.absoluteExpiresAt), newID.encoded, oldID.encoded]
            + Self.fields(of: record)
        let reply = try await evaluate(.rotate, keys: keys, arguments: arguments, .securityCritical)
        switch reply.int {
        case 1: return true
        case -1: return false
        default: throw SessionStoreError.collision
        }
    }

    private func rotateAcrossSlots(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        let oldKey = sessionKey(oldID)
        let now = millis(clock.now())
        let expiry = try await command(RESPCommand("HGET", [oldKey, "m:e"]), touching: oldKey, .read).int
        guard let expiry, expiry > Int64(now) ?? 0 else { return false }
        try await create(newID, record)
        let ended = try await evaluate(.deleteReportingLive, keys: [oldKey], arguments: [now], .securityCritical)
        guard ended.int == 1 else {
            // Destroyed (or expired) while this ran: the rotation must not resurrect it.
            try await delete(newID)
            return false
        }
        return true
    }

    /// Lists a user's live sessions, oldest first (two round trips: the set, then the
    /// sessions' metadata pipelined); entries of sessions that died are removed from the set.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        let members = try await members(of: userID)
        guard !members.isEmpty else { return [] }
        let replies = try await sendGrouped(
            members.map { member in
                let key = sessionKey(member.id)
                return (RESPCommand("HMGET", [key, "m:e", "m:c", "m:l", "m:u", "m:g"]), key)
            },
            .read
        )
        let now = clock.now()
        var result: [SessionSummary] = []
        var stale: [IndexMember] = []
        for (member, reply) in zip(members, replies) {
            let id = member.id
            guard let values = reply.array, values.count == 5, let expires = values[0].int, Double(expires) / 1000 > now.timeIntervalSince1970,
                values[3].string == userID
            else {
                stale.append(member)
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
        if !stale.isEmpty { _ = try? await sendGrouped(removals(stale), .write) }
        return result.sorted { ($0.createdAt, $0.id.hex) < ($1.createdAt, $1.id.hex) }
    }

    /// One `SREM` per index set that lists some of `members`.
    func removals(_ members: [IndexMember]) -> [(RESPCommand, String)] {
        Dictionary(grouping: members, by: \.setKey).map { setKey, members in
            (RESPCommand("SREM", [setKey] + members.map(\.text)), setKey)
        }
    }

    /// Deletes a user's sessions except one (two round trips: the set, then one pipelined
    /// batch of deletes). Returns how many live sessions ended.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        let doomed = try await members(of: userID).filter { $0.id != keptID }
        guard !doomed.isEmpty else { return 0 }
        let now = millis(clock.now())
        let keys = doomed.map { sessionKey($0.id) }
        var commands = keys.map { (RESPCommand("EVALSHA", [RedisScript.deleteReportingLive.sha1, "1", $0, now]), $0) }
        var replies = try await sendGrouped(commands, .securityCritical)
        if replies.contains(where: { $0.serverError.map(Self.isNoScript) ?? false }) {
            commands = keys.map { (RESPCommand("EVAL", [RedisScript.deleteReportingLive.source, "1", $0, now]), $0) }
            replies = try await sendGrouped(commands, .securityCritical)
        }
        try Self.check(replies)
        try Self.check(try await sendGrouped(removals(doomed), .write))
        return replies.filter { $0.int == 1 }.count
    }

    /// Every key under ``keyPrefix``, from every primary, by `SCAN` (which never blocks the
    /// server the way `KEYS` does); for operators and tests, not for request paths.
    public func keys() async throws -> [String] {
        var keys: [String] = []
        do {
            for pool in try await client.primaryPools() {
                var cursor = "0"
                repeat {
                    let reply = try await pool.send(RESPCommand("SCAN", [cursor, "MATCH", Self.globEscaped(keyPrefix) + "*", "COUNT", "1000"]))
                    guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                        throw RESPClientError.unexpectedReply("SCAN: \(reply)")
                    }
                    keys += (parts[1].array ?? []).compactMap(\.string)
                    cursor = next
                } while cursor != "0"
            }
        } catch let error as RESPClientError {
            throw Self.storeError(error)
        }
        return keys
    }

    /// `text` with the glob characters `SCAN … MATCH` interprets escaped.
    private static func globEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Sends `PING` on a pooled connection.
    /// On a cluster, every primary is asked at once (each serves its own slots); when one does
    /// not answer, the slot map is fetched again and its primaries asked once more.
    public func ping() async throws {
        do {
            do {
                try await Self.ping(try await client.primaryPools())
            } catch let error as RESPClientError {
                // On a cluster a primary that does not answer may already have been replaced
                // by its replica: check the current map once before reporting the store down,
                // so readiness returns with the failover, not with the next periodic refresh.
                guard let fresh = try? await client.refreshedPrimaryPools() else { throw error }
                try await Self.ping(fresh)
            }
        } catch let error as RESPClientError {
            throw Self.storeError(error)
        }
    }

    /// `PING`s every pool at once; throws the first failure.
    private static func ping(_ pools: [RESPConnectionPool]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pool in pools { group.addTask { _ = try await pool.send(RESPCommand("PING")) } }
            try await group.waitForAll()
        }
    }

    // MARK: Helpers

    /// An entry of a user's index: the session it names and the set it was read from.
    struct IndexMember {
        let id: SessionStorageID
        let text: String
        let setKey: String
    }

    /// The sessions the user's index lists, and those of the index from before placements.
    func members(of userID: String) async throws -> [IndexMember] {
        let sets = [userKey(userID), legacyUserKey(userID)]
        let replies = try await sendGrouped(sets.map { (RESPCommand("SMEMBERS", [$0]), $0) }, .read)
        try Self.check(replies)
        var seen = Set<SessionStorageID>()
        var unreadable: [(RESPCommand, String)] = []
        let members = zip(sets, replies).flatMap { setKey, reply in
            (reply.array ?? []).compactMap { entry -> IndexMember? in
                guard let text = entry.string, let id = SessionStorageID(encoded: text) else {
                    // Not an ID this store wrote: removed (best effort), so a capped sign-in,
                    // whose script compares the whole set, is not blocked by it.
                    if let text = entry.string { unreadable.append((RESPCommand("SREM", [setKey, text]), setKey)) }
                    return nil
                }
                guard seen.insert(id).inserted else { return nil }
                return IndexMember(id: id, text: text, setKey: setKey)
            }
        }
        if !unreadable.isEmpty { _ = try? await sendGrouped(unreadable, .write) }
        return members
    }

    func evaluate(_ script: RedisScript, keys: [String], arguments: [String], _ kind: RedisCallKind) async throws -> RESPReply {
        let tail = [String(keys.count)] + keys + arguments
        let reply = try await send([RESPCommand("EVALSHA", [script.sha1] + tail)], touching: keys.first, kind)[0]
        if let error = reply.serverError, Self.isNoScript(error) {
            return try await command(RESPCommand("EVAL", [script.source] + tail), touching: keys.first, kind)
        }
        if let error = reply.serverError { throw Self.storeError(error) }
        return reply
    }

    func command(_ command: RESPCommand, touching key: String?, _ kind: RedisCallKind) async throws -> RESPReply {
        let reply = try await send([command], touching: key, kind)[0]
        if let error = reply.serverError { throw Self.storeError(error) }
        return reply
    }

    /// Sends on the client; a write the durability setting covers is followed by `WAIT`.
    private func send(_ commands: [RESPCommand], touching key: String?, _ kind: RedisCallKind) async throws -> [RESPReply] {
        guard !commands.isEmpty else { return [] }
        // A write drops this instance's cached copies of the sessions it touches, before (so a
        // read in flight cannot fill the cache with the old value) and after (so one that
        // started meanwhile cannot either). Any argument that looks like a session key counts.
        let written = cache != nil && kind != .read ? sessionKeys(in: commands) : []
        if !written.isEmpty { cache?.drop(written) }
        defer { if !written.isEmpty { cache?.drop(written) } }
        do {
            let wait = durability.wait(for: kind)
            let replies =
                wait == .never
                ? try await client.send(commands, touching: key)
                : try await client.sendAcknowledged(
                    commands,
                    touching: key,
                    replicas: durability.replicas,
                    timeout: durability.timeout,
                    onlyIfReplicated: wait == .ifReplicated
                )
            guard replies.count == commands.count else {
                throw RESPClientError.unexpectedReply("\(replies.count) replies for \(commands.count) commands")
            }
            return replies
        } catch let error as RESPClientError {
            throw Self.storeError(error)
        }
    }

    /// Sends commands that each touch their own key: as one pipeline on one server; on a
    /// cluster, one pipeline per slot, the slots concurrently. Replies come back in order.
    func sendGrouped(_ commands: [(RESPCommand, String)], _ kind: RedisCallKind) async throws -> [RESPReply] {
        if client.allowsCrossSlotKeys { return try await send(commands.map(\.0), touching: commands.first?.1, kind) }
        let groups = Dictionary(grouping: commands.indices) { RESPHashSlot.of(commands[$0].1) }
        var replies = [RESPReply](repeating: .null, count: commands.count)
        try await withThrowingTaskGroup(of: [(Int, RESPReply)].self) { group in
            for indices in groups.values {
                group.addTask {
                    let answered = try await self.send(indices.map { commands[$0].0 }, touching: commands[indices[0]].1, kind)
                    return Array(zip(indices, answered))
                }
            }
            for try await answered in group {
                for (index, reply) in answered { replies[index] = reply }
            }
        }
        return replies
    }

    private func sessionKeys(in commands: [RESPCommand]) -> [String] {
        let prefix = Array("\(keyPrefix)s:".utf8)
        return commands.flatMap { command in
            command.arguments.compactMap { argument in argument.starts(with: prefix) ? String(decoding: argument, as: UTF8.self) : nil }
        }
    }

    static func check(_ replies: [RESPReply]) throws {
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

    static func fields(of record: SessionRecord) -> [String] {
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

    static func date(_ value: RESPReply?) -> Date {
        Date(timeIntervalSince1970: Double(value?.int ?? 0) / 1000)
    }

    private static func millis(_ date: Date) -> String {
        String(Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    func millis(_ date: Date) -> String { Self.millis(date) }
}

extension RedisSessionStore: DatabaseNamingSessionStore {
    /// `redis`, the `db.system.name` of the engine's store-call spans.
    public var databaseSystem: String { "redis" }
}
