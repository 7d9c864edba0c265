import CoreMetrics
import Foundation
import HTTPTypes
import Logging
import Synchronization
import Tracing

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
/// | read only, touched recently | 1 load | `Vary: Cookie`, `Cache-Control: private` |
/// | read only, last touch older than `touchInterval` | 1 load + 1 touch | those, plus `Set-Cookie` for persistent cookies |
/// | new session, nothing written | none | nothing |
/// | new session with data | 1 create | `Set-Cookie` |
/// | changed keys | 1 load + 1 update | `Set-Cookie` only for persistent cookies |
/// | regenerate / sign in | 1 load + 1 rotate (the old ID dies as the new one is written) | `Set-Cookie` with the new token |
/// | destroy | 1 delete | deleting `Set-Cookie` |
/// | a write or regenerate that finds the session ended meanwhile | the failed call | no `Set-Cookie` |
///
/// With a ``SealedCookieBackend`` the same decisions apply, but "store calls" become sealing
/// the cookie again (no I/O), plus one epoch read per request of a signed-in user when
/// revocation is on.
public final class SessionEngine: Sendable {
    enum Backend: Sendable {
        case store(any SessionStore)
        case sealed(SealedCookieCodec, RevocationEpochs?)
    }

    /// The validated configuration.
    public let configuration: SessionConfiguration
    /// The clock expiry is judged by.
    let clock: any SessionClock
    let backend: Backend
    /// The store's per-user index, when it has one (checked once, here).
    let userIndex: (any SessionUserIndexing)?
    /// The store's versioned writes, when it has them and the configuration asks for them.
    let versionedStore: (any VersionedSessionStore)?
    /// The store's atomic key writes (`modify`, `increment`), when it has them (checked once, here).
    let atomicStore: (any AtomicKeySessionStore)?
    let logger: Logger
    let metrics: SessionMetrics
    let parser: CookieHeaderParser
    let setCookie: SetCookieBuilder
    let signer: TokenSigner?
    /// `Vary` and `Cache-Control: private`, built once: most responses from a live session
    /// carry exactly these, and copying a prebuilt `HTTPFields` costs no allocation.
    let userSpecificFields: HTTPFields
    /// Serialises sign-ins of one user within this process (exact session cap on one instance).
    let signInLocks = KeyedAsyncLock<String>()
    /// Serialises atomic changes of one key of one session within this process, so they do
    /// not keep failing each other's compare-and-set (not used for an in-process store, whose
    /// compare-and-set never waits: a retry there runs at once and wins).
    let atomicKeyLocks = KeyedAsyncLock<AtomicKeyLockKey>()
    /// Whether the store is an ``InProcessSessionStore`` (its calls never wait on I/O).
    let storeIsInProcess: Bool
    /// The store's in-process cache, asked before a load's store call, when it has one.
    private let localCache: (any LocallyCachingSessionStore)?
    /// The timeouts the lifecycle decision uses, read once from the configuration.
    let lifecyclePolicy: LifecyclePolicy
    private let wrapsStoreCalls: Bool
    /// Where store-call spans go (`nil`: no tracer configured or bootstrapped, no spans).
    private let tracer: (any Tracer)?
    /// The store's `db.system.name` for those spans, when it names one.
    private let databaseSystem: String?

    /// Creates an engine over a server-side store; throws ``SessionConfigurationError`` for
    /// an unsafe configuration, or for one that needs a capability the store lacks (a session
    /// cap needs ``SessionUserIndexing``, versioned writes need ``VersionedSessionStore``).
    /// `metricsFactory` receives the counters; `nil` (the default) uses the factory
    /// bootstrapped in swift-metrics' `MetricsSystem`.
    public convenience init(
        store: any SessionStore,
        configuration: SessionConfiguration = SessionConfiguration(),
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger = Logger(label: "SessionKit"),
        metricsFactory: (any MetricsFactory)? = nil
    ) throws {
        try self.init(
            backend: .store(store),
            configuration: configuration,
            clock: clock,
            logger: logger,
            metricsFactory: metricsFactory
        )
    }

    /// Creates an engine whose sessions live in sealed cookies; throws
    /// ``SessionConfigurationError`` for an unsafe configuration.
    public convenience init(
        sealedCookies: SealedCookieBackend,
        configuration: SessionConfiguration = SessionConfiguration(),
        clock: any SessionClock = SystemSessionClock(),
        logger: Logger = Logger(label: "SessionKit"),
        metricsFactory: (any MetricsFactory)? = nil
    ) throws {
        let codec = SealedCookieCodec(keyRing: sealedCookies.keyRing, cookieName: configuration.cookie.name)
        let lifetime = max(configuration.absoluteTimeout, configuration.rememberMe.absoluteTimeout).seconds
        let epochs = sealedCookies.revocationStore.map { RevocationEpochs(store: $0, lifetime: lifetime) }
        guard configuration.transport == .cookie else {
            throw SessionConfigurationError("sealed-cookie sessions need the cookie transport")
        }
        try self.init(
            backend: .sealed(codec, epochs),
            configuration: configuration,
            clock: clock,
            logger: logger,
            metricsFactory: metricsFactory
        )
    }

