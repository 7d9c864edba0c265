import Foundation
import SessionKit
import SessionKitTesting
import Testing

/// The same behaviour suite against real Hummingbird and Vapor servers around the same
/// engine, so the two adapters cannot drift apart. Each case lives in ``ParityCases``.
@Suite("Adapter parity: Hummingbird and Vapor behave the same over HTTP")
struct AdapterParityTests {
    // MARK: Lifecycle rows

    @Test("nothing used → no store call, no header", arguments: Framework.allCases)
    func nothingCostsNothing(_ framework: Framework) async throws {
        _ = try await ParityCases.nothingCostsNothing.run(on: framework)
    }

    @Test("read only → 1 load", arguments: Framework.allCases)
    func readOnlyIsOneLoad(_ framework: Framework) async throws {
        _ = try await ParityCases.readOnlyIsOneLoad.run(on: framework)
    }

    @Test("read after more than 60 s → load + touch", arguments: Framework.allCases)
    func staleReadTouches(_ framework: Framework) async throws {
        _ = try await ParityCases.staleReadTouches.run(on: framework)
    }

    @Test("new session, nothing written → 0 calls", arguments: Framework.allCases)
    func newSessionNothingWritten(_ framework: Framework) async throws {
        _ = try await ParityCases.newSessionNothingWritten.run(on: framework)
    }

    @Test("create → 1 create + Set-Cookie, Vary, Cache-Control once each", arguments: Framework.allCases)
    func createIssuesCookie(_ framework: Framework) async throws {
        _ = try await ParityCases.createIssuesCookie.run(on: framework)
    }

    @Test("changed keys → load + patch", arguments: Framework.allCases)
    func changedKeysPatch(_ framework: Framework) async throws {
        _ = try await ParityCases.changedKeysPatch.run(on: framework)
    }

    @Test("login → new token, old one anonymous", arguments: Framework.allCases)
    func signInRegenerates(_ framework: Framework) async throws {
        _ = try await ParityCases.signInRegenerates.run(on: framework)
    }

    @Test("regenerate → new token, old one anonymous", arguments: Framework.allCases)
    func regenerateMovesToken(_ framework: Framework) async throws {
        _ = try await ParityCases.regenerateMovesToken.run(on: framework)
    }

    @Test("logout → deleting cookie, replay anonymous", arguments: Framework.allCases)
    func logoutDeletes(_ framework: Framework) async throws {
        _ = try await ParityCases.logoutDeletes.run(on: framework)
    }

    @Test("remember-me → Max-Age and Expires", arguments: Framework.allCases)
    func rememberMe(_ framework: Framework) async throws {
        _ = try await ParityCases.rememberMe.run(on: framework)
    }

    // MARK: Timeouts

    @Test("idle timeout", arguments: Framework.allCases)
    func idleTimeout(_ framework: Framework) async throws {
        _ = try await ParityCases.idleTimeout.run(on: framework)
    }

    @Test("absolute timeout", arguments: Framework.allCases)
    func absoluteTimeout(_ framework: Framework) async throws {
        _ = try await ParityCases.absoluteTimeout.run(on: framework)
    }

    // MARK: Failures and errors

    @Test("store outage → 503 + Retry-After: 5; /plain still 200; recovery keeps the user signed in", arguments: Framework.allCases)
    func storeOutage(_ framework: Framework) async throws {
        _ = try await ParityCases.storeOutage.run(on: framework)
    }

    @Test("an HTTP error still commits (flash survives)", arguments: Framework.allCases)
    func httpErrorCommits(_ framework: Framework) async throws {
        _ = try await ParityCases.httpErrorCommits.run(on: framework)
    }

    @Test("a sign-in followed by an HTTP error is not committed", arguments: Framework.allCases)
    func httpErrorNeverSignsIn(_ framework: Framework) async throws {
        _ = try await ParityCases.httpErrorNeverSignsIn.run(on: framework)
    }

    @Test("a plain error discards the changes", arguments: Framework.allCases)
    func plainErrorDiscards(_ framework: Framework) async throws {
        _ = try await ParityCases.plainErrorDiscards.run(on: framework)
    }

    @Test("duplicate session cookie → anonymous, 0 calls", arguments: Framework.allCases)
    func duplicateCookieIsAnonymous(_ framework: Framework) async throws {
        _ = try await ParityCases.duplicateCookieIsAnonymous.run(on: framework)
    }

