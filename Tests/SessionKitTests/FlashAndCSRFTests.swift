import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Flash messages and CSRF tokens")
struct FlashAndCSRFTests {
    // MARK: Flash

    @Test func flashSurvivesExactlyOneLaterRead() async throws {
        let harness = try Harness()
        let client = harness.client()
        let created = try await client.send { try await $0.flash(FlashMessage("Signed out", kind: "success")) }
        #expect(created.setCookie != nil, "flashing on an anonymous request starts a session")

        // Requests that do not read flashes leave them alone.
        _ = try await client.request { try await $0.get(Keys.count) }

        let first = try await client.request { try await $0.consumeFlashes() }.value
        #expect(first == [FlashMessage("Signed out", kind: "success")])
        let second = try await client.request { try await $0.consumeFlashes() }.value
        #expect(second == [])
    }

    @Test func severalFlashesKeepTheirOrder() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { session in
            try await session.flash(FlashMessage("one"))
            try await session.flash(FlashMessage("two", kind: "error"))
        }
        try await client.send { try await $0.flash(FlashMessage("three")) }
        let messages = try await client.request { try await $0.consumeFlashes() }.value
        #expect(messages.map(\.text) == ["one", "two", "three"])
        #expect(messages.map(\.kind) == ["info", "error", "info"])
        #expect(try await client.request { try await $0.consumeFlashes() }.value.isEmpty)
    }

    @Test func consumingNothingWritesNothing() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let messages = try await client.request { try await $0.consumeFlashes() }.value
        #expect(messages.isEmpty)
        #expect(harness.store.calls == [.load: 1])
        // Anonymous: no session, no store call.
        harness.store.reset()
        let anonymous = try await harness.client().request { try await $0.consumeFlashes() }
        #expect(anonymous.value.isEmpty)
        #expect(anonymous.response.fields.isEmpty)
        #expect(harness.store.total == 0)
    }

    @Test func consumingIsOneLoadPlusOnePatch() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        try await client.send { try await $0.flash(FlashMessage("x")) }
        harness.store.reset()
        _ = try await client.request { try await $0.consumeFlashes() }
        #expect(harness.store.calls == [.load: 1, .update: 1])
        #expect(try await harness.record(for: client.cookie)?.data["_sk.flash"] == nil)
    }

    @Test func flashAddedAndConsumedInTheSameRequestIsGone() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let messages = try await client.request { session in
            try await session.flash(FlashMessage("now"))
            return try await session.consumeFlashes()
        }.value
        #expect(messages == [FlashMessage("now")])
        #expect(try await client.request { try await $0.consumeFlashes() }.value.isEmpty)
    }

    @Test func flashSurvivesRegenerate() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        try await client.send { session in
            try await session.flash(FlashMessage("Welcome"))
            try await session.signIn(userID: "alice")
        }
        #expect(try await client.request { try await $0.consumeFlashes() }.value == [FlashMessage("Welcome")])
    }

    // MARK: CSRF

    @Test func csrfTokenIsStableWithinASession() async throws {
        let harness = try Harness()
        let client = harness.client()
        let (first, response) = try await client.request { try await $0.csrfToken() }
        #expect(response.setCookie != nil, "asking for a CSRF token starts a session")
        #expect(first.utf8.count == 43)
        #expect(first != client.cookie, "the CSRF token must not be the session token")
        let again = try await client.request { session in
            let one = try await session.csrfToken()
            let two = try await session.csrfToken()
            #expect(one == two)
            return one
        }.value
        #expect(again == first)
        // Reading an existing token is a single load.
        harness.store.reset()
        _ = try await client.request { try await $0.csrfToken() }
        #expect(harness.store.calls == [.load: 1])
    }

    @Test func verifyAcceptsOnlyTheSessionsToken() async throws {
        let harness = try Harness()
        let client = harness.client()
        let token = try await client.request { try await $0.csrfToken() }.value
        let otherClient = harness.client()
        let otherToken = try await otherClient.request { try await $0.csrfToken() }.value
        #expect(token != otherToken)

        let results = try await client.request { session -> [Bool] in
            [
                try await session.verifyCSRFToken(token),
                try await session.verifyCSRFToken(nil),
                try await session.verifyCSRFToken(""),
                try await session.verifyCSRFToken(otherToken),
                try await session.verifyCSRFToken(SessionToken.generate().text),
                try await session.verifyCSRFToken(String(token.dropLast())),
                try await session.verifyCSRFToken(token + "A"),
                try await session.verifyCSRFToken(token.uppercased() == token ? token.lowercased() : token.uppercased()),
                try await session.verifyCSRFToken(" " + token),
            ]
        }.value
        #expect(results == [true, false, false, false, false, false, false, false, false])
        // And the other session accepts its own only.
        #expect(try await otherClient.request { try await $0.verifyCSRFToken(otherToken) }.value)
        #expect(try await otherClient.request { try await $0.verifyCSRFToken(token) }.value == false)
    }

    @Test func verifyWithoutASessionIsFalseAndFree() async throws {
        let harness = try Harness()
        let (valid, response) = try await harness.client().request { try await $0.verifyCSRFToken("anything") }
        #expect(!valid)
        #expect(response.fields.isEmpty)
        #expect(harness.store.total == 0)
        // A session with data but no CSRF token yet rejects everything too.
        let client = try await harness.clientWithSession()
        #expect(try await client.request { try await $0.verifyCSRFToken("") }.value == false)
        #expect(try await client.request { try await $0.verifyCSRFToken(SessionToken.generate().text) }.value == false)
    }

    @Test(arguments: ["signIn", "regenerate"])
    func csrfTokenDiesOnSignInAndRegenerate(_ rotation: String) async throws {
        let harness = try Harness()
        let client = harness.client()
        let before = try await client.request { try await $0.csrfToken() }.value
        try await client.send { session in
            if rotation == "signIn" { try await session.signIn(userID: "alice") } else { try await session.regenerate() }
        }
        let (stillValid, after) = try await client.request { session in
            (try await session.verifyCSRFToken(before), try await session.csrfToken())
        }.value
        #expect(!stillValid, "\(rotation)")
        #expect(after != before)
        #expect(try await client.request { try await $0.verifyCSRFToken(after) }.value)
    }

    @Test func csrfTokenRequestedInTheSameRequestAsSignInIsTheNewOne() async throws {
        let harness = try Harness()
        let client = harness.client()
        let before = try await client.request { try await $0.csrfToken() }.value
        let fresh = try await client.request { session in
            try await session.signIn(userID: "alice")
            return try await session.csrfToken()
        }.value
        #expect(fresh != before)
        #expect(try await client.request { try await $0.verifyCSRFToken(fresh) }.value)
    }
}
