import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

/// One behaviour, written once and run against a real server of each framework. The
/// parameterized tests in ``AdapterParityTests`` run each case per framework; the
/// cross-framework comparison runs all of them on both and compares what the client saw.
struct ParityCase: Sendable, CustomStringConvertible {
    let name: String
    var configuration = SessionConfiguration()
    let body: @Sendable (ParityHarness) async throws -> Void

    var description: String { name }

    func run(on framework: Framework) async throws -> [Observation] {
        var observations: [Observation] = []
        try await ParityHarness.run(framework, configuration: configuration) { harness in
            try await body(harness)
            observations = harness.log
        }
        return observations
    }
}

typealias Calls = [CountingSessionStore.Method: Int]

// MARK: Assertions

/// Checks a response that issues a session cookie: exactly one `Set-Cookie` (a well-formed
/// token with the production attributes), one `Vary: Cookie`, one `Cache-Control: no-store`.
@discardableResult
func expectIssuedCookie(
    _ reply: Reply,
    persistent: Bool = false,
    _ framework: Framework,
    sourceLocation: SourceLocation = #_sourceLocation
) -> SetCookie? {
    #expect(reply.values("Set-Cookie").count == 1, "\(framework): Set-Cookie fields \(reply.values("Set-Cookie"))", sourceLocation: sourceLocation)
    #expect(reply.values("Vary") == ["Cookie"], "\(framework): Vary fields", sourceLocation: sourceLocation)
    #expect(reply.values("Cache-Control") == ["no-store"], "\(framework): Cache-Control fields", sourceLocation: sourceLocation)
    guard let cookie = reply.sessionCookie else {
        Issue.record("\(framework): no session cookie in \(reply.fields)", sourceLocation: sourceLocation)
        return nil
    }
    #expect(SessionToken(validating: cookie.value) != nil, "\(framework): cookie value is not a token", sourceLocation: sourceLocation)
    #expect(cookie.attributes["httponly"] == "", "\(framework): HttpOnly", sourceLocation: sourceLocation)
    #expect(cookie.attributes["secure"] == "", "\(framework): Secure", sourceLocation: sourceLocation)
    #expect(cookie.attributes["samesite"] == "Lax", "\(framework): SameSite", sourceLocation: sourceLocation)
    #expect(cookie.attributes["path"] == "/", "\(framework): Path", sourceLocation: sourceLocation)
    #expect(cookie.attributes["domain"] == nil, "\(framework): Domain", sourceLocation: sourceLocation)
    if persistent {
        #expect(
            cookie.attributes["max-age"] != nil && cookie.attributes["expires"] != nil,
            "\(framework): persistent cookie",
            sourceLocation: sourceLocation
        )
    } else {
        #expect(
            cookie.attributes["max-age"] == nil && cookie.attributes["expires"] == nil,
            "\(framework): browser-session cookie",
            sourceLocation: sourceLocation
        )
    }
    return cookie
}

/// Checks a response that deletes the session cookie.
func expectDeletingCookie(_ reply: Reply, _ framework: Framework, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.values("Set-Cookie").count == 1, "\(framework): Set-Cookie fields", sourceLocation: sourceLocation)
    #expect(reply.values("Vary") == ["Cookie"], "\(framework): Vary fields", sourceLocation: sourceLocation)
    #expect(reply.values("Cache-Control") == ["no-store"], "\(framework): Cache-Control fields", sourceLocation: sourceLocation)
    guard let cookie = reply.sessionCookie else {
        Issue.record("\(framework): no deleting cookie in \(reply.fields)", sourceLocation: sourceLocation)
        return
    }
    #expect(cookie.value.isEmpty, "\(framework): deleting cookie carries a value", sourceLocation: sourceLocation)
    #expect(cookie.attributes["max-age"] == "0", sourceLocation: sourceLocation)
    #expect(cookie.attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT", sourceLocation: sourceLocation)
    #expect(
        cookie.attributes["path"] == "/" && cookie.attributes["secure"] == "" && cookie.attributes["httponly"] == "",
        sourceLocation: sourceLocation
    )
}

