import Foundation
import SessionKit

/// The demo's JSON API as framework-free functions over a `SessionHandle`. The
/// Hummingbird and Vapor demos route to these, so the two serve byte-identical answers.
public enum DemoAPI {
    /// The password every demo user signs in with.
    public static let password = "demo"
    /// The session values the demo keeps.
    public static let visits = SessionKey<Int>("visits")
    /// The page theme preference.
    public static let theme = SessionKey<String>("theme")

    /// `{"user": null|"NAME", "visits": N}`.
    public struct Me: Codable, Sendable, Equatable {
        /// The signed-in user.
        public let user: String?
        /// Visits counted in this session.
        public let visits: Int

        /// Creates the answer.
        public init(user: String?, visits: Int) {
            self.user = user
            self.visits = visits
        }

        /// Encodes `user` as `null` when nobody is signed in.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(user, forKey: .user)
            try container.encode(visits, forKey: .visits)
        }

        enum CodingKeys: String, CodingKey {
            case user, visits
        }
    }

    /// `{"count": N}`, from the counter routes.
    public struct Counter: Codable, Sendable, Equatable {
        /// The counter after this request.
        public let count: Int
    }

    /// `{"items": [...]}`, from the cart routes.
    public struct Cart: Codable, Sendable, Equatable {
        /// The cart's items, in the order they were added.
        public let items: [String]
    }

    /// `{"item": "..."}`, the body of `POST /api/cart`.
    public struct CartItem: Codable, Sendable {
        /// The item to add (at most 100 bytes).
        public let item: String?
    }

    /// How a counter route changes the counter: the three ways an app can write it.
    public enum CounterWrite: String, Sendable, CaseIterable {
        /// `session.increment`: one native atomic operation (`POST /api/counter`).
        case increment
        /// `session.modify`: compare-and-set, retried on conflict (`POST /api/counter/modify`).
        case modify
        /// `get` then `set`: last writer wins, so concurrent requests lose counts
        /// (`POST /api/counter/get-set`, kept for comparison).
        case getSet = "get-set"
    }

    /// The counter of the counter routes.
    public static let counter = SessionKey<Int>("counter")
    /// The cart of the cart routes.
    public static let cart = SessionKey<[String]>("cart")

    /// `{"visits": N}`.
    public struct Visits: Codable, Sendable, Equatable {
        /// The new count.
        public let visits: Int
    }

    /// The sign-in request body.
    public struct Login: Codable, Sendable {
        /// The user name.
        public let user: String
        /// The password (always `demo`).
        public let password: String
        /// Whether to keep the user signed in across browser restarts.
        public let rememberMe: Bool?
    }

    /// One entry of `GET /api/sessions`: metadata only, never a token.
    public struct SessionEntry: Codable, Sendable, Equatable {
        /// The first 12 hex digits of the session's storage ID.
        public let id: String
        /// When it was created (or signed in).
        public let created: Date
        /// When it was last written or touched.
        public let lastSeen: Date
        /// Its client's `User-Agent` at creation.
        public let userAgent: String?
        /// Whether it is the session making the request.
        public let current: Bool
    }

    /// `{"signedOut": N}`.
    public struct SignedOut: Codable, Sendable, Equatable {
        /// How many sessions ended.
        public let signedOut: Int
    }

    /// `{"value": null|"TEXT"}` for notes.
    public struct Note: Codable, Sendable, Equatable {
        /// The note's text.
        public let value: String?

        /// Creates a note.
        public init(value: String?) {
            self.value = value
        }

        /// Encodes a missing note as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(value, forKey: .value)
        }

        enum CodingKeys: String, CodingKey {
            case value
        }
    }

    /// A refusal with its HTTP status.
    public struct Failure: Error, Sendable, Equatable {
        /// The HTTP status code.
        public let status: Int
        /// The message for the client.
        public let message: String

        static let notSignedIn = Failure(status: 401, message: "sign in first")
        static let notJSON = Failure(status: 415, message: "send Content-Type: application/json")
    }

    /// What `GET /readyz` answers: 200 while the session store answers, else the store
    /// error's status (503) with its `Retry-After`.
    public struct Readiness: Sendable, Equatable {
        /// The HTTP status code.
        public let status: Int
        /// The `Retry-After` value, with 503.
        public let retryAfter: String?
        /// The body (`ready` or the error's public message).
        public let body: String
    }

    /// `GET /readyz`: asks the store through `SessionEngine.checkReadiness()`.
    /// (`GET /healthz` is liveness only and never touches the store.)
    public static func readiness(_ engine: SessionEngine) async -> Readiness {
        do {
            try await engine.checkReadiness()
            return Readiness(status: 200, retryAfter: nil, body: "ready")
        } catch {
            let failure = error as? SessionError ?? .storeUnavailable(.unavailable(reason: "readiness check failed"))
            guard failure.code == .storeUnavailable else { return Readiness(status: 500, retryAfter: nil, body: failure.publicMessage) }
            return Readiness(status: 503, retryAfter: String(engine.configuration.retryAfterSeconds), body: failure.publicMessage)
        }
    }

    /// Checks the request's `Content-Type`: state-changing JSON endpoints need
    /// `application/json`, which a cross-site HTML form cannot send without a CORS preflight.
    public static func requireJSON(contentType: String?) throws(Failure) {
        let type = contentType?.lowercased() ?? ""
        guard type == "application/json" || type.hasPrefix("application/json;") else { throw Failure.notJSON }
    }

    /// `GET /api/me` (read only).
    public static func me(_ session: SessionHandle) async throws -> Me {
        Me(user: try await session.userID, visits: try await session.get(visits) ?? 0)
    }

    /// `POST /api/visit`: an atomic increment, so concurrent requests never lose a visit.
    public static func visit(_ session: SessionHandle) async throws -> Visits {
        Visits(visits: try await session.increment(visits))
    }

    /// `POST /api/counter[/modify|/get-set]`: adds one to the counter the given way.
    public static func count(_ session: SessionHandle, _ write: CounterWrite) async throws -> Counter {
        switch write {
        case .increment:
            return Counter(count: try await session.increment(counter))
        case .modify:
            return Counter(count: try await session.modify(counter, default: 0) { $0 += 1 })
        case .getSet:
            let count = (try await session.get(counter) ?? 0) + 1
            try await session.set(counter, count)
            return Counter(count: count)
        }
    }

    /// `GET /api/counter` (read only).
    public static func counterValue(_ session: SessionHandle) async throws -> Counter {
        Counter(count: try await session.get(counter) ?? 0)
    }

    /// `POST /api/cart`: appends an item with `modify`, so concurrent additions all stay.
    public static func addToCart(_ session: SessionHandle, _ body: CartItem) async throws -> Cart {
        guard let item = body.item, (1...100).contains(item.utf8.count) else {
            throw Failure(status: 400, message: "item must be a string of 1-100 bytes")
        }
        return Cart(items: try await session.modify(cart, default: []) { $0.append(item) })
    }

    /// `GET /api/cart` (read only).
    public static func cartItems(_ session: SessionHandle) async throws -> Cart {
        Cart(items: try await session.get(cart) ?? [])
    }

    /// `POST /api/login`.
    public static func login(_ session: SessionHandle, _ login: Login) async throws -> Me {
        guard let user = validUserName(login.user) else {
            throw Failure(status: 400, message: "user must be 1-64 of: ASCII letters, digits, . _ - @ +")
        }
        guard constantTimeEqual(login.password, password) else { throw Failure(status: 401, message: "wrong user name or password") }
        try await session.signIn(userID: user, rememberMe: login.rememberMe ?? false)
        return Me(user: user, visits: try await session.get(visits) ?? 0)
    }

    /// `POST /api/logout`.
    public static func logout(_ session: SessionHandle) throws -> Me {
        try session.destroy()
        return Me(user: nil, visits: 0)
    }

    /// `GET /api/sessions`.
    public static func sessions(_ session: SessionHandle) async throws -> [SessionEntry] {
        guard try await session.userID != nil else { throw Failure.notSignedIn }
        let current = try await session.storageID
        return try await session.sessionsOfUser().map { summary in
            SessionEntry(
                id: String(summary.id.hex.prefix(12)),
                created: summary.createdAt,
                lastSeen: summary.lastSeenAt,
                userAgent: summary.userAgent,
                current: summary.id == current
            )
        }
    }

    /// `DELETE /api/sessions/others`.
    public static func signOutOthers(_ session: SessionHandle) async throws -> SignedOut {
        guard try await session.userID != nil else { throw Failure.notSignedIn }
        return SignedOut(signedOut: try await session.signOutOtherSessions())
    }

    /// `PUT /api/notes/:name`.
    public static func setNote(_ session: SessionHandle, name: String?, _ note: Note) async throws -> Note {
        let key = try noteKey(name)
        guard let value = note.value, value.utf8.count <= 512 else {
            throw Failure(status: 400, message: "value must be a string of at most 512 bytes")
        }
        try await session.set(key, value)
        return Note(value: value)
    }

    /// `GET /api/notes/:name`.
    public static func note(_ session: SessionHandle, name: String?) async throws -> Note {
        Note(value: try await session.get(try noteKey(name)))
    }

    /// The session key of a named note: letters, digits, `-` and `_`, at most 40 characters.
    static func noteKey(_ name: String?) throws(Failure) -> SessionKey<String> {
        guard let name, (1...40).contains(name.count),
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" })
        else { throw Failure(status: 400, message: "note names are 1-40 letters, digits, '-' or '_'") }
        return SessionKey("note.\(name)")
    }

    /// A user name the demo accepts: 1-64 bytes of an allow-list of scalars (ASCII letters and
    /// digits, `.`, `_`, `-`, `@`, `+`), checked scalar by scalar, so no combining or Prepend
    /// scalar can smuggle markup or look-alikes into a name.
    public static func validUserName(_ text: String) -> String? {
        guard (1...64).contains(text.utf8.count), text.unicodeScalars.allSatisfy(isUserNameScalar) else { return nil }
        return text
    }

    private static func isUserNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-", "@", "+": return true
        default: return false
        }
    }

    /// Compares secrets without an early exit.
    public static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