    private init(
        backend: Backend,
        configuration: SessionConfiguration,
        clock: any SessionClock,
        logger: Logger,
        metricsFactory: (any MetricsFactory)?
    ) throws {
        try configuration.validate()
        self.backend = backend
        switch backend {
        case .store(let store):
            let storeName = String(describing: type(of: store))
            userIndex = store as? any SessionUserIndexing
            if configuration.concurrentSessionLimit != nil, userIndex == nil {
                throw SessionConfigurationError(
                    "concurrentSessionLimit needs a store with a per-user index (SessionUserIndexing); \(storeName) has none"
                )
            }
            versionedStore = configuration.versionedWrites ? store as? any VersionedSessionStore : nil
            if configuration.versionedWrites, versionedStore == nil {
                throw SessionConfigurationError("versionedWrites needs a store with versioned writes (VersionedSessionStore); \(storeName) has none")
            }
            atomicStore = store as? any AtomicKeySessionStore
            storeIsInProcess = store is any InProcessSessionStore
            localCache = store as? any LocallyCachingSessionStore
            wrapsStoreCalls = configuration.storeTimeout != nil && !storeIsInProcess
            lifecyclePolicy = LifecyclePolicy(configuration, clientSide: false)
        case .sealed:
            // Sealed cookies keep no server-side list of sessions, so a cap cannot apply; it is
            // ignored (as documented on `SealedCookieBackend`) rather than refused, so one
            // configuration serves both backends.
            userIndex = nil
            versionedStore = nil
            atomicStore = nil
            storeIsInProcess = false
            localCache = nil
            wrapsStoreCalls = configuration.storeTimeout != nil
            lifecyclePolicy = LifecyclePolicy(configuration, clientSide: true)
        }
        let countsSessions: Bool
        switch backend {
        case .store(let store):
            databaseSystem = (store as? any DatabaseNamingSessionStore)?.databaseSystem
            countsSessions = store is any SessionCountingStore
        case .sealed(_, let epochs):
            databaseSystem = (epochs?.store as? any DatabaseNamingSessionStore)?.databaseSystem
            countsSessions = false
        }
        let bootstrapped = InstrumentationSystem.tracer
        tracer = configuration.tracer ?? (bootstrapped is NoOpTracer ? nil : bootstrapped)
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.metrics = SessionMetrics(factory: metricsFactory, databaseSystem: databaseSystem, countsSessions: countsSessions)
        self.parser = CookieHeaderParser(name: configuration.cookie.name, maxValueLength: SealedCookieCodec.maxCookieBytes)
        self.setCookie = SetCookieBuilder(options: configuration.cookie)
        self.signer = configuration.tokenSigning.map(TokenSigner.init(keyRing:))
        var userSpecificFields = HTTPFields()
        Self.addUserSpecificFields(&userSpecificFields, transport: configuration.transport)
        self.userSpecificFields = userSpecificFields
    }

    // MARK: Request start

    /// Starts a request: finds and validates the token (no store call), returns the handle.
    public func begin(_ requestFields: HTTPFields) -> SessionHandle {
        let incoming = readToken(requestFields)
        if case .rejected(let reason, let reference) = incoming { recordRejectedToken(reason, reference: reference) }
        return SessionHandle(engine: self, incoming: incoming, requestFields: configuration.recordsUserAgent ? requestFields : nil)
    }

    private func readToken(_ fields: HTTPFields) -> IncomingToken {
        let raw: Substring
        switch configuration.transport {
        case .cookie:
            switch parser.lookup(in: fields) {
            case .absent: return .none
            case .ambiguous: return .rejected(.duplicate, reference: "-")
            case .oversized: return .rejected(.oversized, reference: "-")
            case .found(let value): raw = value
            }
        case .header(let name):
            let values = fields[values: name]
            guard let first = values.first else { return .none }
            guard values.count == 1 else { return .rejected(.duplicate, reference: "-") }
            guard first.utf8.count <= SealedCookieCodec.maxCookieBytes else { return .rejected(.oversized, reference: "-") }
            raw = Substring(first)
        }
        switch backend {
        case .sealed:
            return .sealed(String(raw))
        case .store:
            if let signer {
                switch signer.verify(raw) {
                case .success(let verified): return .valid(verified.token, reissue: verified.signedWithPreviousKey)
                case .failure(let reason): return .rejected(reason, reference: TokenRejection.reference(for: raw))
                }
            }
            guard let token = SessionToken(validating: raw) else {
                return .rejected(.malformed, reference: TokenRejection.reference(for: raw))
            }
            return .valid(token, reissue: false)
        }
    }