/// Checks a response whose handler used the session without changing the token: no
/// `Set-Cookie` and no token header. The engine may mark such a response as depending on the
/// session — then with exactly one `Vary` naming the token's carrier and, when a live session
/// was read, at most one `Cache-Control: private` — but with nothing else.
func expectNoTokenIssued(
    _ reply: Reply,
    _ framework: Framework,
    liveSession: Bool,
    vary: String = "Cookie",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(reply.values("Set-Cookie").isEmpty, "\(framework): unexpected Set-Cookie \(reply.values("Set-Cookie"))", sourceLocation: sourceLocation)
    let varyValues = reply.values("Vary").map { $0.lowercased() }
    #expect(varyValues.isEmpty || varyValues == [vary.lowercased()], "\(framework): Vary \(reply.values("Vary"))", sourceLocation: sourceLocation)
    let cacheControl = reply.values("Cache-Control")
    let allowed: [[String]] = liveSession ? [[], ["private"]] : [[]]
    #expect(allowed.contains(cacheControl), "\(framework): Cache-Control \(cacheControl)", sourceLocation: sourceLocation)
}

/// Checks a response that adds no session field at all.
func expectNoSessionFields(_ reply: Reply, _ framework: Framework, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.hasNoSessionFields, "\(framework): unexpected session fields \(reply.fields)", sourceLocation: sourceLocation)
}

/// The IMF-fixdate a cookie's `Expires` carries, computed independently of SessionKit.
func imfFixdate(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: date)
}

// MARK: The cases

enum ParityCases {
    static let all: [ParityCase] = [
        nothingCostsNothing, readOnlyIsOneLoad, staleReadTouches, newSessionNothingWritten, createIssuesCookie,
        changedKeysPatch, signInRegenerates, regenerateMovesToken, logoutDeletes, rememberMe,
        idleTimeout, absoluteTimeout, storeOutage, httpErrorCommits, httpErrorNeverSignsIn, plainErrorDiscards,
        duplicateCookieIsAnonymous, junkCookieIsAnonymous, unknownRouteCostsNothing,
        handlerFieldsMerged, clearSiteDataOnDestroy, sessionCapRefuses, headerTransport, userAgentRecorded,
        outageTreatedAsAnonymous, typeMismatch,
    ]

    static let nothingCostsNothing = ParityCase(name: "a route that never uses the session costs nothing") { h in
        let f = h.framework
        var reply = try await h.get(.plain)
        #expect(reply.status == 200 && reply.body == "plain")
        #expect(reply.calls == [:])
        expectNoSessionFields(reply, f)
        try await h.get(.counter)
        reply = try await h.get(.plain)
        #expect(reply.status == 200 && reply.calls == [:], "\(f): a cookie alone caused store calls")
        expectNoSessionFields(reply, f)
    }

    static let readOnlyIsOneLoad = ParityCase(name: "a read-only request costs one load and no header") { h in
        let f = h.framework
        try await h.get(.counter)
        let reply = try await h.get(.read)
        #expect(reply.status == 200 && reply.body == "1")
        #expect(reply.calls == [.load: 1], "\(f)")
        expectNoTokenIssued(reply, f, liveSession: true)
    }

    static let staleReadTouches = ParityCase(name: "a read more than touchInterval after the last write costs load + touch") { h in
        let f = h.framework
        try await h.get(.counter)
        h.clock.advance(by: .seconds(61))
        var reply = try await h.get(.read)
        #expect(reply.body == "1")
        #expect(reply.calls == [.load: 1, .touch: 1], "\(f)")
        expectNoTokenIssued(reply, f, liveSession: true)
        reply = try await h.get(.read)
        #expect(reply.calls == [.load: 1], "\(f): touched again right after a touch")
        expectNoTokenIssued(reply, f, liveSession: true)
    }

    static let newSessionNothingWritten = ParityCase(name: "a new session that is only read costs nothing") { h in
        let f = h.framework
        for route in [ParityRoute.read, .whoami, .flash, .regenerate, .logout] {
            let reply = try await h.get(route)
            #expect(reply.status == 200, "\(f) \(route)")
            #expect(reply.calls == [:], "\(f) \(route)")
            expectNoTokenIssued(reply, f, liveSession: false)
        }
        #expect(h.cookie == nil)
    }

