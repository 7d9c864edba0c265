import Crypto
import Foundation

extension SessionHandle {
    private static let csrfKey = SessionKey<String>(reserved: ReservedKeys.csrf)

    /// The session's CSRF token (synchronizer-token pattern), created on first use.
    ///
    /// Put it in a hidden form field or an `X-CSRF-Token` header and check it with
    /// ``verifyCSRFToken(_:)`` on every state-changing request. The token is bound to this
    /// session: another session's token is rejected, and ``regenerate()`` / ``signIn(userID:rememberMe:)``
    /// replace it. Creating one stores a value, so an anonymous visitor who asks for one gets
    /// a session (which is what protects a sign-in form).
    public func csrfToken() async throws -> String {
        if let existing = try await get(Self.csrfKey) { return existing }
        let token = SessionToken.generate().text
        try await set(Self.csrfKey, token)
        return token
    }

    /// Checks a submitted CSRF token against the session's, in constant time. `false` when
    /// either is missing.
    public func verifyCSRFToken(_ submitted: String?) async throws -> Bool {
        guard let submitted, let expected = try await get(Self.csrfKey) else { return false }
        return constantTimeEquals(Array(submitted.utf8), Array(expected.utf8))
    }
}

/// Compares two byte strings without an early exit, so the time taken does not reveal how
/// many leading bytes matched.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices {
        difference |= lhs[index] ^ rhs[index]
    }
    return difference == 0
}
