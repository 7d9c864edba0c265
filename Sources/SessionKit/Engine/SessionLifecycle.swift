import Foundation
import HTTPTypes

/// What a handler asked for, overall, during one request. Later calls refine it: `destroy()`
/// wins over everything, `signIn` over `regenerate()`, and either over plain changes.
enum SessionIntent: Sendable, Equatable {
    /// Keep the session under its token (write changed keys, or touch, or nothing).
    case keep
    /// Move the session to a new token, keeping its data (`regenerate()`).
    case rotate
    /// Move the session to a new token as the signed-in `userID`, with a fresh absolute timeout.
    case signIn(userID: String)
    /// End the session (`destroy()`).
    case destroy

    /// The intent after the handler also asked for `next`.
    func merged(with next: SessionIntent) -> SessionIntent {
        switch (self, next) {
        case (.destroy, _), (_, .destroy): return .destroy
        case (_, .signIn): return next
        case (.signIn, _): return self
        case (_, .rotate): return .rotate
        case (_, .keep): return self
        }
    }
}

/// Everything the lifecycle decision depends on: what the request arrived with, what the
/// handler did, and the instant of the commit. A plain value, built from the handle's state.
struct LifecycleInput: Sendable {
    /// The storage ID of the well-formed token the request carried (server-side stores only).
    var incomingID: SessionStorageID?
    /// Whether the request carried anything under the session's name (a token, a sealed
    /// value, or junk): only then does ending the session need a deleting cookie.
    var tokenWasSent: Bool
    /// The live record the request loaded, if any.
    var record: SessionRecord?
    /// The values as the handler left them.
    var values: [String: Data]
    /// The keys set relative to the loaded record.
    var setValues: [String: Data]
    /// The keys removed relative to the loaded record.
    var removedKeys: Set<String>
    /// What the handler asked for.
    var intent: SessionIntent
    /// The load failed (and the policy let the handler continue as anonymous).
    var loadFailure: SessionStoreError?
    /// The cookie must be sent again even without changes (old signing key, new epoch).
    var reissue: Bool
    /// An atomic change (``SessionHandle/modify(_:_:)``, ``SessionHandle/increment(_:by:)``)
    /// was written during the request, which moved the idle expiry already.
    var wroteAtomically = false
    /// The request's fields when the engine records user agents (`nil` for sealed cookies):
    /// the `User-Agent` is read only when a record is written.
    var requestFields: HTTPFields?
    /// The commit's instant.
    var now: Date

    var hasChanges: Bool { !setValues.isEmpty || !removedKeys.isEmpty }

    var userID: String? {
        if case .signIn(let user) = intent { return user }
        return record?.userID
    }

    var isEmpty: Bool { values.isEmpty && userID == nil }

    var isPersistent: Bool { values[ReservedKeys.persistent] != nil }

    /// The client's `User-Agent`, at most ``maxRecordedUserAgentBytes`` UTF-8 bytes.
    var userAgent: String? {
        requestFields?[.userAgent].map { $0.prefix(utf8Bytes: maxRecordedUserAgentBytes) }
    }
}

/// The timeouts and backend facts the decision needs.
struct LifecyclePolicy: Sendable {
    var idleTimeout: TimeInterval
    var absoluteTimeout: TimeInterval
    var rememberMeIdleTimeout: TimeInterval
    var rememberMeAbsoluteTimeout: TimeInterval
    var touchInterval: TimeInterval
    var maxKeys: Int
    var maxBytes: Int
    /// Sealed cookies: the cookie is the only copy, so every write re-seals it and an emptied
    /// session simply deletes its cookie.
    var clientSide: Bool

    init(_ configuration: SessionConfiguration, clientSide: Bool) {
        idleTimeout = configuration.idleTimeout.seconds
        absoluteTimeout = configuration.absoluteTimeout.seconds
        rememberMeIdleTimeout = configuration.rememberMe.idleTimeout.seconds
        rememberMeAbsoluteTimeout = configuration.rememberMe.absoluteTimeout.seconds
        touchInterval = configuration.touchInterval.seconds
        maxKeys = configuration.maxKeysPerSession
        maxBytes = configuration.maxBytesPerSession
        self.clientSide = clientSide
    }