    static let createIssuesCookie = ParityCase(name: "writing to a new session costs one create and issues the cookie") { h in
        let f = h.framework
        let reply = try await h.get(.counter)
        #expect(reply.status == 200 && reply.body == "1")
        #expect(reply.calls == [.create: 1], "\(f)")
        let cookie = expectIssuedCookie(reply, f)
        let token = try #require(cookie?.value)
        let record = try #require(try await h.record(for: token), "\(f): the issued token has no record")
        #expect(record.data["counter"] == Data("1".utf8))
        #expect(record.expiresAt == ParityHarness.start.addingTimeInterval(1800))
    }

    static let changedKeysPatch = ParityCase(name: "changing a key costs load + patch") { h in
        let f = h.framework
        try await h.get(.counter)
        let token = h.cookie
        let reply = try await h.get(.counter)
        #expect(reply.body == "2")
        #expect(reply.calls == [.load: 1, .update: 1], "\(f)")
        expectNoTokenIssued(reply, f, liveSession: true)
        #expect(h.cookie == token)
        #expect(try await h.get(.read).body == "2")
    }

    static let signInRegenerates = ParityCase(name: "signing in moves the session to a new token; the old one is anonymous") { h in
        let f = h.framework
        try await h.get(.counter)
        let old = try #require(h.cookie)
        let reply = try await h.get(.login)
        #expect(reply.status == 200)
        #expect(reply.calls == [.load: 1, .rotate: 1], "\(f)")
        let new = try #require(expectIssuedCookie(reply, f)?.value)
        #expect(new != old)
        #expect(try await h.get(.whoami).body == "alice")
        #expect(try await h.get(.read).body == "1", "\(f): sign-in lost the session's data")
        let replay = try await h.get(.whoami, cookieHeaders: ["\(ParityHarness.cookieName)=\(old)"])
        #expect(replay.body == "anonymous", "\(f): the pre-login token still works")
        #expect(replay.calls == [.load: 1])
        expectNoTokenIssued(replay, f, liveSession: false)
        // Signing in without any session is one create.
        h.cookie = nil
        let fresh = try await h.get(.login)
        #expect(fresh.calls == [.create: 1], "\(f)")
        expectIssuedCookie(fresh, f)
    }

    static let regenerateMovesToken = ParityCase(name: "regenerate moves the data to a new token; the old one is anonymous") { h in
        let f = h.framework
        try await h.get(.counter)
        let old = try #require(h.cookie)
        let reply = try await h.get(.regenerate)
        #expect(reply.calls == [.load: 1, .rotate: 1], "\(f)")
        let new = try #require(expectIssuedCookie(reply, f)?.value)
        #expect(new != old)
        #expect(try await h.get(.read).body == "1")
        let replay = try await h.get(.read, cookieHeaders: ["\(ParityHarness.cookieName)=\(old)"])
        #expect(replay.body == "none" && replay.calls == [.load: 1], "\(f)")
        #expect(try await h.record(for: old) == nil)
    }

    static let logoutDeletes = ParityCase(name: "logout deletes the record and the cookie; a replayed cookie is anonymous") { h in
        let f = h.framework
        try await h.get(.login)
        let old = try #require(h.cookie)
        let reply = try await h.get(.logout)
        #expect(reply.status == 200 && reply.body == "bye")
        #expect(reply.calls == [.delete: 1], "\(f)")
        expectDeletingCookie(reply, f)
        #expect(h.cookie == nil)
        #expect(try await h.record(for: old) == nil)
        let replay = try await h.get(.whoami, cookieHeaders: ["\(ParityHarness.cookieName)=\(old)"])
        #expect(replay.body == "anonymous" && replay.calls == [.load: 1], "\(f)")
        expectNoTokenIssued(replay, f, liveSession: false)
    }

    static let rememberMe = ParityCase(name: "remember-me issues a persistent cookie, refreshed when the expiry moves") { h in
        let f = h.framework
        var reply = try await h.get(.remember)
        #expect(reply.calls == [.create: 1], "\(f)")
        var cookie = try #require(expectIssuedCookie(reply, persistent: true, f))
        #expect(cookie.attributes["max-age"] == "1209600")
        #expect(cookie.attributes["expires"] == imfFixdate(ParityHarness.start.addingTimeInterval(1_209_600)))
        let token = cookie.value
        h.clock.advance(by: .seconds(3600))
        reply = try await h.get(.whoami)
        #expect(reply.body == "alice")
        #expect(reply.calls == [.load: 1, .touch: 1], "\(f)")
        cookie = try #require(expectIssuedCookie(reply, persistent: true, f))
        #expect(cookie.value == token, "\(f): a touch changed the token")
        #expect(cookie.attributes["max-age"] == "1209600")
        #expect(cookie.attributes["expires"] == imfFixdate(ParityHarness.start.addingTimeInterval(3600 + 1_209_600)))
        reply = try await h.get(.counter)
        #expect(reply.calls == [.load: 1, .update: 1], "\(f)")
        expectIssuedCookie(reply, persistent: true, f)
    }