    @Test("malformed session cookie → anonymous, 0 calls", arguments: Framework.allCases)
    func junkCookieIsAnonymous(_ framework: Framework) async throws {
        _ = try await ParityCases.junkCookieIsAnonymous.run(on: framework)
    }

    // MARK: Beyond the lifecycle table

    @Test("an unknown route (404) costs nothing", arguments: Framework.allCases)
    func unknownRouteCostsNothing(_ framework: Framework) async throws {
        _ = try await ParityCases.unknownRouteCostsNothing.run(on: framework)
    }

    @Test("the handler's Cache-Control and Vary are merged, never duplicated", arguments: Framework.allCases)
    func handlerFieldsMerged(_ framework: Framework) async throws {
        _ = try await ParityCases.handlerFieldsMerged.run(on: framework)
    }

    @Test("clearSiteDataOnDestroy → Clear-Site-Data once", arguments: Framework.allCases)
    func clearSiteDataOnDestroy(_ framework: Framework) async throws {
        _ = try await ParityCases.clearSiteDataOnDestroy.run(on: framework)
    }

    @Test("session cap (refuse) → 403, no cookie, first session intact", arguments: Framework.allCases)
    func sessionCapRefuses(_ framework: Framework) async throws {
        _ = try await ParityCases.sessionCapRefuses.run(on: framework)
    }

    @Test("header transport → token in its header, Vary on it, no cookie", arguments: Framework.allCases)
    func headerTransport(_ framework: Framework) async throws {
        _ = try await ParityCases.headerTransport.run(on: framework)
    }

    @Test("the recorded User-Agent is the same on both frameworks", arguments: Framework.allCases)
    func userAgentRecorded(_ framework: Framework) async throws {
        _ = try await ParityCases.userAgentRecorded.run(on: framework)
    }

    @Test(".treatAsAnonymous outage → anonymous reads, 503 writes", arguments: Framework.allCases)
    func outageTreatedAsAnonymous(_ framework: Framework) async throws {
        _ = try await ParityCases.outageTreatedAsAnonymous.run(on: framework)
    }

    @Test("type mismatch → 500 with no-store", arguments: Framework.allCases)
    func typeMismatch(_ framework: Framework) async throws {
        _ = try await ParityCases.typeMismatch.run(on: framework)
    }

    // MARK: Cross-framework comparisons

    @Test("cookie attributes are identical between the frameworks")
    func cookieAttributesIdentical() async throws {
        var attributes: [Framework: [String: [String: String]]] = [:]
        for framework in Framework.allCases {
            var seen: [String: [String: String]] = [:]
            try await ParityHarness.run(framework) { h in
                func record(_ label: String, _ reply: Reply) throws {
                    let cookie = try #require(reply.sessionCookie, "\(framework) \(label): no session cookie")
                    #expect(cookie.name == ParityHarness.cookieName)
                    seen[label] = cookie.attributes
                }
                try record("create", try await h.get(.counter))
                try record("login", try await h.get(.login))
                try record("regenerate", try await h.get(.regenerate))
                try record("logout", try await h.get(.logout))
                try record("remember", try await h.get(.remember))
                h.clock.advance(by: .seconds(120))
                try record("remember-touch", try await h.get(.read))
                try record("remember-logout", try await h.get(.logout))
                try record("flash-error", try await h.get(.flashError))
            }
            attributes[framework] = seen
        }
        let hummingbird = try #require(attributes[.hummingbird])
        let vapor = try #require(attributes[.vapor])
        #expect(hummingbird.count == 8)
        for label in hummingbird.keys.sorted() {
            #expect(hummingbird[label] == vapor[label], "\(label): Hummingbird \(hummingbird[label] ?? [:]) vs Vapor \(vapor[label] ?? [:])")
        }
        #expect(hummingbird["create"] == ["path": "/", "secure": "", "httponly": "", "samesite": "Lax"])
    }

    @Test("every case: status and session headers are equal on both frameworks")
    func everyCaseSameOnBothFrameworks() async throws {
        for parityCase in ParityCases.all {
            let hummingbird = try await parityCase.run(on: .hummingbird)
            let vapor = try await parityCase.run(on: .vapor)
            #expect(!hummingbird.isEmpty, "\(parityCase): no requests recorded")
            #expect(hummingbird.count == vapor.count, "\(parityCase): \(hummingbird.count) vs \(vapor.count) requests")
            for (index, (left, right)) in zip(hummingbird, vapor).enumerated() where left != right {
                Issue.record("\(parityCase), request \(index + 1):\n  Hummingbird: \(left)\n  Vapor:       \(right)")
            }
        }
    }
}
