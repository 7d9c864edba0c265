import Foundation

/// Where server-side sessions live: memory, SQLite, PostgreSQL, Redis/Valkey, or your own.
///
/// The core contract is five calls. Stores know nothing about HTTP or tokens: every call takes
/// the ``SessionStorageID`` (SHA-256 of the token). The engine decides *when* to call them; a
/// store only has to keep these rules, which `SessionKitTesting`'s conformance suite checks
/// (`SessionStoreConformance.core`):
///
/// - A record is gone from its ``SessionRecord/expiresAt`` on: ``load(_:)`` returns `nil`,
///   ``update(_:_:)`` and ``rotate(_:to:record:)`` do nothing. The store also removes it
///   eventually by itself (TTL or sweeper), with no request.
/// - Nothing ever re-creates a record that is gone: only ``create(_:_:)`` and
///   ``rotate(_:to:record:)`` make records, and `rotate` only while the old one is live.
/// - Every call returns or throws within the store's own timeout; failures are thrown as
///   ``SessionStoreError`` so the engine can answer 503 instead of signing anyone out.
///
/// Everything else is an opt-in capability the engine checks once, when it is created:
/// ``SessionUserIndexing`` (list a user's sessions, sign out everywhere, the session cap),
/// ``VersionedSessionStore`` (reject stale writes), ``SweepableSessionStore`` (batch removal
/// of expired records) and ``PingableSessionStore`` (a readiness probe).
public protocol SessionStore: Sendable {
    /// Returns the live record, or `nil` when there is none (unknown, deleted or expired).
    func load(_ id: SessionStorageID) async throws -> SessionRecord?

    /// Stores a new record. Throws ``SessionStoreError/collision`` when a live record already
    /// has this ID (an expired one may be replaced).
    func create(_ id: SessionStorageID, _ record: SessionRecord) async throws

    /// Applies an update to a live record atomically: sets `setValues`, removes `removedKeys`,
    /// moves the idle expiry (never past the absolute expiry) and the last-seen instant, and
    /// bumps the version. Keys written concurrently by others are kept. An update without
    /// changed keys is a *touch*. Returns `false` and writes nothing when the record is gone.
    func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool

    /// Deletes a record if it exists. Deleting nothing is not an error.
    func delete(_ id: SessionStorageID) async throws

    /// Moves a live session to a new ID as one atomic step: creates `record` under `newID` and
    /// deletes `oldID`, so the old token is dead the moment the new one works. Returns `false`
    /// and writes nothing when `oldID` is gone (destroyed or expired meanwhile: no resurrection
    /// under a new name). Throws ``SessionStoreError/collision`` if `newID` is taken.
    func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool
}

/// Failures a store reports. The engine maps all of them except ``collision`` to
/// ``SessionError/storeUnavailable(_:)`` (503 with `Retry-After`).
///
/// A struct with a ``Code`` rather than an enum (postgres-nio's `PSQLError` shape), so a new
/// kind of failure is a new static member, not a source-breaking enum case. Match a kind with
/// `error.code == .timedOut`, or in a `catch` clause with `catch SessionStoreError.Code.timedOut`
/// (any reason) or `catch SessionStoreError.collision` (this exact error).
public struct SessionStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; compare with `==` or match in `catch` clauses.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case collision, unavailable, timedOut, corrupt
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A live record already has this ID.
        public static let collision = Code(.collision)
        /// The store could not be reached or answered with an error.
        public static let unavailable = Code(.unavailable)
        /// The store did not answer within its timeout.
        public static let timedOut = Code(.timedOut)
        /// The store's data for this session could not be read (corrupt row, wrong type).
        public static let corrupt = Code(.corrupt)

        /// The code's name, for logs.
        public var description: String { base.rawValue }

        /// Matches any ``SessionStoreError`` with this code, for `catch` clauses.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? SessionStoreError)?.code == code
        }
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, for logs (never a token); `nil` for ``collision`` and ``timedOut``.
    public let reason: String?

    private init(code: Code, reason: String?) {
        self.code = code
        self.reason = reason
    }

    /// A live record already has this ID.
    public static let collision = SessionStoreError(code: .collision, reason: nil)
    /// The store did not answer within its timeout.
    public static let timedOut = SessionStoreError(code: .timedOut, reason: nil)
    /// The store could not be reached or answered with an error.
    public static func unavailable(reason: String) -> SessionStoreError { SessionStoreError(code: .unavailable, reason: reason) }
    /// The store's data for this session could not be read (corrupt row, wrong type).
    public static func corrupt(reason: String) -> SessionStoreError { SessionStoreError(code: .corrupt, reason: reason) }

    /// Matches an error equal to this one, for `catch` clauses (`catch SessionStoreError.collision`).
    public static func ~= (pattern: SessionStoreError, error: any Error) -> Bool {
        (error as? SessionStoreError) == pattern
    }

    /// The code and reason, for logs.
    public var description: String { reason.map { "\(code): \($0)" } ?? code.description }
}