    static let idleTimeout = ParityCase(
        name: "a session ends after idleTimeout without a request",
        configuration: SessionConfiguration(idleTimeout: .seconds(600), absoluteTimeout: .seconds(3600))
    ) { h in
        let f = h.framework
        try await h.get(.counter)
        for _ in 0..<3 {
            h.clock.advance(by: .seconds(540))
            let reply = try await h.get(.read)
            #expect(reply.body == "1", "\(f): ended although it was used within the idle timeout")
            #expect(reply.calls == [.load: 1, .touch: 1])
        }
        h.clock.advance(by: .seconds(601))
        let reply = try await h.get(.read)
        #expect(reply.body == "none", "\(f): still alive after the idle timeout")
        #expect(reply.calls == [.load: 1])
        expectNoTokenIssued(reply, f, liveSession: false)
        let again = try await h.get(.counter)
        #expect(again.body == "1" && again.calls == [.load: 1, .create: 1], "\(f)")
        expectIssuedCookie(again, f)
    }

    static let absoluteTimeout = ParityCase(
        name: "a session ends after absoluteTimeout however busy",
        configuration: SessionConfiguration(idleTimeout: .seconds(600), absoluteTimeout: .seconds(1500))
    ) { h in
        let f = h.framework
        try await h.get(.counter)
        for _ in 0..<2 {
            h.clock.advance(by: .seconds(540))
            #expect(try await h.get(.read).body == "1", "\(f)")
        }
        h.clock.advance(by: .seconds(410))  // 1490 s after creation
        #expect(try await h.get(.read).body == "1", "\(f)")
        h.clock.advance(by: .seconds(10))  // exactly 1500 s
        let reply = try await h.get(.read)
        #expect(reply.body == "none", "\(f): still alive at the absolute timeout")
        #expect(reply.calls == [.load: 1])
        expectNoTokenIssued(reply, f, liveSession: false)
    }

    static let storeOutage = ParityCase(name: "a store outage answers 503 with Retry-After; nobody is signed out") { h in
        let f = h.framework
        try await h.get(.login)
        let token = try #require(h.cookie)
        h.faults.fault = .unavailable
        for route in [ParityRoute.whoami, .counter, .logout, .flashError, .boom] {
            let reply = try await h.get(route)
            #expect(reply.status == 503, "\(f) \(route): \(reply.status) \(reply.body)")
            #expect(reply.values("Retry-After") == ["5"], "\(f) \(route)")
            #expect(reply.values("Cache-Control") == ["no-store"], "\(f) \(route)")
            #expect(reply.values("Set-Cookie").isEmpty, "\(f) \(route): a failed request touched the cookie")
            #expect(reply.calls.values.reduce(0, +) == 1, "\(f) \(route): \(reply.calls)")
        }
        #expect(h.cookie == token)
        let plain = try await h.get(.plain)
        #expect(plain.status == 200 && plain.calls == [:], "\(f): a route without sessions failed in an outage")
        expectNoSessionFields(plain, f)
        let anonymousRead = try await h.get(.read, cookieHeaders: [])
        #expect(anonymousRead.status == 200 && anonymousRead.body == "none", "\(f)")
        let anonymousWrite = try await h.get(.counter, cookieHeaders: [])
        #expect(anonymousWrite.status == 503 && anonymousWrite.calls == [.create: 1], "\(f)")
        #expect(anonymousWrite.values("Set-Cookie").isEmpty)
        h.faults.fault = .none
        let recovered = try await h.get(.whoami)
        #expect(recovered.status == 200 && recovered.body == "alice", "\(f): the outage signed the user out")
        #expect(recovered.calls == [.load: 1])
        #expect(try await h.get(.read).body == "none", "\(f): a write during the outage was kept")
    }

