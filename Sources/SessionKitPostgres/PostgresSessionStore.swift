import Foundation
import Logging
import PostgresNIO
import SessionKit

/// A session store in PostgreSQL, shared by any number of server instances.
///
/// - Keyed by the token digest; `data` is `jsonb`, so an update is one statement that merges only
///   the changed keys (`(data - removed) || set`) and touches nothing once the row has expired.
/// - Regenerate inserts the new row and deletes the old one in one transaction.
/// - "Sign out everywhere" and "list my sessions" are one statement each on an index.
/// - Expired rows are invisible at once and removed by `SessionSweeper` in batches; only one
///   instance sweeps at a time (a transaction-scoped advisory lock), however many run.
///
/// The store uses a `PostgresClient` you run as a service (it is the connection pool), or a
/// ``PostgresPrimaryClient`` that follows the primary of a replicated pair:
/// ```swift
/// let client = PostgresClient(configuration: try PostgresConnectionURL.configuration(from: url))
/// let store = PostgresSessionStore(client: client)
/// // run `client` in your ServiceGroup (or `Task { await client.run() }`), then:
/// try await store.migrate()
/// ```
/// Every failure (server down, restarting, timeout) surfaces as a `SessionStoreError`,
/// which the engine answers with 503; the pool reconnects by itself when the server returns.
public final class PostgresSessionStore: SweepableSessionStore, SessionUserIndexing, VersionedSessionStore, AtomicKeySessionStore,
    PingableSessionStore
{
    private let target: Target
    /// How touches commit (see ``PostgresTouchCommit``).
    public let touchCommit: PostgresTouchCommit
    let clock: any SessionClock
    let logger: Logger

    /// Where queries go: one server's pool, or the pools of a primary and its standbys.
    private enum Target: Sendable {
        case single(PostgresClient)
        case primary(PostgresPrimaryClient)
    }

    /// Creates a store over a running (or soon running) client of one server; `touchCommit`
    /// chooses whether touches wait for a synchronous standby.
    public init(
        client: PostgresClient,
        touchCommit: PostgresTouchCommit = .durable,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger = Logger(label: "SessionKit.Postgres")
    ) {
        self.target = .single(client)
        self.touchCommit = touchCommit
        self.clock = clock
        self.logger = logger
    }

    /// Creates a store that follows the writable primary among several servers (see
    /// ``PostgresPrimaryClient``; run it as a service); `touchCommit` chooses whether touches
    /// wait for a synchronous standby.
    public init(
        primaryClient: PostgresPrimaryClient,
        touchCommit: PostgresTouchCommit = .durable,
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger = Logger(label: "SessionKit.Postgres")
    ) {
        self.target = .primary(primaryClient)
        self.touchCommit = touchCommit
        self.clock = clock
        self.logger = logger
    }

    /// Creates the table and indexes if they do not exist (see ``PostgresSchema``). Safe to run
    /// from every instance at start-up, concurrently.
    public func migrate() async throws {
        try await run { client in
            try await client.withTransaction(logger: self.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLockKey))", logger: self.logger)
                for statement in PostgresSchema.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
            }
        }
    }

    // MARK: SessionStore

    /// Returns the live record.
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        let now = clock.now()
        return try await run { client in
            let rows = try await client.query(
                """
                SELECT data::text, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, user_agent, version
                FROM sessionkit_sessions WHERE id = \(id.hex) AND expires_at > \(now)
                """,
                logger: self.logger
            )
            for try await (data, user, created, lastSeen, idle, absolute, agent, version) in rows.decode(
                (String, String?, Date, Date, Date, Date, String?, Int64).self
            ) {
                guard let values = try? SessionDataJSON.decodeObject(Array(data.utf8)) else {
                    throw SessionStoreError.corrupt(reason: "session data is not a JSON object")
                }
                return SessionRecord(
                    data: values.mapValues(PostgresJSONNul.original),
                    userID: user,
                    createdAt: created,
                    lastSeenAt: lastSeen,
                    idleExpiresAt: idle,
                    absoluteExpiresAt: absolute,
                    userAgent: agent,
                    version: UInt64(version)
                )
            }
            return nil
        }
    }

    /// Inserts a record; replaces an expired one with the same ID, fails on a live one.
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        let inserted = try await run { client in try await self.insert(id, record) { try await client.query($0, logger: self.logger) } }
        guard inserted else { throw SessionStoreError.collision }
    }

    private func insertQuery(_ id: SessionStorageID, _ record: SessionRecord) -> PostgresQuery {
        let data = String(decoding: SessionDataJSON.encodeObject(PostgresJSONNul.storable(record.data)), as: UTF8.self)
        let version = Int64(record.version)
        return """
            INSERT INTO sessionkit_sessions
                (id, data, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, expires_at, user_agent, version)
            VALUES (\(id.hex), \(data)::jsonb, \(record.userID), \(record.createdAt), \(record.lastSeenAt),
                \(record.idleExpiresAt), \(record.absoluteExpiresAt), \(record.expiresAt), \(record.userAgent), \(version))
            ON CONFLICT (id) DO UPDATE SET
                data = excluded.data, user_id = excluded.user_id, created_at = excluded.created_at,
                last_seen_at = excluded.last_seen_at, idle_expires_at = excluded.idle_expires_at,
                absolute_expires_at = excluded.absolute_expires_at, expires_at = excluded.expires_at,
                user_agent = excluded.user_agent, version = excluded.version
            WHERE sessionkit_sessions.expires_at <= \(clock.now())
            RETURNING id
            """
    }

    private func insert(
        _ id: SessionStorageID,
        _ record: SessionRecord,
        running execute: (PostgresQuery) async throws -> PostgresRowSequence
    ) async throws -> Bool {
        let rows = try await execute(insertQuery(id, record))
        var inserted = false
        for try await _ in rows { inserted = true }
        return inserted
    }

    /// Applies an update in one `UPDATE` (an update without keys is a touch, committed as
    /// ``touchCommit`` says).
    public func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        try await apply(update, to: id, expectedVersion: nil) == .applied
    }

    /// Applies an update in one `UPDATE` guarded by the version; only when it matches no row
    /// does a second `SELECT` tell a conflict from a gone record.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        try await apply(update, to: id, expectedVersion: expectedVersion)
    }

    private func apply(_ update: SessionUpdate, to id: SessionStorageID, expectedVersion: UInt64?) async throws -> SessionUpdateResult {
        let set = String(decoding: SessionDataJSON.encodeObject(PostgresJSONNul.storable(update.setValues)), as: UTF8.self)
        let removed = update.removedKeys.sorted()
        let expected = expectedVersion.map { Int64($0) }
        let now = clock.now()
        // `set_config(…, true)` lasts until this statement's implicit transaction ends, and
        // PostgreSQL reads `synchronous_commit` when that transaction commits.
        let relaxed = update.isTouch && expected == nil && touchCommit == .asynchronous
        let commitSetting = relaxed ? "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS touch_commit " : ""
        return try await run { client in
            let rows = try await client.query(
                """
                UPDATE sessionkit_sessions SET
                    data = (data - \(removed)::text[]) || \(set)::jsonb,
                    idle_expires_at = \(update.idleExpiresAt),
                    expires_at = LEAST(\(update.idleExpiresAt), absolute_expires_at),
                    last_seen_at = \(update.lastSeenAt),
                    version = version + 1
                \(unescaped: commitSetting)WHERE id = \(id.hex) AND expires_at > \(now) AND (\(expected)::bigint IS NULL OR version = \(expected)::bigint)
                RETURNING 1
                """,
                logger: self.logger
            )
            for try await _ in rows { return .applied }
            guard expected != nil else { return .notFound }
            let live = try await client.query(
                "SELECT 1 FROM sessionkit_sessions WHERE id = \(id.hex) AND expires_at > \(now)",
                logger: self.logger
            )
            for try await _ in live { return .conflict }
            return .notFound
        }
    }

    // MARK: AtomicKeySessionStore

    /// One `UPDATE` that merges the key only while `data -> key` still equals the expected
    /// `jsonb` (absent: `NULL`); only when it matches no row does a `SELECT` read the current
    /// value, or tell that the row is gone.
    public func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        let update = write.update
        let set = String(decoding: SessionDataJSON.encodeObject(PostgresJSONNul.storable(update.setValues)), as: UTF8.self)
        let removed = update.removedKeys.sorted()
        let expected = write.expected.map { String(decoding: PostgresJSONNul.storable($0), as: UTF8.self) }
        let key = write.key
        let now = clock.now()
        return try await run { client in
            let rows = try await client.query(
                """
                UPDATE sessionkit_sessions SET
                    data = (data - \(removed)::text[]) || \(set)::jsonb,
                    idle_expires_at = \(update.idleExpiresAt),
                    expires_at = LEAST(\(update.idleExpiresAt), absolute_expires_at),
                    last_seen_at = \(update.lastSeenAt),
                    version = version + 1
                WHERE id = \(id.hex) AND expires_at > \(now) AND (data -> \(key)::text) IS NOT DISTINCT FROM \(expected)::jsonb
                RETURNING version
                """,
                logger: self.logger
            )
            for try await version in rows.decode(Int64.self) { return .applied(version: UInt64(version)) }
            let current = try await client.query(
                "SELECT (data -> \(key)::text)::text FROM sessionkit_sessions WHERE id = \(id.hex) AND expires_at > \(now)",
                logger: self.logger
            )
            for try await value in current.decode(String?.self) {
                return .conflict(current: value.map { PostgresJSONNul.original(Data($0.utf8)) })
            }
            return .notFound
        }
    }

    /// `true`: one operation that cannot conflict.
    public var incrementsNatively: Bool { true }

    /// One `UPDATE` that adds to the key with `numeric` arithmetic, guarded so it only changes
    /// an absent key or a JSON integer whose sum fits in 64 bits: it never conflicts.
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        let key = increment.key
        let delta = increment.delta
        let now = clock.now()
        return try await run { client in
            let rows = try await client.query(
                """
                UPDATE sessionkit_sessions SET
                    data = jsonb_set(data, ARRAY[\(key)::text], to_jsonb(COALESCE((data ->> \(key)::text)::numeric, 0) + \(delta)::bigint)),
                    idle_expires_at = \(increment.idleExpiresAt),
                    expires_at = LEAST(\(increment.idleExpiresAt), absolute_expires_at),
                    last_seen_at = \(increment.lastSeenAt),
                    version = version + 1
                WHERE id = \(id.hex) AND expires_at > \(now) AND (CASE
                    WHEN NOT (data ? \(key)::text) THEN \(delta)::numeric
                    WHEN jsonb_typeof(data -> \(key)::text) = 'number' AND (data ->> \(key)::text) ~ '^(0|-?[1-9][0-9]*)$'
                        THEN (data ->> \(key)::text)::numeric + \(delta)::bigint
                    END) BETWEEN -9223372036854775808 AND 9223372036854775807
                RETURNING data ->> \(key)::text, version
                """,
                logger: self.logger
            )
            for try await (value, version) in rows.decode((String, Int64).self) {
                guard let sum = Int64(value) else { throw SessionStoreError.corrupt(reason: "PostgreSQL returned a non-integer sum") }
                return .applied(value: sum, version: UInt64(version))
            }
            let live = try await client.query(
                "SELECT 1 FROM sessionkit_sessions WHERE id = \(id.hex) AND expires_at > \(now)",
                logger: self.logger
            )
            for try await _ in live { return .notAnInteger }
            return .notFound
        }
    }

    /// Deletes a record.
    public func delete(_ id: SessionStorageID) async throws {
        _ = try await run { client in
            try await client.query("DELETE FROM sessionkit_sessions WHERE id = \(id.hex)", logger: self.logger)
        }
    }

    /// Deletes the live old row and inserts the new one in one transaction; writes nothing
    /// when the old row is gone.
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        let now = clock.now()
        return try await run { client in
            do {
                return try await rotateInTransaction(oldID, to: newID, record: record, now: now, client: client)
            } catch let error as PostgresTransactionError where error.closureError is RotateAborted {
                return false
            }
        }
    }

    private func rotateInTransaction(
        _ oldID: SessionStorageID,
        to newID: SessionStorageID,
        record: SessionRecord,
        now: Date,
        client: PostgresClient
    ) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection -> Bool in
            let deleted = try await connection.query(
                "DELETE FROM sessionkit_sessions WHERE id = \(oldID.hex) RETURNING expires_at > \(now)",
                logger: self.logger
            )
            var live = false
            for try await wasLive in deleted.decode(Bool.self) { live = wasLive }
            guard live else { throw RotateAborted() }
            guard try await self.insert(newID, record, running: { try await connection.query($0, logger: self.logger) }) else {
                throw SessionStoreError.collision
            }
            return true
        }
    }

    /// Rolls back a rotation whose old row was gone.
    private struct RotateAborted: Error {}

    /// Lists a user's live sessions, oldest first.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        let now = clock.now()
        return try await run { client in
            let rows = try await client.query(
                """
                SELECT id, created_at, last_seen_at, expires_at, user_agent FROM sessionkit_sessions
                WHERE user_id = \(userID) AND expires_at > \(now) ORDER BY created_at, id
                """,
                logger: self.logger
            )
            var result: [SessionSummary] = []
            for try await (hex, created, lastSeen, expires, agent) in rows.decode((String, Date, Date, Date, String?).self) {
                guard let id = SessionStorageID(hex: hex) else { throw SessionStoreError.corrupt(reason: "a session row has a malformed id") }
                result.append(SessionSummary(id: id, userID: userID, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires, userAgent: agent))
            }
            return result
        }
    }

    /// Deletes a user's sessions except one, in one statement.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        let kept = keptID?.hex
        let now = clock.now()
        return try await run { client in
            let rows = try await client.query(
                """
                DELETE FROM sessionkit_sessions WHERE user_id = \(userID) AND (\(kept)::text IS NULL OR id <> \(kept)::text)
                RETURNING expires_at > \(now)
                """,
                logger: self.logger
            )
            var live = 0
            for try await wasLive in rows.decode(Bool.self) where wasLive { live += 1 }
            return live
        }
    }

    /// Deletes up to `batchSize` expired rows, unless another instance is sweeping right now
    /// (then it deletes nothing and returns 0).
    public func sweepExpired(batchSize: Int) async throws -> Int {
        let now = clock.now()
        let limit = Int64(batchSize)
        return try await run { client in
            let rows = try await client.query(
                """
                WITH sweeper AS (SELECT pg_try_advisory_xact_lock(\(PostgresSchema.sweeperLockKey)) AS acquired),
                doomed AS (
                    SELECT id FROM sessionkit_sessions
                    WHERE expires_at <= \(now) AND (SELECT acquired FROM sweeper)
                    ORDER BY expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                )
                DELETE FROM sessionkit_sessions WHERE id IN (SELECT id FROM doomed) RETURNING 1
                """,
                logger: self.logger
            )
            var deleted = 0
            for try await _ in rows { deleted += 1 }
            return deleted
        }
    }

    /// Runs `SELECT 1` on a pooled connection.
    public func ping() async throws {
        try await run { client in
            let rows = try await client.query("SELECT 1", logger: self.logger)
            for try await _ in rows {}
        }
    }

    // MARK: Errors

    /// Runs `body` on the pool of the server (or the current primary) and maps every failure to
    /// a `SessionStoreError`.
    private func run<Result>(_ body: (PostgresClient) async throws -> Result) async throws -> Result {
        do {
            switch target {
            case .single(let client): return try await body(client)
            case .primary(let primaries): return try await primaries.withPrimary(body)
            }
        } catch let error as SessionStoreError {
            throw error
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? SessionStoreError { throw inner }
            throw SessionStoreError.unavailable(reason: "PostgreSQL transaction failed")
        } catch let error as PSQLError {
            throw SessionStoreError.unavailable(reason: "PostgreSQL: \(error.code)\(error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")")
        } catch {
            throw SessionStoreError.unavailable(reason: "PostgreSQL: \(error)")
        }
    }
}

extension PostgresSessionStore: DatabaseNamingSessionStore {
    /// `postgresql`, the `db.system.name` of the engine's store-call spans.
    public var databaseSystem: String { "postgresql" }
}
