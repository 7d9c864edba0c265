import Foundation
import SessionKit
import Vapor

/// Puts SessionKit's stores behind Vapor's own session API, for apps that keep using
/// `req.session.data` and `app.middleware.use(app.sessions.middleware)`:
///
/// ```swift
/// app.sessions.use(.sessionKit(store))   // the one line that changes
/// ```
///
/// What this mode gains: session IDs are 256-bit tokens stored only as their SHA-256 digest;
/// records expire server-side (idle and absolute timeouts) in every store, so abandoned
/// sessions disappear; junk or forged cookies cost no store call; and the shared stores
/// (PostgreSQL, Redis/Valkey, SQLite) are available.
///
/// What it cannot do, because Vapor's `SessionsMiddleware` still decides when to write: it
/// re-sends the cookie and calls `updateSession` on every request that carries one (even
/// read-only ones); it writes the whole `[String: String]` dictionary (this driver turns that
/// into a per-key patch, but two requests changing the same key still race); there is no
/// regenerate-on-login, no per-user listing or sign-out-everywhere, no flash/CSRF helpers,
/// and cookie attributes come from `app.sessions.configuration`. Use ``SessionKitMiddleware``
/// and `req.sessionHandle` for all of that.
public struct SessionKitSessionDriver: AsyncSessionDriver {
    /// The store sessions live in.
    public let store: any SessionStore
    /// Sessions end after this long without a request (default 30 minutes).
    public let idleTimeout: Duration
    /// Sessions end this long after creation however busy (default 12 hours).
    public let absoluteTimeout: Duration
    let clock: any SessionClock

    /// Creates a driver over a store.
    public init(
        store: any SessionStore,
        idleTimeout: Duration = .seconds(1800),
        absoluteTimeout: Duration = .seconds(43_200),
        clock: any SessionClock = SystemSessionClock()
    ) {
        self.store = store
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.clock = clock
    }

    /// Stores a new session under a fresh token's digest and returns the token as the ID.
    public func createSession(_ data: SessionData, for request: Request) async throws -> SessionID {
        let token = SessionToken.generate()
        let now = clock.now()
        let record = SessionRecord(
            data: Self.encode(data.snapshot),
            createdAt: now,
            idleExpiresAt: now.addingTimeInterval(Self.seconds(idleTimeout)),
            absoluteExpiresAt: now.addingTimeInterval(Self.seconds(absoluteTimeout)),
            userAgent: request.headers.first(name: .userAgent).map { $0.prefix(utf8Bytes: maxRecordedUserAgentBytes) }
        )
        try await store.create(token.storageID, record)
        return SessionID(string: token.text)
    }

    /// Loads a session; malformed IDs are rejected without a store call.
    public func readSession(_ sessionID: SessionID, for request: Request) async throws -> SessionData? {
        guard let token = SessionToken(validating: sessionID.string), let record = try await store.load(token.storageID) else { return nil }
        return SessionData(initialData: Self.decode(record.data))
    }

    /// Writes only the keys that changed and extends the idle expiry. A session that ended
    /// meanwhile is not re-created under its old ID: the data gets a new session and ID.
    public func updateSession(_ sessionID: SessionID, to data: SessionData, for request: Request) async throws -> SessionID {
        guard let token = SessionToken(validating: sessionID.string), let existing = try await store.load(token.storageID) else {
            return try await createSession(data, for: request)
        }
        let next = Self.encode(data.snapshot)
        let now = clock.now()
        let update = SessionUpdate(
            setValues: next.filter { existing.data[$0.key] != $0.value },
            removedKeys: Set(existing.data.keys).subtracting(next.keys),
            idleExpiresAt: min(now.addingTimeInterval(Self.seconds(idleTimeout)), existing.absoluteExpiresAt),
            lastSeenAt: now
        )
        guard try await store.update(token.storageID, update) else {
            return try await createSession(data, for: request)
        }
        return sessionID
    }

    /// Deletes a session.
    public func deleteSession(_ sessionID: SessionID, for request: Request) async throws {
        guard let token = SessionToken(validating: sessionID.string) else { return }
        try await store.delete(token.storageID)
    }

    static func encode(_ values: [String: String]) -> [String: Data] {
        values.mapValues { SessionDataJSON.encodeString($0) }
    }

    static func decode(_ values: [String: Data]) -> [String: String] {
        values.compactMapValues { try? JSONDecoder().decode(String.self, from: $0) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension Application.Sessions.Provider {
    /// Vapor sessions stored in a SessionKit store (see ``SessionKitSessionDriver``).
    public static func sessionKit(_ store: any SessionStore, idleTimeout: Duration = .seconds(1800), absoluteTimeout: Duration = .seconds(43_200))
        -> Self
    {
        .init { app in
            app.sessions.use { _ in SessionKitSessionDriver(store: store, idleTimeout: idleTimeout, absoluteTimeout: absoluteTimeout) }
        }
    }
}