    static let httpErrorNeverSignsIn = ParityCase(name: "a sign-in followed by an HTTP error is not committed; its flash is") { h in
        let f = h.framework
        var reply = try await h.get(.counter)
        #expect(reply.body == "1", "\(f)")
        reply = try await h.get(.loginError)
        #expect(reply.status == 400, "\(f)")
        #expect(reply.calls == [.load: 1, .update: 1], "\(f): a failed sign-in rotated or created: \(reply.calls)")
        expectNoTokenIssued(reply, f, liveSession: true)
        #expect(try await h.get(.whoami).body == "anonymous", "\(f): a request that answered 400 signed the user in")
        #expect(try await h.get(.read).body == "1", "\(f): the session before the failed sign-in was lost")
        #expect(try await h.get(.flash).body == "wrong password", "\(f): the flash set before the 400 was lost")
    }

    static let httpErrorCommits = ParityCase(name: "a handler's HTTP error still commits the session (flash survives)") { h in
        let f = h.framework
        var reply = try await h.get(.flashError)
        #expect(reply.status == 400, "\(f)")
        #expect(reply.calls == [.create: 1], "\(f)")
        expectIssuedCookie(reply, f)
        reply = try await h.get(.flash)
        #expect(reply.body == "bad input", "\(f): the flash set before the 400 was lost")
        #expect(reply.calls == [.load: 1, .update: 1])
        reply = try await h.get(.flash)
        #expect(reply.body == "" && reply.calls == [.load: 1], "\(f): a flash survived its read")
        // On an existing session: load + patch, no new cookie.
        reply = try await h.get(.flashError)
        #expect(reply.status == 400 && reply.calls == [.load: 1, .update: 1], "\(f)")
        expectNoTokenIssued(reply, f, liveSession: true)
        #expect(try await h.get(.flash).body == "bad input", "\(f)")
    }

    static let plainErrorDiscards = ParityCase(name: "a plain error discards the request's session changes") { h in
        let f = h.framework
        try await h.get(.counter)
        let token = h.cookie
        var reply = try await h.get(.boom)
        #expect(reply.status == 500, "\(f)")
        #expect(reply.calls == [.load: 1], "\(f): a failed request wrote its changes")
        expectNoSessionFields(reply, f)
        #expect(h.cookie == token)
        #expect(try await h.get(.read).body == "1", "\(f)")
        h.cookie = nil
        reply = try await h.get(.boom)
        #expect(reply.status == 500 && reply.calls == [:], "\(f): a failed request created a session")
        expectNoSessionFields(reply, f)
        #expect(h.cookie == nil)
    }

    static let duplicateCookieIsAnonymous = ParityCase(name: "a session cookie sent twice is anonymous and costs nothing") { h in
        let f = h.framework
        try await h.get(.login)
        let token = try #require(h.cookie)
        let name = ParityHarness.cookieName
        let other = SessionToken.generate().text
        for headers in [
            ["\(name)=\(token); \(name)=\(token)"], ["\(name)=\(token)", "\(name)=\(token)"], ["\(name)=\(other); \(name)=\(token)"],
            ["a=b; \(name)=\(token)", "\(name)=\(other)"],
        ] {
            let reply = try await h.get(.whoami, cookieHeaders: headers)
            #expect(reply.status == 200 && reply.body == "anonymous", "\(f) \(headers)")
            #expect(reply.calls == [:], "\(f) \(headers)")
            expectNoTokenIssued(reply, f, liveSession: false)
        }
        #expect(try await h.get(.whoami).body == "alice")
    }

    static let junkCookieIsAnonymous = ParityCase(name: "a malformed session cookie is anonymous and costs nothing") { h in
        let f = h.framework
        let name = ParityHarness.cookieName
        for value in ["junk", String(repeating: "A", count: 42), String(repeating: "A", count: 42) + "B", "", String(repeating: "x", count: 5000)] {
            let reply = try await h.get(.read, cookieHeaders: ["\(name)=\(value)"])
            #expect(reply.status == 200 && reply.body == "none", "\(f) \(value.prefix(50))")
            #expect(reply.calls == [:], "\(f) \(value.prefix(50))")
            expectNoTokenIssued(reply, f, liveSession: false)
        }
        let well = SessionToken.generate().text
        let reply = try await h.get(.read, cookieHeaders: ["\(name)=\(well)"])
        #expect(reply.body == "none" && reply.calls == [.load: 1], "\(f): an unknown well-formed token")
    }