    func idle(persistent: Bool) -> TimeInterval { persistent ? rememberMeIdleTimeout : idleTimeout }
    func absolute(persistent: Bool) -> TimeInterval { persistent ? rememberMeAbsoluteTimeout : absoluteTimeout }
}

/// What a commit must do: the output of ``SessionLifecycle/plan(_:_:)``, executed by the
/// server-side or the sealed-cookie backend without further decisions.
enum LifecyclePlan: Sendable, Equatable {
    /// No store call, no cookie.
    case nothing
    /// End the session: delete `deleting` (if any) and send a deleting cookie. `revokes` is
    /// set for `destroy()` (sealed cookies then bump the user's revocation epoch).
    case end(deleting: SessionStorageID?, revokes: Bool)
    /// Store a new record under a fresh token and send its cookie.
    case create(SessionRecord, cookieExpiresAt: Date?)
    /// Move the session to a fresh token: rotate from `from` (or create, when the request had no
    /// live record), enforcing the session cap of `signedInUser`.
    case rotate(from: SessionStorageID?, SessionRecord, signedInUser: String?, cookieExpiresAt: Date?)
    /// Apply changed keys (or only touch) to the live record, compare-and-set on
    /// `expectedVersion` in versioned mode; send the cookie again when `refreshesCookie`.
    case update(SessionUpdate, expectedVersion: UInt64, refreshesCookie: Bool, cookieExpiresAt: Date?)
    /// No write, but send the same token again (it was signed with a previous key).
    case reissueCookie(cookieExpiresAt: Date?)
}

/// The lifecycle table as one pure function: no I/O, no clock, no locks.
enum SessionLifecycle {
    /// Decides what a commit does. Throws ``SessionError/storeUnavailable(_:)`` when the load
    /// failed and the handler tried to change the session (nothing can be written safely).
    static func plan(_ input: LifecycleInput, _ policy: LifecyclePolicy) throws -> LifecyclePlan {
        if let failure = input.loadFailure, input.hasChanges || input.intent != .keep {
            throw SessionError.storeUnavailable(failure)
        }
        if !input.setValues.isEmpty { try checkSize(input, policy) }
        let now = input.now
        let persistent = input.isPersistent
        switch input.intent {
        case .destroy:
            guard input.tokenWasSent else { return .nothing }
            return .end(deleting: input.incomingID, revokes: true)
        case .rotate, .signIn:
            let oldID = input.record == nil ? nil : input.incomingID
            // Nothing left to keep: regenerating an empty session just ends the old one.
            guard !input.isEmpty else { return input.tokenWasSent ? .end(deleting: oldID, revokes: false) : .nothing }
            let signingIn = input.intent != .rotate
            let record = newRecord(
                input,
                policy,
                createdAt: signingIn ? now : (input.record?.createdAt ?? now),
                absoluteExpiresAt: signingIn ? nil : input.record?.absoluteExpiresAt,
                userAgent: input.userAgent ?? input.record?.userAgent
            )
            return .rotate(from: oldID, record, signedInUser: signingIn ? input.userID : nil, cookieExpiresAt: persistent ? record.expiresAt : nil)
        case .keep:
            guard let record = input.record else {
                guard !input.isEmpty else { return .nothing }
                let created = newRecord(input, policy, createdAt: now, absoluteExpiresAt: nil, userAgent: input.userAgent)
                return .create(created, cookieExpiresAt: persistent ? created.expiresAt : nil)
            }
            if policy.clientSide, input.isEmpty { return .end(deleting: nil, revokes: false) }
            let idleExpiresAt = min(now.addingTimeInterval(policy.idle(persistent: persistent)), record.absoluteExpiresAt)
            let cookieExpiresAt = persistent ? idleExpiresAt : nil
            let touchDue = now.timeIntervalSince(record.lastSeenAt) >= policy.touchInterval
            guard input.hasChanges || touchDue || (input.reissue && policy.clientSide) else {
                // An atomic write moved the expiry, which a persistent cookie carries.
                let refreshes = input.reissue || (input.wroteAtomically && persistent)
                return refreshes ? .reissueCookie(cookieExpiresAt: cookieExpiresAt) : .nothing
            }
            let update = SessionUpdate(
                setValues: input.hasChanges ? input.setValues : [:],
                removedKeys: input.hasChanges ? input.removedKeys : [],
                idleExpiresAt: idleExpiresAt,
                lastSeenAt: now
            )
            // A persistent cookie carries the expiry, so it is refreshed whenever the expiry
            // moves; a token signed with an old key is re-signed with the current one.
            return .update(update, expectedVersion: record.version, refreshesCookie: persistent || input.reissue, cookieExpiresAt: cookieExpiresAt)
        }
    }