    /// Counts a token the engine ignores and, unless it merely expired, logs it as a security
    /// event: one `notice` line with the reason and a reference (a digest prefix of what was
    /// sent, `-` when it was sent twice or oversized), never the value itself.
    func recordRejectedToken(_ reason: TokenRejection, reference: String) {
        metrics.rejectedToken(reason)
        let metadata: Logger.Metadata = ["event": "session.token_rejected", "reason": .string(reason.rawValue), "token_ref": .string(reference)]
        if reason.isSecurityEvent {
            logger.notice("rejected a session token", metadata: metadata)
        } else {
            logger.debug("ignored an expired session token", metadata: metadata)
        }
    }

    // MARK: Loading

    enum LoadOutcome: Sendable {
        case loaded(SessionRecord?, epoch: UInt64, reissue: Bool)
        case failed(SessionStoreError)
    }

    func load(_ incoming: IncomingToken) async -> LoadOutcome {
        switch (backend, incoming) {
        case (.store(let store), .valid(let token, let reissue)):
            let id = token.storageID
            if let cached = localCache?.locallyCachedRecord(id) {
                metrics.loaded.increment()
                return .loaded(cached, epoch: 0, reissue: reissue)
            }
            do {
                let record = try await storeCall("load", session: id) { try await store.load(id) }
                if record != nil { metrics.loaded.increment() }
                return .loaded(record, epoch: 0, reissue: reissue && record != nil)
            } catch {
                return .failed(Self.storeError(from: error))
            }
        case (.sealed(let codec, let epochs), .sealed(let value)):
            let opened: SealedCookieCodec.Opened
            switch codec.open(Substring(value), now: clock.now()) {
            case .success(let open): opened = open
            case .failure(let reason):
                recordRejectedToken(reason, reference: TokenRejection.reference(for: Substring(value)))
                return .loaded(nil, epoch: 0, reissue: false)
            }
            let record = opened.payload.record
            if let epochs, let user = record.userID {
                do {
                    let current = try await storeCall("epoch.load") { try await epochs.current(forUser: user) }
                    guard opened.payload.epoch >= current else {
                        recordRejectedToken(.revoked, reference: TokenRejection.reference(for: Substring(value)))
                        return .loaded(nil, epoch: 0, reissue: false)
                    }
                } catch {
                    return .failed(Self.storeError(from: error))
                }
            }
            metrics.loaded.increment()
            return .loaded(record, epoch: opened.payload.epoch, reissue: opened.sealedWithPreviousKey)
        default:
            return .loaded(nil, epoch: 0, reissue: false)
        }
    }

    private static func storeError(from error: any Error) -> SessionStoreError {
        if let storeError = (error as? SessionError)?.storeError { return storeError }
        if let storeError = error as? SessionStoreError { return storeError }
        return .unavailable(reason: "\(error)")
    }

    // MARK: Commit

    /// Ends a request: performs the store calls the handler's actions need and returns the
    /// header fields to add to the response. Throws ``SessionError`` when a write fails (the
    /// adapter answers 503 instead of pretending the change was saved).
    public func commit(_ handle: SessionHandle) async throws -> HTTPFields {
        let state = handle.state.withLock { state -> HandleState? in
            guard state.phase != .committed else { return nil }
            defer { state.phase = .committed }
            guard state.accessed else { return nil }
            return state
        }
        guard let state else { return HTTPFields() }
        let clientSide = lifecyclePolicy.clientSide
        let input = LifecycleInput(
            incomingID: handle.incoming.token?.storageID,
            tokenWasSent: handle.incoming.wasSent,
            record: state.record,
            values: state.values,
            setValues: state.setValues,
            removedKeys: state.removedKeys,
            intent: state.intent,
            loadFailure: state.loadFailure,
            reissue: state.reissue,
            wroteAtomically: state.wroteAtomically,
            requestFields: clientSide ? nil : handle.requestFields,
            now: clock.now()
        )
        let plan = try SessionLifecycle.plan(input, lifecyclePolicy)
        var fields: HTTPFields
        switch backend {
        case .store(let store):
            // The token's digest was computed once for the input; hashing it again costs an allocation.
            fields = try await executeInStore(plan, store, handle.incoming.token, id: input.incomingID, now: input.now)
        case .sealed(let codec, let epochs):
            fields = try await executeSealed(plan, codec, epochs, handle, input, epoch: state.epoch)
        }
        if state.record != nil { markUserSpecific(&fields) }
        return fields
    }