    // MARK: Beyond the lifecycle table

    static let unknownRouteCostsNothing = ParityCase(name: "an unknown route (the framework's 404) costs nothing") { h in
        let f = h.framework
        try await h.get(.counter)
        let reply = try await h.send("GET", "/no-such-route")
        #expect(reply.status == 404, "\(f)")
        #expect(reply.calls == [:], "\(f)")
        expectNoSessionFields(reply, f)
    }

    static let handlerFieldsMerged = ParityCase(name: "the handler's Cache-Control is replaced and its Vary extended, never duplicated") { h in
        let f = h.framework
        var reply = try await h.get(.cached)
        #expect(reply.status == 200 && reply.calls == [.create: 1], "\(f)")
        #expect(reply.values("Cache-Control") == ["no-store"], "\(f): \(reply.values("Cache-Control"))")
        #expect(reply.values("Vary") == ["Accept-Encoding", "Cookie"], "\(f): \(reply.values("Vary"))")
        #expect(reply.values("Set-Cookie").count == 1, "\(f)")
        reply = try await h.get(.cached)
        #expect(reply.calls == [.load: 1, .update: 1], "\(f)")
        // No token is issued; the handler's Cache-Control stays unless the engine marks the
        // response as depending on a live session (then the stricter `private` wins).
        #expect([["public, max-age=60"], ["private"]].contains(reply.values("Cache-Control")), "\(f): \(reply.values("Cache-Control"))")
        #expect([["Accept-Encoding"], ["Accept-Encoding", "Cookie"]].contains(reply.values("Vary")), "\(f): \(reply.values("Vary"))")
        #expect(reply.values("Set-Cookie").isEmpty, "\(f)")
    }

    static let clearSiteDataOnDestroy = ParityCase(
        name: "clearSiteDataOnDestroy adds Clear-Site-Data once to the deleting response",
        configuration: SessionConfiguration(clearSiteDataOnDestroy: true)
    ) { h in
        let f = h.framework
        try await h.get(.login)
        let reply = try await h.get(.logout)
        #expect(reply.calls == [.delete: 1], "\(f)")
        expectDeletingCookie(reply, f)
        #expect(reply.values("Clear-Site-Data") == ["\"cookies\""], "\(f): \(reply.values("Clear-Site-Data"))")
    }

    static let sessionCapRefuses = ParityCase(
        name: "a sign-in over the session cap is refused with 403 and no cookie",
        configuration: SessionConfiguration(concurrentSessionLimit: .init(maxSessions: 1, policy: .refuse))
    ) { h in
        let f = h.framework
        var reply = try await h.get(.login)
        #expect(reply.status == 200 && reply.calls == [.create: 1, .sessionsForUser: 2], "\(f): \(reply.calls)")
        let first = h.cookie
        h.cookie = nil
        reply = try await h.get(.login)
        #expect(reply.status == 403, "\(f): \(reply.status)")
        #expect(reply.calls == [.sessionsForUser: 1], "\(f): \(reply.calls)")
        #expect(reply.values("Set-Cookie").isEmpty, "\(f)")
        #expect(reply.values("Cache-Control") == ["no-store"], "\(f)")
        #expect(reply.values("Retry-After").isEmpty, "\(f)")
        h.cookie = first
        #expect(try await h.get(.whoami).body == "alice", "\(f): the refused sign-in ended the first session")
    }

