import HTTPTypes
import Tracing

/// Everything that decides how sessions behave, with production defaults.
///
/// ```swift
/// var configuration = SessionConfiguration()
/// configuration.idleTimeout = .minutes(15)
/// configuration.concurrentSessionLimit = .init(maxSessions: 5, policy: .evictOldest)
/// let engine = try SessionEngine(store: MemorySessionStore(), configuration: configuration)
/// ```
/// The engine validates the whole configuration when it is created.
public struct SessionConfiguration: Sendable {
    /// Where the client carries its token.
    public enum TokenTransport: Sendable, Equatable {
        /// In the session cookie (the default; browsers).
        case cookie
        /// In a request header of this name, returned in the same response header when a new
        /// token is issued and as an empty value when the session ends (API clients).
        case header(HTTPField.Name)
    }

    /// What to do when the store fails while loading a session.
    public enum LoadFailurePolicy: Sendable, Equatable {
        /// Answer 503 with `Retry-After` (the default): nobody is signed out by an outage.
        case failRequest
        /// Let the request continue as anonymous. Any write to the session in that request
        /// still fails with 503, so the client's real session is never replaced.
        case treatAsAnonymous
    }

    /// The policy for a per-user cap on concurrent sessions.
    public struct ConcurrentSessionLimit: Sendable, Equatable {
        /// What happens when a sign-in would exceed the cap.
        public enum Policy: Sendable, Equatable {
            /// End the user's oldest sessions to make room.
            case evictOldest
            /// Refuse the sign-in with ``SessionError/tooManySessions(limit:)`` (403).
            case refuse
        }

        /// The most sessions one user may have at once.
        public var maxSessions: Int
        /// What to do when the cap is reached.
        public var policy: Policy

        /// Creates a cap.
        public init(maxSessions: Int, policy: Policy = .evictOldest) {
            self.maxSessions = maxSessions
            self.policy = policy
        }
    }

    /// Timeouts for sessions whose user chose "remember me" at sign-in. Such sessions get a
    /// persistent cookie (`Max-Age`/`Expires`) instead of a browser-session cookie.
    public struct RememberMe: Sendable, Equatable {
        /// Idle timeout for remembered sessions (default 14 days).
        public var idleTimeout: Duration
        /// Absolute timeout for remembered sessions (default 30 days).
        public var absoluteTimeout: Duration

        /// Creates remember-me timeouts.
        public init(idleTimeout: Duration = .seconds(14 * 86_400), absoluteTimeout: Duration = .seconds(30 * 86_400)) {
            self.idleTimeout = idleTimeout
            self.absoluteTimeout = absoluteTimeout
        }
    }

    /// Cookie name and attributes.
    public var cookie: SessionCookieOptions
    /// Where the token travels (default: the cookie).
    public var transport: TokenTransport
    /// A session ends after this long without a request (default 30 minutes).
    public var idleTimeout: Duration
    /// A session ends this long after it was created or signed in, however busy (default 12 hours).
    public var absoluteTimeout: Duration
    /// A read-only request extends the idle expiry only when the session was last written or
    /// touched at least this long ago (default 60 seconds), so busy sessions cost one store
    /// write a minute, not one per request.
    public var touchInterval: Duration
    /// Remember-me timeouts.
    public var rememberMe: RememberMe
    /// Optional cap on sessions per user (default none).
    public var concurrentSessionLimit: ConcurrentSessionLimit?
    /// What to do when loading fails (default: 503).
    public var loadFailurePolicy: LoadFailurePolicy
    /// The `Retry-After` seconds sent with 503 answers (default 5).
    public var retryAfterSeconds: Int
    /// The longest a store call may take before the engine gives up with 503 (default 5
    /// seconds). `nil` leaves timeouts to the store. Stores that never block (memory) are not
    /// wrapped.
    public var storeTimeout: Duration?
    /// The tracer for a span per store call (`session.store.<operation>`, kind client, with
    /// `db.system.name` and `db.operation.name`; never a token or storage ID), parented to the
    /// request's span. `nil` (the default) uses the tracer bootstrapped for the process
    /// (`InstrumentationSystem.tracer`), and no spans at all when none is.
    public var tracer: (any Tracer)?
    /// Whether destroying a session also sends `Clear-Site-Data: "cookies"` (default `false`:
    /// it clears every cookie of the origin, not only the session's).
    public var clearSiteDataOnDestroy: Bool
    /// Whether the client's `User-Agent` is kept with the session for session listings (default `true`).
    public var recordsUserAgent: Bool
    /// Versioned writes: a patch based on a stale read fails with ``SessionError/conflict``
    /// (409) instead of silently winning (default `false`: per-key last writer wins).
    public var versionedWrites: Bool
    /// Signs server-side tokens with this key ring (default `nil`: unsigned). Forged or junk
    /// tokens are then rejected without a store call; tokens signed with a previous key are
    /// accepted and re-signed with the current one.
    public var tokenSigning: KeyRing?
    /// The most keys one session may hold (default 1,000); a write over it fails with
    /// ``SessionError/sessionTooLarge(keys:bytes:maxKeys:maxBytes:)`` (413) and writes nothing.
    public var maxKeysPerSession: Int = 1_000
    /// The most bytes one session's keys and encoded values may take together, counted in
    /// UTF-8 bytes (default 512 KiB); a write over it fails with 413 and writes nothing.
    public var maxBytesPerSession: Int = 512 * 1024

