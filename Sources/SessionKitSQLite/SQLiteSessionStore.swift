import Foundation
import Logging
import NIOCore
import SQLiteNIO
import SessionKit

/// A session store in an SQLite file: the embedded, persistent default.
///
/// - WAL journal, `synchronous=NORMAL`, and a busy timeout, so the file stays consistent
///   across crashes and concurrent requests wait instead of failing.
/// - Writes go through one connection behind a FIFO lock (SQLite has one writer anyway);
///   reads use a second connection and run alongside writes thanks to WAL.
/// - Every update is one `UPDATE` merging only the changed keys with `json_set`/`json_remove`,
///   guarded by `expires_at > now`, so a gone record is never re-created.
///
/// Open it, run the migration once at start-up, and hand it to the engine:
/// ```swift
/// let store = try await SQLiteSessionStore.open(path: "sessions.sqlite")
/// try await store.migrate()
/// ```
public final class SQLiteSessionStore: SweepableSessionStore, SessionUserIndexing, VersionedSessionStore, AtomicKeySessionStore,
    PingableSessionStore
{
    let writer: SQLiteConnection
    let reader: SQLiteConnection
    /// Serialises the writer connection (SQLite has one writer; some writes are transactions).
    let writeLock = KeyedAsyncLock<String>()
    let clock: any SessionClock
    let closed = LockedValue(false)
    private static let writerKey = "writer"
    /// The file the store lives in.
    public let path: String

    private init(path: String, writer: SQLiteConnection, reader: SQLiteConnection, clock: any SessionClock) {
        self.path = path
        self.writer = writer
        self.reader = reader
        self.clock = clock
    }

    /// Opens (creating if needed) the database file and configures WAL mode and the busy timeout.
    public static func open(
        path: String,
        busyTimeout: Duration = .seconds(5),
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger = Logger(label: "SessionKit.SQLite")
    ) async throws -> SQLiteSessionStore {
        do {
            let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let timeoutMillis = Int(busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000)
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=\(timeoutMillis)"] {
                _ = try await writer.query(pragma, [])
            }
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            _ = try await reader.query("PRAGMA busy_timeout=\(timeoutMillis)", [])
            return SQLiteSessionStore(path: path, writer: writer, reader: reader, clock: clock)
        } catch {
            throw SessionStoreError.unavailable(reason: "cannot open SQLite file \(path): \(error)")
        }
    }

    /// Creates the table and indexes if they do not exist (see ``SQLiteSchema``). Safe to run
    /// on every start-up.
    public func migrate() async throws {
        try await write { connection in
            for statement in SQLiteSchema.statements {
                _ = try await connection.query(statement, [])
            }
        }
    }

    /// Closes both connections. A store that is dropped without this closes them itself.
    public func close() async throws {
        guard markClosed() else { return }
        try await writeLock.withLock(Self.writerKey) { try await self.writer.close() }
        try await reader.close()
    }

    private func markClosed() -> Bool {
        closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
    }

    deinit {
        if markClosed() {
            // The futures keep the connections alive until they have closed.
            _ = writer.close() as EventLoopFuture<Void>
            _ = reader.close() as EventLoopFuture<Void>
        }
    }

    // MARK: SessionStore

    /// Returns the live record.
    public func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        let rows = try await read(
            "SELECT data, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, user_agent, version FROM sessionkit_sessions WHERE id = ?1 AND expires_at > ?2",
            [.text(id.hex), .integer(millis(clock.now()))]
        )
        guard let row = rows.first else { return nil }
        return try record(from: row)
    }

    /// Inserts a record; replaces an expired one with the same ID, fails on a live one.
    public func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        let inserted = try await write { connection in try await self.insert(id, record, on: connection) }
        guard inserted else { throw SessionStoreError.collision }
    }

    private func insert(_ id: SessionStorageID, _ record: SessionRecord, on connection: SQLiteConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO sessionkit_sessions
                (id, data, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, expires_at, user_agent, version)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            ON CONFLICT (id) DO UPDATE SET
                data = excluded.data, user_id = excluded.user_id, created_at = excluded.created_at,
                last_seen_at = excluded.last_seen_at, idle_expires_at = excluded.idle_expires_at,
                absolute_expires_at = excluded.absolute_expires_at, expires_at = excluded.expires_at,
                user_agent = excluded.user_agent, version = excluded.version
            WHERE sessionkit_sessions.expires_at <= ?11
            RETURNING id
            """,
            [
                .text(id.hex), .text(String(decoding: SessionDataJSON.encodeObject(record.data), as: UTF8.self)),
                record.userID.map(SQLiteData.text) ?? .null,
                .integer(millis(record.createdAt)), .integer(millis(record.lastSeenAt)),
                .integer(millis(record.idleExpiresAt)), .integer(millis(record.absoluteExpiresAt)),
                .integer(millis(record.expiresAt)), record.userAgent.map(SQLiteData.text) ?? .null,
                .integer(SQLiteInt64(record.version)), .integer(millis(clock.now())),
            ]
        )
        return !rows.isEmpty
    }

    /// Applies an update in one `UPDATE` (an update without keys is a touch).
    public func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        try await apply(update, to: id, expectedVersion: nil) == .applied
    }

    /// Applies an update in one `UPDATE` guarded by the version; only when it matches no row
    /// does a second `SELECT` tell a conflict from a gone record.
    public func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        try await apply(update, to: id, expectedVersion: expectedVersion)
    }

    private func apply(_ update: SessionUpdate, to id: SessionStorageID, expectedVersion: UInt64?) async throws -> SessionUpdateResult {
        let (sql, arguments) = try updateStatement(update, id, expectedVersion: expectedVersion)
        return try await write { connection in
            guard try await connection.query(sql, arguments).isEmpty else { return .applied }
            guard expectedVersion != nil else { return .notFound }
            return try await self.liveData(id, on: connection) == nil ? .notFound : .conflict
        }
    }

    /// One `UPDATE` applying `update` to the live record (and only at `expectedVersion`, when
    /// given), returning the new version of the row it changed.
    private func updateStatement(
        _ update: SessionUpdate,
        _ id: SessionStorageID,
        expectedVersion: UInt64?,
        keyHolds keyCondition: (key: String, value: Data?)? = nil
    ) throws -> (String, [SQLiteData]) {
        var expression = "data"
        var binds: [SQLiteData] = [.text(id.hex), .integer(millis(clock.now()))]
        func bind(_ value: SQLiteData) -> String {
            binds.append(value)
            return "?\(binds.count)"
        }
        // SQLite functions take at most 1,000 arguments, so long lists nest several calls.
        let pairs = update.setValues.sorted(by: { $0.key < $1.key })
        for chunk in stride(from: 0, to: pairs.count, by: Self.argumentsPerCall / 2) {
            let arguments = try pairs[chunk..<min(chunk + Self.argumentsPerCall / 2, pairs.count)].map { key, value in
                "\(bind(.text(try Self.path(for: key)))), json(\(bind(.text(String(decoding: value, as: UTF8.self)))))"
            }
            expression = "json_set(\(expression), \(arguments.joined(separator: ", ")))"
        }
        let removed = update.removedKeys.sorted()
        for chunk in stride(from: 0, to: removed.count, by: Self.argumentsPerCall) {
            let paths = try removed[chunk..<min(chunk + Self.argumentsPerCall, removed.count)].map { bind(.text(try Self.path(for: $0))) }
            expression = "json_remove(\(expression), \(paths.joined(separator: ", ")))"
        }
        let idle = bind(.integer(millis(update.idleExpiresAt)))
        var assignments = [
            "idle_expires_at = \(idle)",
            "expires_at = min(\(idle), absolute_expires_at)",
            "last_seen_at = \(bind(.integer(millis(update.lastSeenAt))))",
            "version = version + 1",
        ]
        if expression != "data" { assignments.insert("data = \(expression)", at: 0) }
        var condition = "id = ?1 AND expires_at > ?2"
        if let expectedVersion {
            condition += " AND version = \(bind(.integer(SQLiteInt64(expectedVersion))))"
        }
        if let (key, value) = keyCondition {
            // `->` renders the member as minified JSON text, as `json()` renders the expected value.
            let path = bind(.text(try Self.path(for: key)))
            condition +=
                value.map { " AND data -> \(path) IS json(\(bind(.text(String(decoding: $0, as: UTF8.self)))))" } ?? " AND data -> \(path) IS NULL"
        }
        return ("UPDATE sessionkit_sessions SET \(assignments.joined(separator: ", ")) WHERE \(condition) RETURNING version", binds)
    }

    /// The live record's values, read on `connection` (inside the caller's transaction).
    private func liveData(_ id: SessionStorageID, on connection: SQLiteConnection) async throws -> [String: Data]? {
        let rows = try await connection.query(
            "SELECT data FROM sessionkit_sessions WHERE id = ?1 AND expires_at > ?2",
            [.text(id.hex), .integer(millis(clock.now()))]
        )
        guard let row = rows.first else { return nil }
        guard let text = row.column("data")?.string, let data = try? SessionDataJSON.decodeObject(Array(text.utf8)) else {
            throw SessionStoreError.corrupt(reason: "session data is not a JSON object")
        }
        return data
    }

    // MARK: AtomicKeySessionStore

    /// One `UPDATE` of the key guarded by `data -> path IS json(expected)`; only when it
    /// matches no row does a read on the writer connection report the key's value, or that
    /// the record is gone. Should SQLite ever render the stored value differently from the
    /// bytes ``load(_:)`` returned (so the guard fails on an equal value), the write is made in
    /// a `BEGIN IMMEDIATE` transaction that compares the bytes instead.
    public func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        let (guarded, guardedArguments) = try updateStatement(write.update, id, expectedVersion: nil, keyHolds: (write.key, write.expected))
        return try await self.write { connection in
            if let version = try await connection.query(guarded, guardedArguments).first?.column("version")?.integer {
                return .applied(version: UInt64(version))
            }
            return try await self.inTransaction(connection) {
                guard let data = try await self.liveData(id, on: connection) else { return .notFound }
                guard data[write.key] == write.expected else { return .conflict(current: data[write.key]) }
                let (plain, plainArguments) = try self.updateStatement(write.update, id, expectedVersion: nil)
                return .applied(version: try await self.version(connection.query(plain, plainArguments)))
            }
        }
    }

    /// One `UPDATE` that adds in SQL, guarded so it only changes an absent key or a JSON
    /// integer whose sum stays an integer (SQLite turns an overflowing sum into a float): it
    /// never conflicts. Only when no row matches does a `SELECT` tell `.notAnInteger` from
    /// `.notFound`.
    public func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        let path = try Self.path(for: increment.key)
        let idle = millis(increment.idleExpiresAt)
        let sql = """
            UPDATE sessionkit_sessions SET
                data = json_set(data, ?3, coalesce(json_extract(data, ?3), 0) + ?4),
                idle_expires_at = ?5, expires_at = min(?5, absolute_expires_at), last_seen_at = ?6, version = version + 1
            WHERE id = ?1 AND expires_at > ?2
                AND (json_type(data, ?3) IS NULL OR json_type(data, ?3) = 'integer')
                AND typeof(coalesce(json_extract(data, ?3), 0) + ?4) = 'integer'
            RETURNING json_extract(data, ?3) AS value, version
            """
        let arguments: [SQLiteData] = [
            .text(id.hex), .integer(millis(clock.now())), .text(path), .integer(SQLiteInt64(increment.delta)), .integer(idle),
            .integer(millis(increment.lastSeenAt)),
        ]
        return try await write { connection in
            if let row = try await connection.query(sql, arguments).first {
                guard let value = row.column("value")?.integer, let version = row.column("version")?.integer else {
                    throw SessionStoreError.corrupt(reason: "SQLite increment returned no integer")
                }
                return .applied(value: Int64(value), version: UInt64(version))
            }
            return try await self.liveData(id, on: connection) == nil ? .notFound : .notAnInteger
        }
    }

    private func version(_ rows: [SQLiteRow]) throws -> UInt64 {
        guard let version = rows.first?.column("version")?.integer else {
            throw SessionStoreError.unavailable(reason: "SQLite update in a transaction changed no row")
        }
        return UInt64(version)
    }

    /// Runs `body` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back when it throws.
    private func inTransaction<Result>(_ connection: SQLiteConnection, _ body: () async throws -> Result) async throws -> Result {
        _ = try await connection.query("BEGIN IMMEDIATE", [])
        do {
            let result = try await body()
            _ = try await connection.query("COMMIT", [])
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK", [])
            throw error
        }
    }

    /// Deletes a record.
    public func delete(_ id: SessionStorageID) async throws {
        _ = try await write { connection in
            try await connection.query("DELETE FROM sessionkit_sessions WHERE id = ?1", [.text(id.hex)])
        }
    }

    /// Deletes the live old record and inserts the new one in one transaction; writes nothing
    /// when the old record is gone.
    public func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        try await write { connection in
            _ = try await connection.query("BEGIN IMMEDIATE", [])
            do {
                let deleted = try await connection.query(
                    "DELETE FROM sessionkit_sessions WHERE id = ?1 RETURNING expires_at > ?2 AS live",
                    [.text(oldID.hex), .integer(self.millis(self.clock.now()))]
                )
                guard deleted.first?.column("live")?.integer == 1 else {
                    _ = try await connection.query("ROLLBACK", [])
                    return false
                }
                guard try await self.insert(newID, record, on: connection) else { throw SessionStoreError.collision }
                _ = try await connection.query("COMMIT", [])
                return true
            } catch {
                _ = try? await connection.query("ROLLBACK", [])
                throw error
            }
        }
    }

    /// Lists a user's live sessions, oldest first.
    public func sessions(forUser userID: String) async throws -> [SessionSummary] {
        let rows = try await read(
            """
            SELECT id, user_id, created_at, last_seen_at, expires_at, user_agent FROM sessionkit_sessions
            WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at, id
            """,
            [.text(userID), .integer(millis(clock.now()))]
        )
        return try rows.map { row in
            guard let hex = row.column("id")?.string, let id = SessionStorageID(hex: hex) else {
                throw SessionStoreError.corrupt(reason: "a session row has a malformed id")
            }
            return SessionSummary(
                id: id,
                userID: row.column("user_id")?.string,
                createdAt: date(row, "created_at"),
                lastSeenAt: date(row, "last_seen_at"),
                expiresAt: date(row, "expires_at"),
                userAgent: row.column("user_agent")?.string
            )
        }
    }

    /// Deletes a user's sessions except one, in one statement.
    public func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        let rows = try await write { connection in
            try await connection.query(
                "DELETE FROM sessionkit_sessions WHERE user_id = ?1 AND id IS NOT ?2 RETURNING expires_at > ?3 AS live",
                [.text(userID), keptID.map { .text($0.hex) } ?? .null, .integer(self.millis(self.clock.now()))]
            )
        }
        return rows.filter { $0.column("live")?.integer == 1 }.count
    }

    /// Runs a trivial read on the reader connection.
    public func ping() async throws {
        _ = try await read("SELECT 1", [])
    }

    // MARK: Sweeping

    /// Deletes up to `batchSize` expired rows; returns how many it deleted.
    @discardableResult
    public func sweepExpired(batchSize: Int) async throws -> Int {
        let rows = try await write { connection in
            try await connection.query(
                """
                DELETE FROM sessionkit_sessions WHERE id IN
                    (SELECT id FROM sessionkit_sessions WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)
                RETURNING 1 AS deleted
                """,
                [.integer(self.millis(self.clock.now())), .integer(SQLiteInt64(batchSize))]
            )
        }
        return rows.count
    }

    // MARK: Helpers

    private func read(_ sql: String, _ binds: [SQLiteData]) async throws -> [SQLiteRow] {
        do {
            return try await reader.query(sql, binds)
        } catch {
            throw SessionStoreError.unavailable(reason: "SQLite read failed: \(error)")
        }
    }

    private func write<Result: Sendable>(_ body: @Sendable (SQLiteConnection) async throws -> Result) async throws -> Result {
        do {
            return try await writeLock.withLock(Self.writerKey) { try await body(self.writer) }
        } catch let error as SessionStoreError {
            throw error
        } catch {
            throw SessionStoreError.unavailable(reason: "SQLite write failed: \(error)")
        }
    }

    private func record(from row: SQLiteRow) throws -> SessionRecord {
        guard let text = row.column("data")?.string, let data = try? SessionDataJSON.decodeObject(Array(text.utf8)) else {
            throw SessionStoreError.corrupt(reason: "session data is not a JSON object")
        }
        return SessionRecord(
            data: data,
            userID: row.column("user_id")?.string,
            createdAt: date(row, "created_at"),
            lastSeenAt: date(row, "last_seen_at"),
            idleExpiresAt: date(row, "idle_expires_at"),
            absoluteExpiresAt: date(row, "absolute_expires_at"),
            userAgent: row.column("user_agent")?.string,
            version: UInt64(row.column("version")?.integer ?? 1)
        )
    }

    private func date(_ row: SQLiteRow, _ column: String) -> Date {
        Date(timeIntervalSince1970: Double(row.column(column)?.integer ?? 0) / 1000)
    }

    func millis(_ date: Date) -> SQLiteInt64 {
        SQLiteInt64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Paths (or path-value pairs counted as two) per `json_set`/`json_remove` call: under
    /// SQLite's default limit of function arguments in every release (127 before 3.48, 1,000
    /// since), not only the bundled one's.
    static let argumentsPerCall = 126

    /// The JSON path of a top-level key: `$.` and the key as a quoted, escaped JSON string.
    /// SQLite reads escapes inside a quoted path label and compares labels after unescaping
    /// both sides, so a key with `"`, `\`, control characters or a `\u005f` that would
    /// otherwise alias `_` addresses exactly the member of that name. NUL is the exception
    /// (SQLite's label comparison stops at a decoded NUL, so `a\u0000b` would address `a`):
    /// such keys are refused, as the engine refuses them (`SessionError.invalidKey(_:)`).
    static func path(for key: String) throws -> String {
        guard !key.utf8.contains(0) else {
            throw SessionStoreError.corrupt(reason: "the SQLite store cannot address session keys containing NUL")
        }
        return "$." + String(decoding: SessionDataJSON.encodeString(key), as: UTF8.self)
    }
}

extension SQLiteSessionStore: DatabaseNamingSessionStore {
    /// `sqlite`, the `db.system.name` of the engine's store-call spans.
    public var databaseSystem: String { "sqlite" }
}