    static let headerTransport = ParityCase(
        name: "the header transport returns the token in its header, never a cookie",
        configuration: SessionConfiguration(transport: .header(HTTPField.Name("X-Session-Token")!))
    ) { h in
        let f = h.framework
        var reply = try await h.get(.counter)
        #expect(reply.calls == [.create: 1], "\(f)")
        #expect(reply.values("Set-Cookie").isEmpty, "\(f)")
        #expect(reply.values("X-Session-Token").count == 1, "\(f): \(reply.fields)")
        #expect(reply.values("Vary").map { $0.lowercased() } == ["x-session-token"], "\(f): \(reply.values("Vary"))")
        #expect(reply.values("Cache-Control") == ["no-store"], "\(f)")
        let token = try #require(h.cookie)
        #expect(SessionToken(validating: token) != nil)
        reply = try await h.get(.read)
        #expect(reply.body == "1" && reply.calls == [.load: 1], "\(f)")
        #expect(reply.values("X-Session-Token").isEmpty, "\(f)")
        expectNoTokenIssued(reply, f, liveSession: true, vary: "X-Session-Token")
        // A cookie is not a token with the header transport.
        reply = try await h.get(.read, cookieHeaders: ["\(ParityHarness.cookieName)=\(token)"])
        #expect(reply.body == "none" && reply.calls == [:], "\(f)")
        // The header sent twice is ambiguous.
        reply = try await h.get(.read, cookieHeaders: [], headers: [("X-Session-Token", token), ("X-Session-Token", token)])
        #expect(reply.body == "none" && reply.calls == [:], "\(f): a doubled token header was accepted")
        reply = try await h.get(.logout)
        #expect(reply.calls == [.delete: 1], "\(f)")
        #expect(reply.values("X-Session-Token") == [""], "\(f): \(reply.values("X-Session-Token"))")
        #expect(reply.values("Vary").map { $0.lowercased() } == ["x-session-token"], "\(f)")
        #expect(h.cookie == nil)
    }

    static let userAgentRecorded = ParityCase(name: "the session records the same User-Agent on both frameworks") { h in
        let f = h.framework
        try await h.get(.counter, headers: [("User-Agent", "ParityBrowser/1.0")])
        let firstToken = try #require(h.cookie)
        let one = try #require(try await h.record(for: firstToken))
        #expect(one.userAgent == "ParityBrowser/1.0", "\(f)")
        h.cookie = nil
        let reply = try await h.get(.counter, headers: [("User-Agent", "First/1.0"), ("User-Agent", "Second/2.0")])
        #expect(reply.calls == [.create: 1])
        let secondToken = try #require(h.cookie)
        let two = try #require(try await h.record(for: secondToken))
        // HTTPFields joins repeated fields with ", " (what the Hummingbird adapter hands the
        // engine); the Vapor adapter must hand over the same value.
        #expect(two.userAgent == "First/1.0, Second/2.0", "\(f): recorded \(two.userAgent ?? "nil") for two User-Agent fields")
    }

    static let outageTreatedAsAnonymous = ParityCase(
        name: "with .treatAsAnonymous an outage reads as anonymous, but writes still fail with 503",
        configuration: SessionConfiguration(loadFailurePolicy: .treatAsAnonymous)
    ) { h in
        let f = h.framework
        try await h.get(.login)
        let token = h.cookie
        h.faults.fault = .unavailable
        var reply = try await h.get(.whoami)
        #expect(reply.status == 200 && reply.body == "anonymous", "\(f): \(reply.status) \(reply.body)")
        #expect(reply.calls == [.load: 1], "\(f)")
        #expect(reply.values("Set-Cookie").isEmpty, "\(f): an outage touched the cookie")
        for route in [ParityRoute.counter, .flashError, .login] {
            reply = try await h.get(route)
            #expect(reply.status == 503, "\(f) \(route): \(reply.status)")
            #expect(reply.values("Retry-After") == ["5"], "\(f) \(route)")
            #expect(reply.values("Set-Cookie").isEmpty, "\(f) \(route): the client's real session was replaced")
        }
        #expect(h.cookie == token)
        h.faults.fault = .none
        #expect(try await h.get(.whoami).body == "alice", "\(f)")
    }

    static let typeMismatch = ParityCase(name: "a value read as the wrong type answers 500 with no-store and keeps the session") { h in
        let f = h.framework
        try await h.get(.counter)
        let token = h.cookie
        let reply = try await h.get(.mismatch)
        #expect(reply.status == 500, "\(f): \(reply.status)")
        #expect(reply.calls == [.load: 1], "\(f)")
        #expect(reply.values("Cache-Control") == ["no-store"], "\(f): \(reply.fields)")
        #expect(reply.values("Set-Cookie").isEmpty, "\(f)")
        #expect(!reply.body.contains(token ?? "-"), "\(f): the error body leaks the token")
        #expect(h.cookie == token)
        #expect(try await h.get(.read).body == "1", "\(f)")
    }
}
