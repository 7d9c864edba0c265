import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Concurrent requests: no resurrection, merges and versioned writes")
struct ConcurrentWriteTests {
    /// Starts a request with `token` and loads the session, as a slow handler would.
    func beginLoaded(_ harness: Harness, token: String) async throws -> SessionHandle {
        let handle = harness.engine.begin(sessionCookie(token))
        _ = try await handle.get(Keys.count)
        return handle
    }

    @Test func writeAfterAConcurrentDestroyDoesNotRecreateTheSession() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)

        let slow = try await beginLoaded(harness, token: token)
        #expect(try await slow.get(Keys.count) == 1)

        // Meanwhile another request (sign-out in another tab) destroys the session.
        try await harness.client(cookie: token).send { try $0.destroy() }
        #expect(harness.memory.count == 0)

        try await slow.set(Keys.count, 2)
        try await slow.set(Keys.name, "late")
        let fields = try await harness.engine.commit(slow)
        #expect(harness.memory.count == 0, "the late write re-created a destroyed session")
        #expect(try await harness.record(for: token) == nil)
        let cookie = try #require(setCookies(fields).first)
        #expect(cookie.isDeletion)
        #expect(cookie.value == "")
    }

    @Test func touchAfterAConcurrentDestroyDoesNotRecreateTheSession() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        harness.clock.advance(by: .seconds(120))
        let slow = try await beginLoaded(harness, token: token)
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

        let slow = try await beginLoaded(harness, token: stolen)
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

        let slow = try await beginLoaded(harness, token: token)
        try await harness.client(cookie: token).send { try $0.destroy() }
        #expect(harness.memory.count == 0)

        try await slow.regenerate()
        let fields = try? await harness.engine.commit(slow)
        #expect(harness.memory.count == 0, "regenerate re-created a destroyed session under a new token")
        #expect(try await harness.memory.sessions(forUser: "alice").isEmpty)
        if let fields {
            let allDeleting = setCookies(fields).allSatisfy { $0.isDeletion }
            #expect(allDeleting, "a live cookie was issued for a destroyed session")
        }
    }

    @Test func concurrentWritesToDifferentKeysBothSurvive() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        let first = try await beginLoaded(harness, token: token)
        let second = try await beginLoaded(harness, token: token)
        try await first.set(Keys.name, "from first")
        try await second.set(Keys.other, "from second")
        #expect(try await harness.engine.commit(second) == userSpecificFields)
        #expect(try await harness.engine.commit(first) == userSpecificFields)
        let record = try #require(try await harness.record(for: token))
        #expect(record.data["name"] == Data("\"from first\"".utf8))
        #expect(record.data["other"] == Data("\"from second\"".utf8))
        #expect(record.data["count"] == Data("1".utf8))
    }

    @Test func trulyConcurrentRequestsAllLand() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await harness.client(cookie: token).send { try await $0.set(SessionKey<Int>("k\(index)"), index) }
                }
            }
            try await group.waitForAll()
        }
        let record = try #require(try await harness.record(for: token))
        #expect(record.data.count == 51)
        for index in 0..<50 {
            #expect(record.data["k\(index)"] == Data(String(index).utf8))
        }
    }

    // MARK: Versioned writes

    @Test func versionedStaleWriteIsAConflict() async throws {
        var configuration = SessionConfiguration()
        configuration.versionedWrites = true
        let harness = try Harness(configuration: configuration)
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)

        let stale = try await beginLoaded(harness, token: token)
        try await harness.client(cookie: token).send { try await $0.set(Keys.count, 2) }
        try await stale.set(Keys.name, "stale")
        let error = await sessionError { _ = try await harness.engine.commit(stale) }
        #expect(error == .conflict)
        #expect(error?.status == .conflict)
        #expect(error?.responseFields(retryAfterSeconds: 5)[.retryAfter] == nil)
        let record = try #require(try await harness.record(for: token))
        #expect(record.data["count"] == Data("2".utf8))
        #expect(record.data["name"] == nil)
    }

    @Test func versionedSequentialWritesSucceed() async throws {
        var configuration = SessionConfiguration()
        configuration.versionedWrites = true
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession(count: 1)
        for value in 2...5 {
            try await client.send { try await $0.set(Keys.count, value) }
        }
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 5)
    }

    @Test func unversionedStaleWriteWinsPerKey() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 1)
        let token = try #require(owner.cookie)
        let stale = try await beginLoaded(harness, token: token)
        try await harness.client(cookie: token).send { try await $0.set(Keys.count, 2) }
        try await stale.set(Keys.count, 3)
        _ = try await harness.engine.commit(stale)
        #expect(try await harness.record(for: token)?.data["count"] == Data("3".utf8))
    }
}