    /// A response built from a live session is one user's: shared caches must not store it
    /// for others (`Cache-Control: private`, unless a cookie made it `no-store` already) and
    /// must key anything they keep by the cookie (`Vary`). Anonymous responses stay untouched.
    private func markUserSpecific(_ fields: inout HTTPFields) {
        if fields.isEmpty {
            fields = userSpecificFields
        } else {
            Self.addUserSpecificFields(&fields, transport: configuration.transport)
        }
    }

    private static func addUserSpecificFields(_ fields: inout HTTPFields, transport: SessionConfiguration.TokenTransport) {
        if fields[.vary] == nil {
            switch transport {
            case .cookie: fields[.vary] = "Cookie"
            case .header(let name): fields[.vary] = name.canonicalName
            }
        }
        if fields[.cacheControl] == nil {
            fields[.cacheControl] = "private"
        }
    }

    // MARK: Response fields

    func tokenFields(cookieValue: String, expiresAt: Date?, now: Date) -> HTTPFields {
        var fields = HTTPFields()
        switch configuration.transport {
        case .cookie:
            fields[.setCookie] = setCookie.cookie(value: cookieValue, expiresAt: expiresAt, now: now)
            fields[.vary] = "Cookie"
        case .header(let name):
            fields[name] = cookieValue
            fields[.vary] = name.canonicalName
        }
        fields[.cacheControl] = "no-store"
        return fields
    }

    func tokenFields(_ token: SessionToken, expiresAt: Date?, now: Date) -> HTTPFields {
        tokenFields(cookieValue: signer?.sign(token) ?? token.text, expiresAt: expiresAt, now: now)
    }

    func deletionFields() -> HTTPFields {
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
        if configuration.clearSiteDataOnDestroy, let clearSiteData = HTTPField.Name("Clear-Site-Data") {
            fields[clearSiteData] = "\"cookies\""
        }
        return fields
    }

    // MARK: Store calls

    /// The per-user index, or a typed error naming the store that lacks it.
    func requireUserIndex() throws -> any SessionUserIndexing {
        if let userIndex { return userIndex }
        var storeName = "the store"
        if case .store(let store) = backend { storeName = String(describing: type(of: store)) }
        throw SessionError.unsupported("per-user session calls need a store with SessionUserIndexing; \(storeName) has none")
    }

    /// Runs a store call with the configured timeout, translating failures into
    /// ``SessionError/storeUnavailable(_:)``, in a span named after `operation` when tracing.
    /// A failure is counted (`sessionkit_store_errors_total`) and logged once, as one `warning`
    /// line with the operation, the error type, the database and, when the call concerns one
    /// session, its log prefix (`session`).
    func storeCall<Result: Sendable>(
        _ operation: StaticString,
        session: SessionStorageID? = nil,
        _ call: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let started = ContinuousClock.now
        do {
            let result = try await tracedStoreCall(operation, call)
            metrics.recordStoreCall(operation.description, nanoseconds: nanoseconds(since: started), failed: false)
            return result
        } catch {
            metrics.recordStoreCall(operation.description, nanoseconds: nanoseconds(since: started), failed: true)
            // A collision is the create's answer, not a failure: the commit retries with a new token.
            if let failure = (error as? SessionError)?.storeError, failure != .collision {
                metrics.storeFailed(operation.description, failure.code)
                var metadata: Logger.Metadata = [
                    "event": "session.store_failed",
                    "db.operation.name": .string(operation.description),
                    "error.type": .string(failure.code.description),
                    "db.system.name": .string(databaseSystem ?? "other"),
                    "error": .string("\(failure)"),
                ]
                if let session { metadata["session"] = .string(session.logPrefix) }
                logger.warning("session store failed", metadata: metadata)
            }
            throw error
        }
    }

    private func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    private func tracedStoreCall<Result: Sendable>(_ operation: StaticString, _ call: @escaping @Sendable () async throws -> Result) async throws
        -> Result
    {
        guard let tracer else { return try await untracedStoreCall(call) }
        let name = operation.description
        let span = tracer.startAnySpan("session.store.\(name)", context: ServiceContext.current ?? .topLevel, ofKind: .client)
        defer { span.end() }
        span.attributes["db.operation.name"] = name
        if let databaseSystem { span.attributes["db.system.name"] = databaseSystem }
        do {
            return try await ServiceContext.withValue(span.context) { try await untracedStoreCall(call) }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    private func untracedStoreCall<Result: Sendable>(_ operation: @escaping @Sendable () async throws -> Result) async throws -> Result {
        do {
            if wrapsStoreCalls, let timeout = configuration.storeTimeout {
                return try await withDeadline(timeout, operation)
            }
            return try await operation()
        } catch let error as SessionStoreError {
            throw SessionError.storeUnavailable(error)
        } catch let error as SessionError {
            throw error
        } catch {
            throw SessionError.storeUnavailable(.unavailable(reason: String(describing: type(of: error))))
        }
    }
}
