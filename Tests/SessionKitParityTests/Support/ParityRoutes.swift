import Foundation
import SessionKit

/// The routes every parity server serves, as framework-free functions over a
/// ``SessionKit/SessionHandle``. The Hummingbird and Vapor servers register exactly these
/// (one loop over ``allCases``), so a difference in behaviour can only come from an adapter.
enum ParityRoute: String, CaseIterable, Sendable {
    /// Never touches the session.
    case plain
    /// Reads the `counter` key (`"none"` when unset).
    case read
    /// Reads the signed-in user (`"anonymous"` when nobody is).
    case whoami
    /// Increments the `counter` key.
    case counter
    /// `signIn(userID: "alice")`.
    case login
    /// `signIn(userID: "alice", rememberMe: true)`.
    case remember
    /// `regenerate()`.
    case regenerate
    /// `destroy()`.
    case logout
    /// Queues a flash message, then fails with the framework's own 400 error.
    case flashError = "flash-error"
    /// `signIn(userID: "alice")` and a flash message, then fails with the framework's 400 error.
    case loginError = "login-error"
    /// Consumes the flash messages (joined with `|`).
    case flash
    /// Sets `counter` to 999, then throws a plain Swift error.
    case boom
    /// Increments `counter` and answers with its own `Cache-Control: public, max-age=60` and
    /// `Vary: Accept-Encoding`, which the session's fields must override / extend.
    case cached
    /// Reads the `counter` key as a `String` (a ``SessionKit/SessionError/typeMismatch(key:expected:)``).
    case mismatch

    static let counterKey = SessionKey<Int>("counter")

    var path: String { "/\(rawValue)" }

    /// What a handler does after running against the session.
    enum Outcome: Sendable {
        /// Answer 200 with this text and these extra response fields.
        case text(String, headers: [(name: String, value: String)] = [])
        /// Throw the framework's 400 error (`HTTPError` / `Abort`) with this message.
        case badRequest(String)
        /// Throw ``ParityBoom`` (not an HTTP error).
        case plainError
    }

    func run(_ session: SessionHandle) async throws -> Outcome {
        switch self {
        case .plain:
            return .text("plain")
        case .read:
            return .text(try await session.get(Self.counterKey).map(String.init) ?? "none")
        case .whoami:
            return .text(try await session.userID ?? "anonymous")
        case .counter:
            let value = (try await session.get(Self.counterKey) ?? 0) + 1
            try await session.set(Self.counterKey, value)
            return .text(String(value))
        case .login:
            try await session.signIn(userID: "alice")
            return .text("signed in alice")
        case .remember:
            try await session.signIn(userID: "alice", rememberMe: true)
            return .text("remembered alice")
        case .regenerate:
            try await session.regenerate()
            return .text("regenerated")
        case .logout:
            try session.destroy()
            return .text("bye")
        case .flashError:
            try await session.flash(FlashMessage("bad input", kind: "error"))
            return .badRequest("bad input")
        case .loginError:
            try await session.signIn(userID: "alice")
            try await session.flash(FlashMessage("wrong password", kind: "error"))
            return .badRequest("wrong password")
        case .flash:
            return .text(try await session.consumeFlashes().map(\.text).joined(separator: "|"))
        case .boom:
            try await session.set(Self.counterKey, 999)
            return .plainError
        case .cached:
            let value = (try await session.get(Self.counterKey) ?? 0) + 1
            try await session.set(Self.counterKey, value)
            return .text(String(value), headers: [("Cache-Control", "public, max-age=60"), ("Vary", "Accept-Encoding")])
        case .mismatch:
            return .text(try await session.get(SessionKey<String>("counter")) ?? "none")
        }
    }
}

/// A plain Swift error: neither `HTTPResponseError` nor `AbortError`.
struct ParityBoom: Error {}
