/// The SQLite schema, applied by ``SQLiteSessionStore/migrate()``.
///
/// Times are integer milliseconds since 1970. `expires_at` is the earlier of the two expiry
/// instants, kept up to date by every write so the sweeper and every read filter on one
/// indexed column.
public enum SQLiteSchema {
    /// The statements of the migration, in order. Every one is idempotent.
    public static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS sessionkit_sessions (
            id TEXT PRIMARY KEY NOT NULL,          -- SHA-256 of the token, 64 hex digits
            data TEXT NOT NULL DEFAULT '{}',       -- JSON object: key -> value
            user_id TEXT,
            created_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            idle_expires_at INTEGER NOT NULL,
            absolute_expires_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,           -- min(idle_expires_at, absolute_expires_at)
            user_agent TEXT,
            version INTEGER NOT NULL DEFAULT 1
        ) WITHOUT ROWID
        """,
        "CREATE INDEX IF NOT EXISTS sessionkit_sessions_expires_at ON sessionkit_sessions (expires_at)",
        "CREATE INDEX IF NOT EXISTS sessionkit_sessions_user_id ON sessionkit_sessions (user_id, created_at) WHERE user_id IS NOT NULL",
    ]
}
