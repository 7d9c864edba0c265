import CoreMetrics
import Foundation
import HTTPTypes
import Logging
import Synchronization

/// The framework-agnostic heart of SessionKit.
///
/// An adapter calls ``begin(_:)`` with the request's header fields, hands the returned
/// ``SessionHandle`` to the handler, and after the handler returns calls ``commit(_:)``,
/// which performs the store calls the handler's actions require and returns the header
/// fields to add to the response (`Set-Cookie`, `Vary`, `Cache-Control`).
///
/// | what the handler did | store calls | response |
/// |---|---|---|
/// | nothing | none | nothing |
/// | read only, touched recently | 1 load | nothing |
/// | read only, last touch older than `touchInterval` | 1 load + 1 touch | `Set-Cookie` only for persistent cookies |
/// | new session, nothing written | none | nothing |
/// | new session with data | 1 create | `Set-Cookie` |
/// | changed keys | 1 load + 1 patch | `Set-Cookie` only for persistent cookies |
/// | regenerate / sign in | 1 load + 1 replace (create new + delete old) | `Set-Cookie` with the new token |
/// | destroy | 1 delete | deleting `Set-Cookie` |
public final class SessionEngine: Sendable {
    /// The validated configuration.
    public let configuration: SessionConfiguration
    /// The store sessions live in.
    public let store: any SessionStore
    /// The clock expiry is judged by.
    public let clock: any SessionClock
    let logger: Logger
    let metrics: SessionMetrics
    private let parser: CookieHeaderParser
    private let setCookie: SetCookieBuilder
    private let wrapsStoreCalls: Bool

    /// Creates an engine; throws ``SessionConfigurationError`` for an unsafe configuration.
    public init(
        store: any SessionStore,
        configuration: SessionConfiguration = SessionConfiguration(),
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger = Logger(label: "SessionKit")
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        self.metrics = SessionMetrics()
        self.parser = CookieHeaderParser(name: configuration.cookie.name, maxValueLength: 4096)
        self.setCookie = SetCookieBuilder(options: configuration.cookie)
        self.wrapsStoreCalls = configuration.storeTimeout != nil && !(store is MemorySessionStore)
    }

    // MARK: Request start

    /// Starts a request: finds and validates the token (no store call), returns the handle.
    public func begin(_ requestFields: HTTPFields) -> SessionHandle {
        let incoming = readToken(requestFields)
        if case .rejected(let reason) = incoming {
            metrics.rejectedTokens.increment()
            logger.debug("ignored a malformed session token", metadata: ["reason": .string(reason)])
        }
        let userAgent = configuration.recordsUserAgent ? requestFields[.userAgent].map { String($0.prefix(256)) } : nil
        return SessionHandle(engine: self, incoming: incoming, userAgent: userAgent)
    }

    private func readToken(_ fields: HTTPFields) -> IncomingToken {
        let raw: Substring
        switch configuration.transport {
        case .cookie:
            switch parser.lookup(in: fields) {
            case .absent: return .none
            case .ambiguous: return .rejected(reason: "session cookie sent more than once")
            case .oversized: return .rejected(reason: "oversized session cookie")
            case .found(let value): raw = value
            }
        case .header(let name):
            let values = fields[values: name]
            guard let first = values.first else { return .none }
            guard values.count == 1 else { return .rejected(reason: "session header sent more than once") }
            raw = Substring(first)
        }
        guard let token = SessionToken(validating: raw) else {
            return .rejected(reason: "malformed token of \(raw.utf8.count) bytes")
        }
        return .valid(token)
    }

    // MARK: Loading

    enum LoadOutcome: Sendable {
        case loaded(SessionRecord?)
        case failed(SessionStoreError)
    }

    func load(_ incoming: IncomingToken) async -> LoadOutcome {
        guard let token = incoming.token else { return .loaded(nil) }
        let id = token.storageID
        do {
            let record = try await storeCall { try await self.store.load(id) }
            if record != nil { metrics.loaded.increment() }
            return .loaded(record)
        } catch let error as SessionError {
            if case .storeUnavailable(let storeError) = error { return .failed(storeError) }
            return .failed(.unavailable(reason: "\(error)"))
        } catch {
            return .failed(.unavailable(reason: "\(error)"))
        }
    }

    // MARK: Commit

