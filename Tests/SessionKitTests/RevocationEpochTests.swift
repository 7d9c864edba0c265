import Foundation
import SessionKit
import SessionKitTesting
import Testing

@Suite("Sealed-cookie revocation epochs")
struct RevocationEpochTests {
    /// Regression: a bump moved only the epoch record's idle expiry, so the record lapsed at
    /// its first absolute expiry and a revoked (stolen) cookie opened again afterwards.
    @Test("a revoked cookie stays revoked after the epoch record's first lifetime has passed")
    func revocationOutlivesTheFirstBump() async throws {
        let harness = try Harness.sealed(.ephemeral(), configuration: SessionConfiguration())
        let clock = harness.clock
        let user = harness.client()
        // First sign-in and logout: the epoch record is created (30-day lifetime).
        try await user.send { try await $0.signIn(userID: "ada", rememberMe: true) }
        try await user.send { try $0.destroy() }
        // 29 days later: sign in again (remember me: the cookie lives 30 days) and a thief copies it.
        clock.advance(by: .seconds(29 * 86_400))
        try await user.send { try await $0.signIn(userID: "ada", rememberMe: true) }
        let stolen = try #require(user.cookie)
        try await user.send { try $0.destroy() }
        // Two days later the first bump's 30 days are over; the stolen cookie is still within its own life.
        clock.advance(by: .seconds(2 * 86_400))
        let thief = harness.client(cookie: stolen)
        let (seen, _) = try await thief.request { try await $0.userID }
        #expect(seen == nil, "a cookie revoked by logout opened again once the epoch record lapsed")
    }
}