    /// Refuses a write that takes the session over a per-session limit (keys, UTF-8 bytes of
    /// keys and values) or, when it is already over one (the limits were lowered), makes that
    /// count grow. Only writes that set values are checked, and a write that leaves the
    /// session no larger is never refused, so a session can always shrink.
    static func checkSize(_ input: LifecycleInput, _ policy: LifecyclePolicy) throws(SessionError) {
        try checkSize(after: input.values, before: input.record?.data ?? [:], policy)
    }

    /// The same check for `after`, the values a write leaves, against `before`, the stored ones.
    static func checkSize(after values: [String: Data], before stored: [String: Data], _ policy: LifecyclePolicy) throws(SessionError) {
        try checkSize(size(of: values), before: stored, policy)
    }

    private static func checkSize(_ after: (keys: Int, bytes: Int), before stored: [String: Data], _ policy: LifecyclePolicy) throws(SessionError) {
        guard after.keys > policy.maxKeys || after.bytes > policy.maxBytes else { return }
        let before = size(of: stored)
        let growsKeys = after.keys > policy.maxKeys && after.keys > before.keys
        let growsBytes = after.bytes > policy.maxBytes && after.bytes > before.bytes
        guard growsKeys || growsBytes else { return }
        throw SessionError.sessionTooLarge(keys: after.keys, bytes: after.bytes, maxKeys: policy.maxKeys, maxBytes: policy.maxBytes)
    }

    /// The same check for `values` with `name` set to `value`, without copying `values` (an
    /// atomic write checks one key's change against everything the request holds).
    static func checkSize(
        after values: [String: Data],
        replacing name: String,
        with value: Data,
        before stored: [String: Data],
        _ policy: LifecyclePolicy
    )
        throws(SessionError)
    {
        var after = size(of: values)
        if let old = values[name] {
            after.bytes += value.count - old.count
        } else {
            after.keys += 1
            after.bytes += name.utf8.count + value.count
        }
        try checkSize(after, before: stored, policy)
    }

    private static func size(of values: [String: Data]) -> (keys: Int, bytes: Int) {
        (values.count, values.reduce(0) { $0 + $1.key.utf8.count + $1.value.count })
    }

    /// A new record holding the handler's values.
    static func newRecord(_ input: LifecycleInput, _ policy: LifecyclePolicy, createdAt: Date, absoluteExpiresAt: Date?, userAgent: String?)
        -> SessionRecord
    {
        let persistent = input.isPersistent
        let absolute = absoluteExpiresAt ?? createdAt.addingTimeInterval(policy.absolute(persistent: persistent))
        return SessionRecord(
            data: input.values,
            userID: input.userID,
            createdAt: createdAt,
            lastSeenAt: input.now,
            idleExpiresAt: min(input.now.addingTimeInterval(policy.idle(persistent: persistent)), absolute),
            absoluteExpiresAt: absolute,
            userAgent: userAgent
        )
    }
}