    /// Ends a request: performs the store calls the handler's actions need and returns the
    /// header fields to add to the response. Throws ``SessionError`` when a write fails (the
    /// adapter answers 503 instead of pretending the change was saved).
    public func commit(_ handle: SessionHandle) async throws -> HTTPFields {
        let snapshot = handle.state.withLock { state -> CommitSnapshot? in
            guard state.phase != .committed else { return nil }
            defer { state.phase = .committed }
            guard state.accessed else { return nil }
            return CommitSnapshot(state: state)
        }
        guard let snapshot else { return HTTPFields() }
        let now = clock.now()

        if snapshot.destroyed {
            return try await commitDestroy(handle, now: now)
        }
        if snapshot.loadFailure != nil, snapshot.hasChanges || snapshot.regenerate {
            throw SessionError.storeUnavailable(snapshot.loadFailure ?? .unavailable(reason: "load failed"))
        }
        if snapshot.regenerate {
            return try await commitRegenerate(handle, snapshot, now: now)
        }
        if let record = snapshot.record, let token = handle.incoming.token {
            return try await commitExisting(token.storageID, token, record, snapshot, now: now)
        }
        guard !snapshot.values.isEmpty || snapshot.userID != nil else { return HTTPFields() }
        return try await createSession(snapshot, createdAt: now, absoluteExpiresAt: nil, userAgent: handle.userAgent, replacing: nil, now: now)
    }

    private func commitDestroy(_ handle: SessionHandle, now: Date) async throws -> HTTPFields {
        guard handle.incoming.wasSent else { return HTTPFields() }
        if let token = handle.incoming.token {
            let id = token.storageID
            try await storeCall { try await self.store.delete(id) }
            metrics.destroyed.increment()
            logger.debug("destroyed session", metadata: ["session": .stringConvertible(id)])
        }
        var fields = deletionFields()
        if configuration.clearSiteDataOnDestroy {
            if let clearSiteData = HTTPField.Name("Clear-Site-Data") {
                fields[clearSiteData] = "\"cookies\""
            }
        }
        return fields
    }

    private func commitRegenerate(_ handle: SessionHandle, _ snapshot: CommitSnapshot, now: Date) async throws -> HTTPFields {
        let oldID = snapshot.record == nil ? nil : handle.incoming.token?.storageID
        guard !snapshot.values.isEmpty || snapshot.userID != nil else {
            // Nothing left to keep: regenerating an empty session just ends the old one.
            if let oldID { try await storeCall { try await self.store.delete(oldID) } }
            return handle.incoming.wasSent ? deletionFields() : HTTPFields()
        }
        let createdAt = snapshot.signedIn ? now : (snapshot.record?.createdAt ?? now)
        let absolute = snapshot.signedIn ? nil : snapshot.record?.absoluteExpiresAt
        if snapshot.signedIn, let user = snapshot.userID {
            try await enforceSessionLimit(user: user, excluding: oldID)
        }
        let userAgent = handle.userAgent ?? snapshot.record?.userAgent
        let fields = try await createSession(snapshot, createdAt: createdAt, absoluteExpiresAt: absolute, userAgent: userAgent, replacing: oldID, now: now)
        metrics.regenerated.increment()
        return fields
    }

    private func commitExisting(
        _ id: SessionStorageID,
        _ token: SessionToken,
        _ record: SessionRecord,
        _ snapshot: CommitSnapshot,
        now: Date
    ) async throws -> HTTPFields {
        let idleExpiresAt = min(now.addingTimeInterval(idleTimeout(persistent: snapshot.persistent).seconds), record.absoluteExpiresAt)
        if snapshot.hasChanges {
            let patch = SessionPatch(
                setValues: snapshot.setValues,
                removedKeys: snapshot.removedKeys,
                userID: snapshot.userIDChange,
                idleExpiresAt: idleExpiresAt,
                lastSeenAt: now,
                expectedVersion: configuration.versionedWrites ? record.version : nil
            )
            let result = try await storeCall { try await self.store.patch(id, patch) }
            switch result {
            case .applied:
                metrics.updated.increment()
            case .notFound:
                // Destroyed or expired while this request ran: never re-create it.
                metrics.droppedWrites.increment()
                logger.info("dropped a write to a session that ended meanwhile", metadata: ["session": .stringConvertible(id)])
                return deletionFields()
            case .conflict:
                metrics.conflicts.increment()
                throw SessionError.conflict
            }
        } else if now.timeIntervalSince(record.lastSeenAt) >= configuration.touchInterval.seconds {
            let alive = try await storeCall { try await self.store.touch(id, idleExpiresAt: idleExpiresAt, lastSeenAt: now) }
            guard alive else { return HTTPFields() }
            metrics.touched.increment()
        } else {
            return HTTPFields()
        }
        guard snapshot.persistent else { return HTTPFields() }
        return tokenFields(token, expiresAt: min(idleExpiresAt, record.absoluteExpiresAt), now: now)
    }

