import HTTPTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SessionKit
import SessionKitHummingbird
import SessionKitTesting
import Synchronization
import Testing

/// An app whose store can be made to fail, to check that store trouble becomes 503 (never a
/// silent sign-out or a pretend success), that caps answer 403 and conflicts 409.
struct FailureApp {
    static let cookieName = "__Host-id"
    static let counter = SharedTestRoutes.counter

    let clock: TestClock
    let faults: FaultInjectingSessionStore
    let store: CountingSessionStore
    let engine: SessionEngine

    init(configuration: SessionConfiguration = SessionConfiguration()) throws {
        clock = TestClock()
        faults = FaultInjectingSessionStore(MemorySessionStore(clock: clock))
        store = CountingSessionStore(faults)
        engine = try SessionEngine(store: store, configuration: configuration, clock: clock)
    }

    func jar(_ value: String? = nil) -> CookieJar { CookieJar(name: Self.cookieName, value: value) }

    /// Runs `test` against the app; `extraRoutes` adds test-specific routes.
    func run(
        extraRoutes: (Router<BasicSessionKitRequestContext>) -> Void = { _ in },
        _ test: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let router = Router(context: BasicSessionKitRequestContext.self)
        SharedTestRoutes.add(to: router, engine: engine)
        let faults = self.faults
        router.get("/write-then-outage") { _, context in
            // Loads fine, then the store goes down before the commit writes.
            let value = (try await context.session.get(Self.counter) ?? 0) + 1
            faults.fault = .unavailable
            try await context.session.set(Self.counter, value)
            return String(value)
        }
        router.get("/login-then-outage") { _, context in
            _ = try await context.session.userID
            faults.fault = .unavailable
            try await context.session.signIn(userID: "alice")
            return "signed in"
        }
        extraRoutes(router)
        try await Application(router: router).test(.router, test)
    }
}

/// Checks the fields every 503 from a store failure carries, and that it does not touch the cookie.
func expectServiceUnavailable(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == .serviceUnavailable, sourceLocation: sourceLocation)
    #expect(response.headers[.retryAfter] == "5", sourceLocation: sourceLocation)
    #expect(response.headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
    #expect(!response.hasSetCookie, "a store outage must not set or delete the session cookie", sourceLocation: sourceLocation)
}

@Suite("Failure policy over the wire")
struct FailurePolicyTests {
    // MARK: Store outages

