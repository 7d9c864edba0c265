import Foundation
import HTTPTypes
import Synchronization

/// One request's view of its session.
///
/// Handlers read and change the session through this handle; nothing touches the store until
/// the first call that needs the record (loading is lazy), and nothing is written until the
/// engine commits the handle after the handler returns, except the atomic changes
/// (``modify(_:_:)``, ``increment(_:by:)``), which are written when they are called. The handle records *what* happened —
/// keys set and removed, regenerate, destroy, sign-in — and the engine turns that into the
/// fewest store calls (see the lifecycle article, <doc:Lifecycle>).
///
/// A handle belongs to one request; it is `Sendable` so it can sit in a request context, and
/// its state is guarded by a lock.
public final class SessionHandle: Sendable {
    let engine: SessionEngine?
    let incoming: IncomingToken
    /// The request's fields when the engine records user agents: read only when a record is
    /// written, so requests that never create a session never copy the header.
    let requestFields: HTTPFields?
    let state: LockedValue<HandleState>

    init(engine: SessionEngine?, incoming: IncomingToken, requestFields: HTTPFields?) {
        self.engine = engine
        self.incoming = incoming
        self.requestFields = requestFields
        self.state = LockedValue(HandleState())
    }

    /// A handle that is not attached to any engine: every call throws
    /// ``SessionError/notActive``. Request contexts start with it until the middleware runs.
    public static let inactive = SessionHandle(engine: nil, incoming: .none, requestFields: nil)

    // MARK: Values

    /// Reads a value; `nil` when the key is not set. Throws ``SessionError/typeMismatch(key:expected:)``
    /// when the stored value is not a `Value`.
    public func get<Value>(_ key: SessionKey<Value>) async throws -> Value? {
        try await ensureLoaded()
        guard let data = state.withLock({ $0.values[key.name] }) else { return nil }
        do {
            return try SessionValueCoder.decode(Value.self, from: data)
        } catch {
            throw SessionError.typeMismatch(key: key.name, expected: String(describing: Value.self))
        }
    }

    /// Sets a value (encoded to JSON now, written as a one-key patch at commit). Setting the
    /// value a key already has changes nothing and costs no write.
    public func set<Value>(_ key: SessionKey<Value>, _ value: Value) async throws {
        if let refusal = key.refusal { throw refusal }
        let data: Data
        do {
            data = try SessionValueCoder.encode(value)
        } catch {
            throw SessionError.encodingFailed(key: key.name)
        }
        try await ensureLoaded()
        try state.withLock { state in
            try state.checkWritable()
            state.setValue(data, for: key.name)
        }
    }

    /// Removes a value; removing a key that is not set changes nothing.
    public func remove<Value>(_ key: SessionKey<Value>) async throws {
        if let refusal = key.refusal { throw refusal }
        try await ensureLoaded()
        try state.withLock { state in
            try state.checkWritable()
            state.removeValue(for: key.name)
        }
    }

    /// Whether the session currently holds any value (or a signed-in user).
    public var isEmpty: Bool {
        get async throws {
            try await ensureLoaded()
            return state.withLock { $0.values.isEmpty && $0.currentUserID == nil }
        }
    }

    // MARK: Lifecycle

    /// Moves the session to a new token at commit: the data is kept, the old record is
    /// deleted in the same step (the old token is dead at once), and the CSRF token is renewed.
    /// Call it on every privilege change.
    public func regenerate() async throws {
        try await ensureLoaded()
        try state.withLock { state in
            try state.checkWritable()
            state.intent = state.intent.merged(with: .rotate)
            state.removeValue(for: ReservedKeys.csrf)
        }
    }

    /// Signs a user in: records the user ID, regenerates the token and starts a fresh absolute
    /// timeout. With `rememberMe`, the session gets a persistent cookie and the remember-me
    /// timeouts. The per-user session cap is enforced at commit.
    ///
    /// The session's values carry over (an anonymous cart survives the login), unless another
    /// user is signed in: then they are all dropped first, as Django's `login()` flushes, so one
    /// user never sees another's data.
    public func signIn(userID: String, rememberMe: Bool = false) async throws {
        try await ensureLoaded()
        try state.withLock { state in
            try state.checkWritable()
            if let current = state.currentUserID, !current.utf8.elementsEqual(userID.utf8) {
                if state.record?.userID?.utf8.elementsEqual(userID.utf8) == true {
                    state.restoreFlushedValues()  // back to the signed-in user within one request
                } else {
                    state.flushForAnotherUser()
                }
            }
            state.intent = state.intent.merged(with: .signIn(userID: userID))
            state.removeValue(for: ReservedKeys.csrf)
            if rememberMe {
                state.setValue(Data("true".utf8), for: ReservedKeys.persistent)
            } else {
                state.removeValue(for: ReservedKeys.persistent)
            }
        }
    }

