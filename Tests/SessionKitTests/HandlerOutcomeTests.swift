import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

/// The engine's one outcome policy (`SessionEngine.finish(_:after:)`), without HTTP: what a
/// handler's own error commits. The adapters' over-the-wire versions are in the parity suite.
@Suite("Handler outcome policy")
struct HandlerOutcomeTests {
    /// Runs `handler` on a handle for `cookie` and finishes it with `outcome`.
    static func finish(_ harness: Harness, cookie: String?, _ outcome: HandlerOutcome, _ handler: (SessionHandle) async throws -> Void) async throws
        -> HTTPFields
    {
        let handle = try await harness.begin(cookie: cookie, load: false)
        try await handler(handle)
        return try await harness.engine.finish(handle, after: outcome)
    }

    @Test("after an HTTP error a regenerate is dropped and the token stays; the value change is kept")
    func httpErrorDropsRegenerate() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        let fields = try await Self.finish(harness, cookie: client.cookie, .threwHTTPError) { session in
            try await session.regenerate()
            try await session.set(Keys.count, 2)
        }
        #expect(fields[.setCookie] == nil, "a new token was issued for a request that failed")
        #expect(harness.store.calls == [.load: 1, .update: 1])
        #expect(try await harness.record(for: client.cookie)?.data[Keys.count.name] == Data("2".utf8))
    }

    @Test("after an HTTP error a sign-in keeps the CSRF token and remember-me flag the record had")
    func httpErrorRestoresReservedKeys() async throws {
        let harness = try Harness()
        let client = harness.client()
        let token = try await client.request { try await $0.csrfToken() }.value
        harness.store.reset()
        let fields = try await Self.finish(harness, cookie: client.cookie, .threwHTTPError) { session in
            try await session.signIn(userID: "ada", rememberMe: true)
        }
        #expect(fields[.setCookie] == nil)
        #expect(harness.store.calls == [.load: 1], "an undone sign-in still wrote: \(harness.store.calls)")
        let after = try await client.request { session in (try await session.userID, try await session.csrfToken()) }.value
        #expect(after.0 == nil && after.1 == token)
    }

    /// Signing in as another user drops the previous user's values (Django's `login()` flush);
    /// the same user keeps them; an HTTP error after such a sign-in puts them back.
    @Test func signInAsAnotherUserDropsTheValues() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Keys.cart, ["ada's book"])
            try await session.signIn(userID: "ada")
        }
        try await client.send { try await $0.signIn(userID: "ada") }
        #expect(try await client.request { try await $0.get(Keys.cart) }.value == ["ada's book"], "a repeated sign-in lost the values")

        let fields = try await Self.finish(harness, cookie: client.cookie, .threwHTTPError) { session in
            try await session.signIn(userID: "bob")
            #expect(try await session.get(Keys.cart) == nil, "bob sees ada's cart during his sign-in")
            try await session.set(Keys.cart, ["bob's book"])
            try await session.set(Keys.name, "bob passed MFA")
        }
        #expect(fields[.setCookie] == nil)
        let undone = try await client.request { session in
            (try await session.userID, try await session.get(Keys.cart), try await session.get(Keys.name))
        }.value
        #expect(undone.0 == "ada" && undone.1 == ["ada's book"] && undone.2 == nil, "an undone sign-in changed ada's session: \(undone)")

        // Signing in as bob and back as ada in one request leaves ada with her own values.
        try await client.send { session in
            try await session.signIn(userID: "bob")
            try await session.set(Keys.name, "bob's")
            try await session.signIn(userID: "ada")
        }
        let back = try await client.request { session in (try await session.get(Keys.cart), try await session.get(Keys.name)) }.value
        #expect(back.0 == ["ada's book"] && back.1 == nil, "ada came back to \(back)")

        try await client.send { try await $0.signIn(userID: "bob") }
        let bob = try await client.request { session in (try await session.userID, try await session.get(Keys.cart)) }.value
        #expect(bob.0 == "bob" && bob.1 == nil, "bob sees ada's data: \(bob)")
    }

    @Test("after an HTTP error a destroy still ends the session")
    func httpErrorKeepsDestroy() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let fields = try await Self.finish(harness, cookie: client.cookie, .threwHTTPError) { try $0.destroy() }
        #expect(fields[.setCookie]?.contains("Max-Age=0") == true)
        #expect(try await harness.record(for: client.cookie) == nil)
    }

    @Test("after any other error nothing is written and the handle is finished")
    func plainErrorDiscards() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        let token = try #require(client.cookie)
        let handle = try await harness.begin(cookie: token, load: false)
        try await handle.set(Keys.count, 99)
        #expect(try await harness.engine.finish(handle, after: .threw).isEmpty)
        #expect(harness.store.calls == [.load: 1])
        await #expect(throws: SessionError.notActive) { try await handle.get(Keys.count) }
        #expect(try await harness.record(for: client.cookie)?.data[Keys.count.name] == Data("1".utf8))
    }
}
