import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

@Suite("Remember me")
struct RememberMeTests {
    static let day: TimeInterval = 86_400

    @Test func rememberMeGivesAPersistentCookie() async throws {
        let harness = try Harness()
        let client = harness.client()
        let response = try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        let cookie = try #require(response.setCookie)
        #expect(cookie.isPersistent)
        #expect(cookie.attributes["max-age"] == "1209600")
        // testEpoch + 14 days.
        #expect(cookie.attributes["expires"] == "Tue, 28 Nov 2023 22:13:20 GMT")
        #expect(cookie.attributes["httponly"] == "")
        #expect(cookie.attributes["secure"] == "")
        let record = try #require(try await harness.record(for: cookie.value))
        #expect(record.idleExpiresAt == testEpoch.addingTimeInterval(14 * Self.day))
        #expect(record.absoluteExpiresAt == testEpoch.addingTimeInterval(30 * Self.day))
        #expect(record.userID == "alice")
    }

    @Test func defaultSignInGivesABrowserSessionCookie() async throws {
        let harness = try Harness()
        let response = try await harness.client().send { try await $0.signIn(userID: "alice") }
        let cookie = try #require(response.setCookie)
        #expect(!cookie.isPersistent)
        #expect(cookie.attributes["max-age"] == nil)
        #expect(cookie.attributes["expires"] == nil)
        let record = try #require(try await harness.record(for: cookie.value))
        #expect(record.idleExpiresAt == testEpoch.addingTimeInterval(1800))
        #expect(record.absoluteExpiresAt == testEpoch.addingTimeInterval(12 * 3600))
    }

    @Test func laterTouchesRefreshThePersistentCookie() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        let token = client.cookie

        // Within the touch interval: no write, no cookie.
        harness.clock.advance(by: .seconds(30))
        harness.store.reset()
        let quiet = try await client.request { try await $0.userID }.response
        #expect(quiet.fields == userSpecificFields)
        #expect(harness.store.calls == [.load: 1])

        // After it: a touch and a refreshed cookie with the same token.
        harness.clock.advance(by: .seconds(2 * 3600))
        harness.store.reset()
        let refreshed = try await client.request { try await $0.userID }.response
        #expect(harness.store.calls == [.load: 1, .touch: 1])
        let cookie = try #require(refreshed.setCookie)
        #expect(cookie.value == token)
        #expect(cookie.attributes["max-age"] == "1209600")
        #expect(cookie.attributes["expires"] == HTTPDate.format(harness.clock.now().addingTimeInterval(14 * Self.day)))
        #expect(cookie.attributes["expires"] != "Tue, 28 Nov 2023 22:13:20 GMT")
        #expect(refreshed.fields[.vary] == "Cookie")
        #expect(refreshed.fields[.cacheControl] == "no-store")
    }

    @Test func writesRefreshThePersistentCookie() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        harness.clock.advance(by: .seconds(10))
        let response = try await client.send { try await $0.set(Keys.count, 1) }
        let cookie = try #require(response.setCookie)
        #expect(cookie.value == client.cookie)
        #expect(cookie.attributes["max-age"] == "1209600")
    }

    @Test func rememberedSessionOutlivesTheNormalIdleTimeout() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        harness.clock.advance(by: .seconds(31 * 60))
        #expect(try await client.request { try await $0.userID }.value == "alice")
        harness.clock.advance(by: .seconds(13 * 86_400))
        #expect(try await client.request { try await $0.userID }.value == "alice")
        // 14 days without a request ends it (before the 30-day absolute timeout).
        harness.clock.advance(by: .seconds(14 * 86_400))
        #expect(try await client.request { try await $0.userID }.value == nil)
    }

    @Test func rememberedSessionEndsAtItsAbsoluteTimeoutAndMaxAgeShrinksToIt() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        harness.clock.advance(by: .seconds(10 * 86_400))
        _ = try await client.request { try await $0.userID }
        harness.clock.advance(by: .seconds(10 * 86_400))
        // Day 20: the idle expiry (day 34) is capped at the absolute one (day 30).
        let response = try await client.request { try await $0.userID }.response
        let cookie = try #require(response.setCookie)
        #expect(cookie.attributes["max-age"] == String(10 * 86_400))
        #expect(cookie.attributes["expires"] == HTTPDate.format(testEpoch.addingTimeInterval(30 * Self.day)))
        harness.clock.advance(by: .seconds(10 * 86_400 - 1))
        #expect(try await client.request { try await $0.userID }.value == "alice")
        harness.clock.advance(by: .seconds(1))
        #expect(try await client.request { try await $0.userID }.value == nil)
    }

    @Test func signingInAgainWithoutRememberMeMakesTheCookieABrowserSessionCookie() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        let response = try await client.send { try await $0.signIn(userID: "alice") }
        let cookie = try #require(response.setCookie)
        #expect(!cookie.isPersistent)
        harness.clock.advance(by: .seconds(31 * 60))
        #expect(try await client.request { try await $0.userID }.value == nil)
    }

    @Test func regenerateKeepsRememberMe() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice", rememberMe: true) }
        harness.clock.advance(by: .seconds(60))
        let response = try await client.send { try await $0.regenerate() }
        let cookie = try #require(response.setCookie)
        #expect(cookie.isPersistent)
        let record = try #require(try await harness.record(for: cookie.value))
        #expect(record.absoluteExpiresAt == testEpoch.addingTimeInterval(30 * Self.day))
    }
}