    /// Ends the session at commit: the record is deleted and the client gets a deleting cookie.
    /// Needs no load: a destroyed session costs one delete.
    public func destroy() throws {
        try state.withLock { state in
            try state.checkActive(engine: engine)
            state.intent = .destroy
            state.accessed = true
        }
    }

    /// The signed-in user, if any.
    public var userID: String? {
        get async throws {
            try await ensureLoaded()
            return state.withLock { $0.currentUserID }
        }
    }

    /// When the current session was created (or last signed in); `nil` when there is none yet.
    public var createdAt: Date? {
        get async throws {
            try await ensureLoaded()
            return state.withLock { $0.record?.createdAt }
        }
    }

    /// The storage ID (token digest) of the session this request arrived with, if it is live.
    /// Use it to mark the current entry in a session listing.
    public var storageID: SessionStorageID? {
        get async throws {
            try await ensureLoaded()
            return state.withLock { $0.record == nil ? nil : incoming.token?.storageID }
        }
    }

    // MARK: Per-user index

    /// Lists the signed-in user's live sessions (metadata only). Empty when nobody is signed
    /// in, and always empty with sealed cookies (there is no server-side list).
    public func sessionsOfUser() async throws -> [SessionSummary] {
        guard let engine else { throw SessionError.notActive }
        guard case .store = engine.backend else { return [] }
        let store = try engine.requireUserIndex()
        guard let user = try await userID else { return [] }
        return try await engine.storeCall("sessions") { try await store.sessions(forUser: user) }
    }

    /// Ends every session of the signed-in user except this one, at once. Returns how many
    /// ended (with sealed cookies, which cannot be counted, 1 when the epoch moved).
    @discardableResult
    public func signOutOtherSessions() async throws -> Int {
        guard let engine else { throw SessionError.notActive }
        guard let user = try await userID else { return 0 }
        switch engine.backend {
        case .store:
            let store = try engine.requireUserIndex()
            let current = try await storageID
            return try await engine.storeCall("deleteSessions") { try await store.deleteSessions(forUser: user, except: current) }
        case .sealed(_, let epochs):
            guard let epochs else { return 0 }
            let epoch = try await engine.signOutOtherSealedSessions(epochs, user: user)
            state.withLock { state in
                state.epoch = epoch
                state.reissue = true
            }
            return 1
        }
    }

    /// Ends one of the signed-in user's sessions, chosen from ``sessionsOfUser()``. Returns
    /// `false` when the ID is not one of the user's live sessions.
    @discardableResult
    public func signOutSession(_ id: SessionStorageID) async throws -> Bool {
        guard let engine else { throw SessionError.notActive }
        guard case .store = engine.backend else { return false }
        let store = try engine.requireUserIndex()
        guard let user = try await userID else { return false }
        let owned = try await engine.storeCall("sessions") { try await store.sessions(forUser: user) }
        // The listed ID, not the caller's: it carries the session's placement, which an ID
        // rebuilt from a form field's hex has lost.
        guard let target = owned.first(where: { $0.id == id })?.id else { return false }
        try await engine.storeCall("delete", session: target) { try await store.delete(target) }
        return true
    }

    // MARK: Loading

    func ensureLoaded() async throws {
        let needsLoad = try state.withLock { state -> Bool in
            try state.checkActive(engine: engine)
            state.accessed = true
            return state.phase == .unloaded
        }
        guard needsLoad, let engine else { return }
        let outcome = await engine.load(incoming)
        try state.withLock { state in
            guard state.phase == .unloaded else { return }
            switch outcome {
            case .loaded(let record, let epoch, let reissue):
                state.adopt(record)
                state.epoch = epoch
                state.reissue = reissue
            case .failed(let error):
                switch engine.configuration.loadFailurePolicy {
                case .failRequest:
                    throw SessionError.storeUnavailable(error)
                case .treatAsAnonymous:
                    state.adopt(nil)
                    state.loadFailure = error
                }
            }
        }
    }
}

