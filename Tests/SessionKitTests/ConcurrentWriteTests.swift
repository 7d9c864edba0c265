import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Concurrent requests: no resurrection, merges and versioned writes")
struct ConcurrentWriteTests {
    @Test func writeAfterAConcurrentDestroyDoesNotRecreateTheSession() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)

        let slow = try await harness.begin(cookie: token)
        #expect(try await slow.get(Keys.count) == 1)

        // Meanwhile another request (sign-out in another tab) destroys the session.
        try await harness.client(cookie: token).send { try $0.destroy() }
        #expect(harness.memory.count == 0)

        try await slow.set(Keys.count, 2)
        try await slow.set(Keys.name, "late")
        let fields = try await harness.engine.commit(slow)
        #expect(harness.memory.count == 0, "the late write re-created a destroyed session")
        #expect(try await harness.record(for: token) == nil)
        #expect(setCookies(fields).isEmpty, "a dropped write must not send a cookie")
    }

    /// Issue 13 #9: a slow request that still carries the pre-login token commits after the
    /// sign-in rotated it. Its write is dropped, and it must not answer with a deleting cookie:
    /// that would delete the browser's new login cookie (same name) and sign the user out.
    @Test func staleRequestAfterASignInLeavesTheNewLoginCookieAlone() async throws {
        let harness = try Harness()
        let browser = try await harness.clientWithSession(count: 1)
        let preLogin = try #require(browser.cookie)
        let stale = try await harness.begin(cookie: preLogin)

        try await browser.send { try await $0.signIn(userID: "alice") }
        #expect(browser.cookie != preLogin)

        try await stale.set(Keys.name, "late")
        let fields = try await harness.engine.commit(stale)
        #expect(setCookies(fields).isEmpty, "the stale request answered with a cookie that replaces the login")
        #expect(try await browser.request { try await $0.userID }.value == "alice")
    }

    /// The same for a stale regenerate: dropped, and no cookie.
    @Test func staleRegenerateAfterASignInSendsNoCookie() async throws {
        let harness = try Harness()
        let browser = try await harness.clientWithSession(count: 1)
        let token = try #require(browser.cookie)
        let stale = try await harness.begin(cookie: token)
        try await browser.send { try await $0.signIn(userID: "alice") }
        try await stale.regenerate()
        #expect(setCookies(try await harness.engine.commit(stale)).isEmpty)
        #expect(try await harness.memory.sessions(forUser: "alice").count == 1)
    }

    @Test func touchAfterAConcurrentDestroyDoesNotRecreateTheSession() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        harness.clock.advance(by: .seconds(120))
        let slow = try await harness.begin(cookie: token)
        try await harness.client(cookie: token).send { try $0.destroy() }
        let fields = try await harness.engine.commit(slow)
        #expect(harness.memory.count == 0)
        #expect(fields[.setCookie].map { SetCookie($0)?.isDeletion == true } ?? true, "a touch must never issue a live cookie")
    }

    @Test func writeAfterSignOutOfOtherSessionsDoesNotRecreate() async throws {
        let harness = try Harness()
        let victim = harness.client()
        try await victim.send { try await $0.signIn(userID: "alice") }
        let stolen = try #require(victim.cookie)
        let owner = harness.client()
        try await owner.send { try await $0.signIn(userID: "alice") }

        let slow = try await harness.begin(cookie: stolen)
        let ended = try await owner.request { try await $0.signOutOtherSessions() }.value
        #expect(ended == 1)
        try await slow.set(Keys.count, 1)
        _ = try await harness.engine.commit(slow)
        #expect(try await harness.record(for: stolen) == nil)
        #expect(try await harness.memory.sessions(forUser: "alice").count == 1)
    }

    @Test func regenerateAfterAConcurrentDestroyDoesNotRecreateTheSession() async throws {
        // A slow request that regenerates (e.g. a privilege change) must not bring back a
        // session that was signed out meanwhile: the store would otherwise hold the old
        // session's data and user under a fresh token.
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice") }
        let token = try #require(client.cookie)

        let slow = try await harness.begin(cookie: token)
        try await harness.client(cookie: token).send { try $0.destroy() }
        #expect(harness.memory.count == 0)

        try await slow.regenerate()
        let fields = try await harness.engine.commit(slow)
        #expect(harness.memory.count == 0, "regenerate re-created a destroyed session under a new token")
        #expect(try await harness.memory.sessions(forUser: "alice").isEmpty)
        #expect(setCookies(fields).isEmpty, "a dropped regenerate must not send a cookie")
    }

    @Test func concurrentWritesToDifferentKeysBothSurvive() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        let first = try await harness.begin(cookie: token)
        let second = try await harness.begin(cookie: token)
        try await first.set(Keys.name, "from first")
        try await second.set(Keys.other, "from second")
        #expect(try await harness.engine.commit(second) == userSpecificFields)
        #expect(try await harness.engine.commit(first) == userSpecificFields)
        let record = try #require(try await harness.record(for: token))
        #expect(record.data["name"] == Data("\"from first\"".utf8))
        #expect(record.data["other"] == Data("\"from second\"".utf8))
        #expect(record.data["count"] == Data("1".utf8))
    }

    // MARK: Versioned writes

    @Test func versionedStaleWriteIsAConflict() async throws {
        var configuration = SessionConfiguration()
        configuration.versionedWrites = true
        let harness = try Harness(configuration: configuration)
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)

        let stale = try await harness.begin(cookie: token)
        try await harness.client(cookie: token).send { try await $0.set(Keys.count, 2) }
        try await stale.set(Keys.name, "stale")
        let error = await sessionError { _ = try await harness.engine.commit(stale) }
        #expect(error == .conflict)
        #expect(error?.status == .conflict)
        #expect(error?.responseFields(retryAfterSeconds: 5)[.retryAfter] == nil)
        let record = try #require(try await harness.record(for: token))
        #expect(record.data["count"] == Data("2".utf8))
        #expect(record.data["name"] == nil)

        // After the conflict, sequential versioned writes succeed.
        for value in 3...5 {
            try await owner.send { try await $0.set(Keys.count, value) }
        }
        #expect(try await owner.request { try await $0.get(Keys.count) }.value == 5)
    }

    @Test func unversionedStaleWriteWinsPerKey() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        let stale = try await harness.begin(cookie: token)
        try await harness.client(cookie: token).send { try await $0.set(Keys.count, 2) }
        try await stale.set(Keys.count, 3)
        _ = try await harness.engine.commit(stale)
        #expect(try await harness.record(for: token)?.data["count"] == Data("3".utf8))
    }
}