    @Test("an outage answers 503 with Retry-After for a route that reads the session")
    func outageOnRead() async throws {
        let app = try FailureApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            app.faults.fault = .unavailable

            let response = try await client.send("/read", jar: &jar)
            expectServiceUnavailable(response)
            #expect(!response.text.contains(jar.value!), "the error body must not echo the token")
        }
    }

    @Test("an outage does not affect a route that never touches the session")
    func outageOnPlainRoute() async throws {
        let app = try FailureApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            app.faults.fault = .unavailable
            app.store.reset()

            let response = try await client.send("/plain", jar: &jar)
            #expect(response.status == .ok)
            #expect(response.text == "plain")
            #expect(app.store.calls == [:])
            #expect(!response.hasSetCookie)
        }
    }

    @Test("an anonymous read needs no store, so it still answers 200 during an outage")
    func outageOnAnonymousRead() async throws {
        let app = try FailureApp()
        try await app.run { client in
            app.faults.fault = .unavailable
            let response = try await client.execute(uri: "/read", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "none")
        }
    }

    @Test("a failed create answers 503, not 200 with a cookie for a session that was never saved")
    func outageOnCreate() async throws {
        let app = try FailureApp()
        try await app.run { client in
            app.faults.fault = .unavailable
            let response = try await client.execute(uri: "/counter", method: .get)
            expectServiceUnavailable(response)
            #expect(app.store.calls == [.create: 1])
        }
    }

    @Test("a failed patch after a good load answers 503 and the old value stays")
    func outageOnPatch() async throws {
        let app = try FailureApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let cookie = jar.value
            app.store.reset()

            let response = try await client.send("/write-then-outage", jar: &jar)
            expectServiceUnavailable(response)
            #expect(app.store.calls == [.load: 1, .update: 1])

            app.faults.fault = .none
            #expect(jar.value == cookie)
            #expect(try await client.send("/read", jar: &jar).text == "1")
        }
    }

    @Test("a failed sign-in answers 503 and keeps the old session")
    func outageOnSignIn() async throws {
        let app = try FailureApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let cookie = jar.value

            app.store.reset()
            let response = try await client.send("/login-then-outage", jar: &jar)
            expectServiceUnavailable(response)
            #expect(app.store.calls == [.load: 1, .rotate: 1])

            app.faults.fault = .none
            #expect(jar.value == cookie)
            #expect(try await client.send("/whoami", jar: &jar).text == "anonymous")
            #expect(try await client.send("/read", jar: &jar).text == "1")
        }
    }

    @Test("a failed logout answers 503 and does not pretend the session ended")
    func outageOnLogout() async throws {
        let app = try FailureApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=alice", jar: &jar)
            let cookie = jar.value
            app.faults.fault = .unavailable

            let response = try await client.send("/logout", jar: &jar)
            expectServiceUnavailable(response)

            app.faults.fault = .none
            #expect(jar.value == cookie)
            #expect(try await client.send("/whoami", jar: &jar).text == "alice")
        }
    }

    @Test("an outage signs nobody out: after recovery the same cookie is still signed in")
    func noSilentSignOut() async throws {
        let app = try FailureApp()
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=alice", jar: &jar)
            _ = try await client.send("/counter", jar: &jar)
            let cookie = try #require(jar.value)

            app.faults.fault = .unavailable
            expectServiceUnavailable(try await client.send("/whoami", jar: &jar))
            expectServiceUnavailable(try await client.send("/counter", jar: &jar))
            expectServiceUnavailable(try await client.send("/read", jar: &jar))
            #expect(jar.value == cookie)

            app.faults.fault = .none
            let whoami = try await client.send("/whoami", jar: &jar)
            #expect(whoami.status == .ok)
            #expect(whoami.text == "alice")
            #expect(try await client.send("/read", jar: &jar).text == "1")
            #expect(jar.value == cookie)
        }
    }

    @Test("treatAsAnonymous: reads continue as anonymous, writes still answer 503, nobody is signed out")
    func treatAsAnonymousPolicy() async throws {
        var configuration = SessionConfiguration()
        configuration.loadFailurePolicy = .treatAsAnonymous
        let app = try FailureApp(configuration: configuration)
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=alice", jar: &jar)
            let cookie = jar.value

            app.faults.fault = .unavailable
            let whoami = try await client.send("/whoami", jar: &jar)
            #expect(whoami.status == .ok)
            #expect(whoami.text == "anonymous")
            #expect(!whoami.hasSetCookie)
            expectServiceUnavailable(try await client.send("/counter", jar: &jar))
            expectServiceUnavailable(try await client.send("/login?user=mallory", jar: &jar))

            app.faults.fault = .none
            #expect(jar.value == cookie)
            #expect(try await client.send("/whoami", jar: &jar).text == "alice")
            #expect(try await client.send("/read", jar: &jar).text == "none")
        }
    }

    @Test("a hanging store answers 503 at the store timeout instead of hanging the request")
    func hangingStoreTimesOut() async throws {
        var configuration = SessionConfiguration()
        configuration.storeTimeout = .milliseconds(100)
        let app = try FailureApp(configuration: configuration)
        try await app.run { client in
            var jar = app.jar()
            _ = try await client.send("/login?user=alice", jar: &jar)
            app.faults.fault = .hang

            expectServiceUnavailable(try await client.send("/whoami", jar: &jar))

            app.faults.fault = .none
            #expect(try await client.send("/whoami", jar: &jar).text == "alice")
        }
    }

    // MARK: Session cap

    @Test("a sign-in beyond the cap with policy .refuse answers 403 and keeps the other sessions")
    func sessionCapRefuses() async throws {
        var configuration = SessionConfiguration()
        configuration.concurrentSessionLimit = .init(maxSessions: 1, policy: .refuse)
        let app = try FailureApp(configuration: configuration)
        try await app.run { client in
            var laptop = app.jar()
            let first = try await client.send("/login?user=alice", jar: &laptop)
            #expect(first.status == .ok)

            var phone = app.jar()
            _ = try await client.send("/counter", jar: &phone)
            let phoneCookie = phone.value
            let refused = try await client.send("/login?user=alice", jar: &phone)
            #expect(refused.status == .forbidden)
            #expect(!refused.hasSetCookie)
            #expect(refused.headers[.cacheControl] == "no-store")
            #expect(phone.value == phoneCookie)
            #expect(try await client.send("/whoami", jar: &phone).text == "anonymous")
            #expect(try await client.send("/read", jar: &phone).text == "1")

            // The first device is unaffected, and another user may still sign in.
            #expect(try await client.send("/whoami", jar: &laptop).text == "alice")
            var other = app.jar()
            #expect(try await client.send("/login?user=bob", jar: &other).status == .ok)

            // Signing the laptop in again (same user) is not a new session and is allowed.
            #expect(try await client.send("/login?user=alice", jar: &laptop).status == .ok)
            #expect(try await client.send("/whoami", jar: &laptop).text == "alice")
        }
    }

    @Test("a sign-in beyond the cap with policy .evictOldest ends the oldest session")
    func sessionCapEvicts() async throws {
        var configuration = SessionConfiguration()
        configuration.concurrentSessionLimit = .init(maxSessions: 1, policy: .evictOldest)
        let app = try FailureApp(configuration: configuration)
        try await app.run { client in
            var laptop = app.jar()
            _ = try await client.send("/login?user=alice", jar: &laptop)
            app.clock.advance(by: .seconds(1))
            var phone = app.jar()
            #expect(try await client.send("/login?user=alice", jar: &phone).status == .ok)

            #expect(try await client.send("/whoami", jar: &phone).text == "alice")
            #expect(try await client.send("/whoami", jar: &laptop).text == "anonymous")
        }
    }

    // MARK: Concurrent writes

    /// Two requests on one session where the second's load happens before the first's commit:
    /// `/slow-write` loads, reports it, waits to be released, then writes.
    private func interleavedWrites(versioned: Bool) async throws -> (slow: TestResponse, fast: TestResponse, final: String) {
        var configuration = SessionConfiguration()
        configuration.versionedWrites = versioned
        let app = try FailureApp(configuration: configuration)
        let (loaded, loadedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        let box = ResultBox()
        try await app.run(extraRoutes: { router in
            router.get("/slow-write") { _, context in
                let value = (try await context.session.get(FailureApp.counter) ?? 0) + 100
                loadedContinuation.yield()
                var waiter = release.makeAsyncIterator()
                _ = await waiter.next()
                try await context.session.set(FailureApp.counter, value)
                return String(value)
            }
        }) { client in
            var jar = app.jar()
            _ = try await client.send("/counter", jar: &jar)
            let headers = jar.headers()

            async let slowResponse = client.execute(uri: "/slow-write", method: .get, headers: headers)
            var loadedIterator = loaded.makeAsyncIterator()
            _ = await loadedIterator.next()

            let fast = try await client.send("/counter", jar: &jar)
            releaseContinuation.yield()
            let slow = try await slowResponse
            let final = try await client.send("/read", jar: &jar).text
            box.set(slow: slow, fast: fast, final: final)
        }
        return try box.get()
    }

    @Test("versioned writes: a patch based on a stale read answers 409 and the fresher write survives")
    func versionedConflict() async throws {
        let (slow, fast, final) = try await interleavedWrites(versioned: true)
        #expect(fast.status == .ok)
        #expect(fast.text == "2")
        #expect(slow.status == .conflict)
        #expect(slow.headers[.cacheControl] == "no-store")
        #expect(slow.headers[.retryAfter] == nil)
        #expect(!slow.hasSetCookie)
        #expect(final == "2")
    }

    @Test("unversioned writes: the last writer wins per key (no 409)")
    func unversionedLastWriterWins() async throws {
        let (slow, fast, final) = try await interleavedWrites(versioned: false)
        #expect(fast.status == .ok)
        #expect(slow.status == .ok)
        #expect(slow.text == "101")
        #expect(final == "101")
    }
}

/// Carries results out of a `@Sendable` test closure.
final class ResultBox: Sendable {
    private let storage = Mutex<(slow: TestResponse, fast: TestResponse, final: String)?>(nil)

    func set(slow: TestResponse, fast: TestResponse, final: String) {
        storage.withLock { $0 = (slow, fast, final) }
    }

    func get() throws -> (slow: TestResponse, fast: TestResponse, final: String) {
        try #require(storage.withLock { $0 })
    }
}