/// The token a request arrived with, after validation.
enum IncomingToken: Sendable {
    /// No token was sent.
    case none
    /// A well-formed (and, with signing, verified) token was sent; it may still be unknown to
    /// the store. `reissue` is set when it was signed with a previous key.
    case valid(SessionToken, reissue: Bool)
    /// A sealed-cookie value, opened (and authenticated) lazily on first use.
    case sealed(String)
    /// Something was sent under the session's name that is not a token (or the name appeared
    /// twice); it is ignored and costs no store call. `reference` correlates log lines.
    case rejected(TokenRejection, reference: String)

    var token: SessionToken? {
        if case .valid(let token, _) = self { return token }
        return nil
    }

    var wasSent: Bool {
        if case .none = self { return false }
        return true
    }
}

/// What a handle accumulated during the request.
struct HandleState: Sendable {
    enum Phase: Equatable {
        case unloaded
        case loaded
        case committed
    }

    var phase = Phase.unloaded
    var accessed = false
    /// The live record the request arrived with, if any.
    var record: SessionRecord?
    /// The values as the handler sees them (record data with changes applied).
    var values: [String: Data] = [:]
    var setValues: [String: Data] = [:]
    var removedKeys: Set<String> = []
    /// What the handler asked for: keep, rotate, sign in or destroy.
    var intent = SessionIntent.keep
    var loadFailure: SessionStoreError?
    /// The cookie must be sent again even without changes (old key, new epoch).
    var reissue = false
    /// Sealed cookies: the user's revocation epoch the session was issued under.
    var epoch: UInt64 = 0
    /// An atomic change was written during the request (it moved the idle expiry).
    var wroteAtomically = false
    /// The values and changes as they were before a sign-in of another user dropped them
    /// (restored exactly if the sign-in is undone).
    var flushed: (values: [String: Data], setValues: [String: Data], removedKeys: Set<String>)?

    var currentUserID: String? {
        if case .signIn(let user) = intent { return user }
        return record?.userID
    }

    var isPersistent: Bool { values[ReservedKeys.persistent] != nil }

    mutating func adopt(_ record: SessionRecord?) {
        self.record = record
        self.values = record?.data ?? [:]
        self.phase = .loaded
    }

    func checkActive(engine: SessionEngine?) throws {
        guard engine != nil, phase != .committed else { throw SessionError.notActive }
    }

    func checkWritable() throws {
        guard phase != .committed else { throw SessionError.notActive }
    }

    mutating func setValue(_ data: Data, for name: String) {
        guard values[name] != data else { return }
        values[name] = data
        removedKeys.remove(name)
        if record?.data[name] == data {
            setValues.removeValue(forKey: name)
        } else {
            setValues[name] = data
        }
    }

    /// Undoes a `signIn` or `regenerate()` (the request failed with an HTTP error): the intent
    /// goes back to keeping the session, and the reserved keys those calls changed (the CSRF
    /// token, the remember-me flag) go back to what the record held. Other changes stay.
    mutating func dropPrivilegeChange() {
        switch intent {
        case .rotate, .signIn:
            intent = .keep
            // Whatever the handler wrote as the other user goes with the sign-in.
            restoreFlushedValues()
            for name in [ReservedKeys.csrf, ReservedKeys.persistent] {
                if let stored = record?.data[name] { setValue(stored, for: name) } else { removeValue(for: name) }
            }
        case .keep, .destroy:
            return
        }
    }

    /// Drops every value before another user signs in, keeping the state aside in case the
    /// sign-in is undone (``dropPrivilegeChange()``) or the original user signs in again.
    mutating func flushForAnotherUser() {
        if flushed == nil { flushed = (values, setValues, removedKeys) }
        for name in Array(values.keys) { removeValue(for: name) }
    }

    /// Puts back what ``flushForAnotherUser()`` dropped, discarding what was written since.
    mutating func restoreFlushedValues() {
        guard let flushed else { return }
        (values, setValues, removedKeys) = flushed
        self.flushed = nil
    }

    mutating func removeValue(for name: String) {
        guard values.removeValue(forKey: name) != nil else { return }
        setValues.removeValue(forKey: name)
        if record?.data[name] != nil { removedKeys.insert(name) }
    }
}