    private func createSession(
        _ snapshot: CommitSnapshot,
        createdAt: Date,
        absoluteExpiresAt: Date?,
        userAgent: String?,
        replacing oldID: SessionStorageID?,
        now: Date
    ) async throws -> HTTPFields {
        let persistent = snapshot.persistent
        let absolute = absoluteExpiresAt ?? createdAt.addingTimeInterval(absoluteTimeout(persistent: persistent).seconds)
        let record = SessionRecord(
            data: snapshot.values,
            userID: snapshot.userID,
            createdAt: createdAt,
            lastSeenAt: now,
            idleExpiresAt: min(now.addingTimeInterval(idleTimeout(persistent: persistent).seconds), absolute),
            absoluteExpiresAt: absolute,
            userAgent: userAgent
        )
        // A collision of 256-bit random tokens means a broken random generator; retry once, then fail.
        for attempt in 0..<2 {
            let token = SessionToken.generate()
            let newID = token.storageID
            do {
                if let oldID {
                    try await storeCall { try await self.store.replace(oldID, with: newID, record: record) }
                } else {
                    try await storeCall { try await self.store.create(newID, record) }
                }
                metrics.created.increment()
                logger.debug("created session", metadata: ["session": .stringConvertible(newID)])
                return tokenFields(token, expiresAt: persistent ? record.expiresAt : nil, now: now)
            } catch SessionError.storeUnavailable(.collision) where attempt == 0 {
                logger.error("session token collision; retrying with a new token")
            }
        }
        throw SessionError.storeUnavailable(.collision)
    }

    private func enforceSessionLimit(user: String, excluding oldID: SessionStorageID?) async throws {
        guard let limit = configuration.concurrentSessionLimit else { return }
        let existing = try await storeCall { try await self.store.sessions(forUser: user) }.filter { $0.id != oldID }
        guard existing.count >= limit.maxSessions else { return }
        switch limit.policy {
        case .refuse:
            throw SessionError.tooManySessions(limit: limit.maxSessions)
        case .evictOldest:
            for victim in existing.prefix(existing.count - limit.maxSessions + 1) {
                try await storeCall { try await self.store.delete(victim.id) }
                metrics.evicted.increment()
            }
        }
    }

    // MARK: Response fields

    private func tokenFields(_ token: SessionToken, expiresAt: Date?, now: Date) -> HTTPFields {
        var fields = HTTPFields()
        switch configuration.transport {
        case .cookie:
            fields[.setCookie] = setCookie.cookie(value: token.text, expiresAt: expiresAt, now: now)
            fields[.vary] = "Cookie"
        case .header(let name):
            fields[name] = token.text
            fields[.vary] = name.canonicalName
        }
        fields[.cacheControl] = "no-store"
        return fields
    }

    private func deletionFields() -> HTTPFields {
        var fields = HTTPFields()
        switch configuration.transport {
        case .cookie:
            fields[.setCookie] = setCookie.deletion()
            fields[.vary] = "Cookie"
        case .header(let name):
            fields[name] = ""
            fields[.vary] = name.canonicalName
        }
        fields[.cacheControl] = "no-store"
        return fields
    }

    private func idleTimeout(persistent: Bool) -> Duration {
        persistent ? configuration.rememberMe.idleTimeout : configuration.idleTimeout
    }

    private func absoluteTimeout(persistent: Bool) -> Duration {
        persistent ? configuration.rememberMe.absoluteTimeout : configuration.absoluteTimeout
    }

    // MARK: Store calls

    /// Runs a store call with the configured timeout, translating failures into
    /// ``SessionError/storeUnavailable(_:)``.
    func storeCall<Result: Sendable>(_ operation: @escaping @Sendable () async throws -> Result) async throws -> Result {
        do {
            if wrapsStoreCalls, let timeout = configuration.storeTimeout {
                return try await withDeadline(timeout, operation)
            }
            return try await operation()
        } catch let error as SessionStoreError {
            if error != .collision {
                metrics.storeErrors.increment()
                logger.warning("session store failed", metadata: ["error": .string("\(error)")])
            }
            throw SessionError.storeUnavailable(error)
        } catch let error as SessionError {
            throw error
        } catch {
            metrics.storeErrors.increment()
            logger.warning("session store failed", metadata: ["error": .string("\(error)")])
            throw SessionError.storeUnavailable(.unavailable(reason: String(describing: type(of: error))))
        }
    }
}

/// An immutable copy of a handle's state, taken when the commit starts.
struct CommitSnapshot: Sendable {
    let record: SessionRecord?
    let values: [String: Data]
    let setValues: [String: Data]
    let removedKeys: Set<String>
    let userIDChange: SessionPatch.UserIDChange
    let userID: String?
    let regenerate: Bool
    let signedIn: Bool
    let destroyed: Bool
    let loadFailure: SessionStoreError?
    let persistent: Bool

    init(state: borrowing HandleState) {
        record = state.record
        values = state.values
        setValues = state.setValues
        removedKeys = state.removedKeys
        userIDChange = state.userID
        userID = state.currentUserID
        regenerate = state.regenerate
        signedIn = state.signedIn
        destroyed = state.destroyed
        loadFailure = state.loadFailure
        persistent = state.isPersistent
    }

    var hasChanges: Bool { !setValues.isEmpty || !removedKeys.isEmpty || userIDChange != .unchanged }
}
