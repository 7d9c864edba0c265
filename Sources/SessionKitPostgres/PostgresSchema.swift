/// The PostgreSQL schema, applied by ``PostgresSessionStore/migrate()`` inside one
/// transaction that holds an advisory lock, so instances starting together do not race.
///
/// `data` is `jsonb`, so a patch is one `UPDATE … SET data = (data - removed) || set`.
/// `expires_at` is the earlier of the two expiry instants, kept current by every write, so
/// reads, listings and the sweeper all filter on one indexed column.
public enum PostgresSchema {
    /// The advisory-lock key the migration holds.
    public static let migrationLockKey: Int64 = 0x5345_5353_4D49_4752  // "SESSMIGR"
    /// The advisory-lock key a sweeping instance holds.
    public static let sweeperLockKey: Int64 = 0x5345_5353_5357_4550  // "SESSSWEP"

    /// The statements of the migration, in order. Every one is idempotent.
    public static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS sessionkit_sessions (
            id text PRIMARY KEY,                      -- SHA-256 of the token, 64 hex digits
            data jsonb NOT NULL DEFAULT '{}'::jsonb,  -- key -> value
            user_id text,
            created_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            idle_expires_at timestamptz NOT NULL,
            absolute_expires_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,          -- least(idle_expires_at, absolute_expires_at)
            user_agent text,
            version bigint NOT NULL DEFAULT 1
        )
        """,
        "CREATE INDEX IF NOT EXISTS sessionkit_sessions_expires_at ON sessionkit_sessions (expires_at)",
        "CREATE INDEX IF NOT EXISTS sessionkit_sessions_user_id ON sessionkit_sessions (user_id, created_at) WHERE user_id IS NOT NULL",
    ]
}
