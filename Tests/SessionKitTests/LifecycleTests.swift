import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Session lifecycle and store call counts")
struct LifecycleTests {
    // MARK: Nothing / read only

    @Test func untouchedSessionCostsNothing() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let response = try await client.send { _ in }
        #expect(harness.store.total == 0)
        #expect(response.fields.isEmpty)
        // Without a cookie either.
        let anonymous = try await harness.client().send { _ in }
        #expect(harness.store.total == 0)
        #expect(anonymous.fields.isEmpty)
    }

    @Test func readOnlyWithinTouchIntervalIsOneLoad() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 5)
        harness.clock.advance(by: .seconds(59))
        let (value, response) = try await client.request { try await $0.get(Keys.count) }
        #expect(value == 5)
        #expect(harness.store.calls == [.load: 1])
        #expect(response.fields == userSpecificFields, "a read sends no cookie, only the user-specific cache headers")
    }

    @Test func readOnlyAfterTouchIntervalIsLoadPlusTouch() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 5)
        let token = client.cookie
        // Exactly at the interval.
        harness.clock.advance(by: .seconds(60))
        let (value, response) = try await client.request { try await $0.get(Keys.count) }
        #expect(value == 5)
        #expect(harness.store.calls == [.load: 1, .touch: 1])
        #expect(response.fields == userSpecificFields, "a browser-session cookie needs no Set-Cookie on touch")
        #expect(response.setCookie == nil)
        #expect(client.cookie == token)
        let record = try #require(try await harness.record(for: token))
        #expect(record.lastSeenAt == harness.clock.now())
        #expect(record.idleExpiresAt == harness.clock.now().addingTimeInterval(1800))

        // The touch reset the interval: the next read within a minute is a single load.
        harness.store.reset()
        harness.clock.advance(by: .seconds(30))
        _ = try await client.request { try await $0.get(Keys.count) }
        #expect(harness.store.calls == [.load: 1])
    }

    // MARK: New sessions

    @Test func anonymousReadCostsNothingAndSetsNothing() async throws {
        let harness = try Harness()
        let client = harness.client()
        let (value, response) = try await client.request { session -> Int? in
            let value = try await session.get(Keys.count)
            #expect(try await session.isEmpty)
            #expect(try await session.userID == nil)
            #expect(try await session.createdAt == nil)
            #expect(try await session.storageID == nil)
            return value
        }
        #expect(value == nil)
        #expect(harness.store.total == 0)
        #expect(response.fields.isEmpty)
        #expect(client.cookie == nil)
        #expect(harness.memory.count == 0)
    }

    @Test func anonymousSetThenRemoveCreatesNothing() async throws {
        let harness = try Harness()
        let response = try await harness.client().send { session in
            try await session.set(Keys.count, 1)
            try await session.remove(Keys.count)
        }
        #expect(harness.store.total == 0)
        #expect(response.fields.isEmpty)
    }

    @Test func newSessionWithDataIsOneCreate() async throws {
        let harness = try Harness()
        let client = harness.client()
        let response = try await client.send { try await $0.set(Keys.name, "Ada") }
        #expect(harness.store.calls == [.create: 1])
        let cookie = try #require(response.setCookie)
        #expect(SessionToken(validating: cookie.value) != nil)
        #expect(!cookie.isPersistent)
        #expect(response.fields[.vary] == "Cookie")
        #expect(response.fields[.cacheControl] == "no-store")
        #expect(harness.memory.count == 1)
        let record = try #require(try await harness.record(for: cookie.value))
        #expect(record.data == ["name": Data("\"Ada\"".utf8)])
        #expect(record.createdAt == testEpoch)
        #expect(record.idleExpiresAt == testEpoch.addingTimeInterval(1800))
        #expect(record.absoluteExpiresAt == testEpoch.addingTimeInterval(43_200))
        #expect(record.userID == nil)
        // The next request reads it back.
        #expect(try await client.request { try await $0.get(Keys.name) }.value == "Ada")
    }

    @Test func userAgentIsRecordedAndCapped() async throws {
        let harness = try Harness()
        let client = harness.client()
        var headers = HTTPFields()
        headers[.userAgent] = String(repeating: "u", count: 1000)
        try await client.send(headers: headers) { try await $0.set(Keys.count, 1) }
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.userAgent == String(repeating: "u", count: 256))

        // The cap counts UTF-8 bytes: 300 two-byte scalars keep 128 of them, and one grapheme
        // cluster of 5,000 combining marks (a single `Character`) is cut to 256 bytes too.
        for (agent, expected) in [
            (String(repeating: "\u{E9}", count: 300), String(repeating: "\u{E9}", count: 128)),
            ("e" + String(repeating: "\u{301}", count: 5000), "e" + String(repeating: "\u{301}", count: 127)),
        ] {
            let wide = harness.client()
            headers[.userAgent] = agent
            try await wide.send(headers: headers) { try await $0.set(Keys.count, 1) }
            let stored = try #require(try await harness.record(for: wide.cookie)?.userAgent)
            #expect(stored == expected && stored.utf8.count <= 256, "\(stored.utf8.count) bytes")
        }
        headers[.userAgent] = String(repeating: "u", count: 1000)

        var configuration = SessionConfiguration()
        configuration.recordsUserAgent = false
        let quiet = try Harness(configuration: configuration)
        let other = quiet.client()
        try await other.send(headers: headers) { try await $0.set(Keys.count, 1) }
        #expect(try await quiet.record(for: other.cookie)?.userAgent == nil)
    }

    // MARK: Changes

    @Test func changedKeyIsLoadPlusPatchOfOnlyThatKey() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Keys.count, 1)
            try await session.set(Keys.name, "Ada")
            try await session.set(Keys.other, "keep")
        }
        harness.store.reset()
        let response = try await client.send { session in
            try await session.set(Keys.count, 2)
            try await session.remove(Keys.name)
        }
        #expect(harness.store.calls == [.load: 1, .update: 1])
        #expect(response.fields == userSpecificFields, "a browser-session cookie needs no Set-Cookie on update")
        let patch = try #require(harness.recorder.patches.last)
        #expect(patch.setValues == ["count": Data("2".utf8)])
        #expect(patch.removedKeys == ["name"])
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.data == ["count": Data("2".utf8), "other": Data("\"keep\"".utf8)])
    }

    /// Edits whose net effect is nothing write nothing.
    @Test(arguments: ["set the same values", "change and revert", "remove an absent key", "remove and restore"])
    func settingTheSameValueAgainWritesNothing(_ edit: String) async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Keys.count, 1)
            try await session.set(Keys.cart, ["a", "b"])
        }
        harness.store.reset()
        let response = try await client.send { session in
            switch edit {
            case "set the same values":
                try await session.set(Keys.count, 1)
                try await session.set(Keys.cart, ["a", "b"])
            case "change and revert":
                for value in [2, 3, 1] { try await session.set(Keys.count, value) }
            case "remove an absent key":
                try await session.remove(Keys.name)
            default:
                try await session.remove(Keys.count)
                try await session.set(Keys.count, 1)
            }
        }
        #expect(harness.store.calls == [.load: 1], "\(edit)")
        #expect(response.fields == userSpecificFields, "a read sends no cookie, only the user-specific cache headers")
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    // MARK: Regenerate

    @Test func regenerateIssuesANewTokenKeepsDataAndKillsTheOldOne() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 9)
        let oldToken = try #require(client.cookie)
        harness.clock.advance(by: .seconds(5))
        let response = try await client.send { try await $0.regenerate() }
        #expect(harness.store.calls == [.load: 1, .rotate: 1])
        let newCookie = try #require(response.setCookie)
        #expect(newCookie.value != oldToken)
        #expect(SessionToken(validating: newCookie.value) != nil)
        #expect(!newCookie.isPersistent)
        #expect(response.fields[.vary] == "Cookie")
        #expect(response.fields[.cacheControl] == "no-store")
        #expect(harness.memory.count == 1)
        #expect(try await harness.record(for: oldToken) == nil)
        let record = try #require(try await harness.record(for: newCookie.value))
        #expect(record.data["count"] == Data("9".utf8))
        #expect(record.createdAt == testEpoch, "plain regenerate keeps the creation time")

        // The new cookie works.
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 9)
        // The old one is anonymous.
        harness.store.reset()
        let replay = harness.client(cookie: oldToken)
        let (value, replayResponse) = try await replay.request { try await $0.get(Keys.count) }
        #expect(value == nil)
        #expect(replayResponse.fields.isEmpty)
        #expect(harness.store.calls == [.load: 1])
    }

    // MARK: Destroy

    @Test func destroyIsOneDeleteAndADeletingCookie() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        let token = try #require(client.cookie)
        let response = try await client.send { try $0.destroy() }
        #expect(harness.store.calls == [.delete: 1])
        #expect(harness.memory.count == 0)
        let cookie = try #require(response.setCookie)
        #expect(cookie.name == "__Host-id")
        #expect(cookie.value == "")
        #expect(cookie.attributes["max-age"] == "0")
        #expect(cookie.attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(cookie.attributes["path"] == "/")
        #expect(cookie.attributes["secure"] == "")
        #expect(cookie.attributes["httponly"] == "")
        #expect(cookie.attributes["samesite"] == "Lax")
        #expect(cookie.isDeletion)
        #expect(response.fields[.vary] == "Cookie")
        #expect(response.fields[.cacheControl] == "no-store")
        #expect(response.fields[HTTPField.Name("Clear-Site-Data")!] == nil)
        #expect(client.cookie == nil)

        // Replaying the old cookie is anonymous.
        harness.store.reset()
        let replay = harness.client(cookie: token)
        let (value, replayResponse) = try await replay.request { try await $0.get(Keys.count) }
        #expect(value == nil)
        #expect(replayResponse.fields.isEmpty)
        #expect(harness.store.calls == [.load: 1])
    }

    @Test func destroyWithClearSiteData() async throws {
        var configuration = SessionConfiguration()
        configuration.clearSiteDataOnDestroy = true
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession()
        let response = try await client.send { try $0.destroy() }
        #expect(response.fields[HTTPField.Name("Clear-Site-Data")!] == "\"cookies\"")
    }

    @Test func destroyWithoutACookieCostsNothing() async throws {
        let harness = try Harness()
        let response = try await harness.client().send { try $0.destroy() }
        #expect(harness.store.total == 0)
        #expect(response.fields.isEmpty)
    }

    @Test func destroyWithAMalformedCookieClearsItWithoutAStoreCall() async throws {
        let harness = try Harness()
        let response = try await harness.client(cookie: "junk").send { try $0.destroy() }
        #expect(harness.store.total == 0)
        #expect(try #require(response.setCookie).isDeletion)
    }

    @Test func destroyThenWriteInTheSameRequestStillDestroys() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let response = try await client.send { session in
            try session.destroy()
            try await session.set(Keys.count, 42)
        }
        #expect(harness.memory.count == 0)
        #expect(try #require(response.setCookie).isDeletion)
    }

    // MARK: Strict mode

    @Test func unknownWellFormedTokenIsNeverAdopted() async throws {
        let harness = try Harness()
        let unknown = SessionToken.generate()
        let client = harness.client(cookie: unknown.text)
        let (value, readResponse) = try await client.request { try await $0.get(Keys.count) }
        #expect(value == nil)
        #expect(readResponse.fields.isEmpty)
        #expect(harness.store.calls == [.load: 1])
        harness.store.reset()

        let response = try await client.send { try await $0.set(Keys.count, 1) }
        let issued = try #require(response.setCookie)
        #expect(issued.value != unknown.text)
        #expect(harness.store.calls == [.load: 1, .create: 1])
        #expect(try await harness.memory.load(unknown.storageID) == nil)
        #expect(harness.memory.count == 1)
        #expect(try await harness.record(for: issued.value)?.data["count"] == Data("1".utf8))
    }

    @Test func unknownTokenIsNotAdoptedOnRegenerateOrSignIn() async throws {
        let harness = try Harness()
        for action in ["regenerate", "signIn"] {
            let unknown = SessionToken.generate()
            let client = harness.client(cookie: unknown.text)
            let response = try await client.send { session in
                try await session.set(Keys.count, 1)
                if action == "regenerate" { try await session.regenerate() } else { try await session.signIn(userID: "u") }
            }
            #expect(try #require(response.setCookie).value != unknown.text)
            #expect(try await harness.memory.load(unknown.storageID) == nil)
        }
    }

    @Test func thousandRandomCookiesThatOnlyReadLeaveTheStoreEmpty() async throws {
        let harness = try Harness()
        var generator = SplitMix64(seed: 7)
        for index in 0..<1000 {
            let cookie: String
            if index % 2 == 0 {
                cookie = SessionToken.generate().text
            } else {
                let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
                cookie = String((0..<43).map { _ in alphabet.randomElement(using: &generator)! })
            }
            let response = try await harness.client(cookie: cookie).send { session in
                _ = try await session.get(Keys.count)
                _ = try await session.userID
                _ = try await session.verifyCSRFToken("x")
                _ = try await session.consumeFlashes()
            }
            #expect(response.fields.isEmpty)
        }
        #expect(harness.memory.count == 0)
        #expect(harness.store.calls[.create] == nil)
        #expect(harness.store.calls[.update] == nil)
        #expect(harness.store.calls[.rotate] == nil)
        #expect(harness.store.calls[.touch] == nil)
        #expect((harness.store.calls[.load] ?? 0) <= 1000)
        #expect((harness.store.calls[.load] ?? 0) >= 500)
    }

    // MARK: Handles

    @Test func handleIsDeadAfterCommit() async throws {
        let harness = try Harness()
        let handle = harness.engine.begin(HTTPFields())
        try await handle.set(Keys.count, 1)
        let fields = try await harness.engine.commit(handle)
        #expect(fields[.setCookie] != nil)
        await #expect(throws: SessionError.notActive) { try await handle.set(Keys.count, 2) }
        await #expect(throws: SessionError.notActive) { _ = try await handle.get(Keys.count) }
        #expect(throws: SessionError.notActive) { try handle.destroy() }
        // A second commit does nothing.
        harness.store.reset()
        #expect(try await harness.engine.commit(handle).isEmpty)
        #expect(harness.store.total == 0)
    }

    @Test func inactiveHandleThrowsNotActive() async throws {
        let handle = SessionHandle.inactive
        await #expect(throws: SessionError.notActive) { _ = try await handle.get(Keys.count) }
        await #expect(throws: SessionError.notActive) { try await handle.set(Keys.count, 1) }
        #expect(throws: SessionError.notActive) { try handle.destroy() }
        await #expect(throws: SessionError.notActive) { _ = try await handle.signOutOtherSessions() }
        await #expect(throws: SessionError.notActive) { _ = try await handle.csrfToken() }
        // "every call throws notActive" (SessionHandle.inactive's contract) includes the
        // per-user index: an unattached handle must not report "no sessions".
        await #expect(throws: SessionError.notActive) { _ = try await handle.sessionsOfUser() }
        await #expect(throws: SessionError.notActive) { _ = try await handle.signOutSession(SessionToken.generate().storageID) }
        #expect(SessionError.notActive.status == .internalServerError)
    }

    @Test func loadHappensOncePerRequest() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 4)
        try await client.send { session in
            for _ in 0..<10 { _ = try await session.get(Keys.count) }
            _ = try await session.userID
            _ = try await session.isEmpty
        }
        #expect(harness.store.calls == [.load: 1])
    }
}