    /// Creates a configuration; every parameter has a safe default.
    public init(
        cookie: SessionCookieOptions = SessionCookieOptions(),
        transport: TokenTransport = .cookie,
        idleTimeout: Duration = .seconds(30 * 60),
        absoluteTimeout: Duration = .seconds(12 * 3600),
        touchInterval: Duration = .seconds(60),
        rememberMe: RememberMe = RememberMe(),
        concurrentSessionLimit: ConcurrentSessionLimit? = nil,
        loadFailurePolicy: LoadFailurePolicy = .failRequest,
        retryAfterSeconds: Int = 5,
        storeTimeout: Duration? = .seconds(5),
        clearSiteDataOnDestroy: Bool = false,
        recordsUserAgent: Bool = true,
        versionedWrites: Bool = false,
        tokenSigning: KeyRing? = nil
    ) {
        self.cookie = cookie
        self.transport = transport
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.touchInterval = touchInterval
        self.rememberMe = rememberMe
        self.concurrentSessionLimit = concurrentSessionLimit
        self.loadFailurePolicy = loadFailurePolicy
        self.retryAfterSeconds = retryAfterSeconds
        self.storeTimeout = storeTimeout
        self.clearSiteDataOnDestroy = clearSiteDataOnDestroy
        self.recordsUserAgent = recordsUserAgent
        self.versionedWrites = versionedWrites
        self.tokenSigning = tokenSigning
    }

    /// Checks every setting; throws a ``SessionConfigurationError`` that says what to change.
    public func validate() throws {
        try cookie.validate()
        guard idleTimeout > .zero else { throw SessionConfigurationError("idleTimeout must be positive") }
        guard absoluteTimeout >= idleTimeout else {
            throw SessionConfigurationError("absoluteTimeout (\(absoluteTimeout)) must not be shorter than idleTimeout (\(idleTimeout))")
        }
        guard touchInterval >= .zero, touchInterval < idleTimeout else {
            throw SessionConfigurationError("touchInterval must be at least zero and shorter than idleTimeout")
        }
        guard rememberMe.idleTimeout > .zero, rememberMe.absoluteTimeout >= rememberMe.idleTimeout else {
            throw SessionConfigurationError("rememberMe timeouts must be positive, absolute not shorter than idle")
        }
        // Browsers cap a cookie's lifetime at 400 days (RFC 6265bis); longer timeouts would
        // also overflow the stores' millisecond arithmetic.
        for (name, timeout) in [("absoluteTimeout", absoluteTimeout), ("rememberMe.absoluteTimeout", rememberMe.absoluteTimeout)]
        where timeout > Self.maxTimeout {
            throw SessionConfigurationError("\(name) (\(timeout)) must not exceed 400 days, the longest a browser keeps a cookie")
        }
        if let limit = concurrentSessionLimit, limit.maxSessions < 1 {
            throw SessionConfigurationError("concurrentSessionLimit.maxSessions must be at least 1")
        }
        guard retryAfterSeconds >= 0 else { throw SessionConfigurationError("retryAfterSeconds must not be negative") }
        if let storeTimeout, storeTimeout <= .zero || storeTimeout > Self.maxTimeout {
            throw SessionConfigurationError("storeTimeout must be positive and at most 400 days")
        }
        guard maxKeysPerSession >= 1, maxBytesPerSession >= 1 else {
            throw SessionConfigurationError("maxKeysPerSession and maxBytesPerSession must be at least 1")
        }
        if case .header(let name) = transport, name == .cookie || name == .setCookie {
            throw SessionConfigurationError("header transport needs its own header name, not Cookie or Set-Cookie")
        }
    }
}

extension SessionConfiguration {
    /// The longest timeout accepted: 400 days, the cap browsers put on a cookie's lifetime.
    static let maxTimeout = Duration.seconds(400 * 86_400)
}

extension Duration {
    /// The duration in seconds as a `Double`, for date arithmetic.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
