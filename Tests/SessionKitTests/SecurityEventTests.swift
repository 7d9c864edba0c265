import Foundation
import HTTPTypes
import Logging
import MetricsTestKit
@testable import SessionKit
import SessionKitTesting
import Testing

/// Issue 16 (operations): every rejected token is counted by reason and logged as one
/// security-event line with a correlation reference, never the value; cap evictions and
/// refusals and store failures get one structured line each; the memory store feeds the
/// active-sessions gauge.
@Suite("Security events, outage counters and the active-sessions gauge")
struct SecurityEventTests {
    private struct Observed {
        let metrics = TestMetrics()
        let logs = LogCapture()
        let clock = TestClock(start: testEpoch)

        /// An engine over `store` that logs into ``logs`` and reports into ``metrics``.
        func engine(_ store: any SessionStore, _ configuration: SessionConfiguration = SessionConfiguration()) throws -> SessionEngine {
            try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logs.logger(), metricsFactory: metrics)
        }

        func rejected(_ reason: String) -> Int64 {
            metrics.counterTotal(label: "sessionkit_rejected_tokens_total", dimensions: [("reason", reason)])
        }

        /// The security-event lines for rejected tokens with `reason`.
        func rejectionLines(_ reason: String) -> [String] {
            logs.all.filter { $0.contains("event=session.token_rejected") && $0.contains("reason=\(reason)") && $0.contains("[notice]") }
        }

        /// Every log line and metric dimension is free of `secret` and of a 16-character piece of it.
        func expectNoLeak(of secret: String, sourceLocation: SourceLocation = #_sourceLocation) {
            for line in logs.all {
                #expect(!line.contains(secret.prefix(16)), "leaked into the log: \(line)", sourceLocation: sourceLocation)
            }
            for counter in metrics.counters {
                #expect(counter.dimensions.allSatisfy { !$0.1.contains(secret.prefix(16)) }, sourceLocation: sourceLocation)
            }
        }
    }

    private func cookie(_ value: String) -> HTTPFields { [.cookie: "__Host-id=\(value)"] }

    @Test("signed tokens: malformed, forged, unknown key, duplicate and oversized each count under their reason and log one line")
    func signedTokenRejections() async throws {
        let observed = Observed()
        let engine = try observed.engine(MemorySessionStore(clock: observed.clock), SessionConfiguration(tokenSigning: TestKeys.ringA))
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(SessionKey<Int>("n"), 1) }
        let live = try #require(client.cookie)
        var forgedBytes = Array(live.utf8)
        forgedBytes[forgedBytes.count - 2] = forgedBytes[forgedBytes.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let forged = String(decoding: forgedBytes, as: UTF8.self)
        let token = try #require(SessionToken(validating: String(live.prefix(SessionToken.encodedLength))))
        let otherRing = TestKeys.ring("k9=\(TestKeys.secretB)")
        let retiredKey = TokenSigner(keyRing: otherRing).sign(token)

        let sends: [(String, HTTPFields)] = [
            ("malformed", cookie("junk")),
            ("forged", cookie(forged)),
            ("unknown_key", cookie(retiredKey)),
            ("duplicate", [.cookie: "__Host-id=\(live); __Host-id=\(live)"]),
            ("oversized", cookie(String(repeating: "x", count: 5000))),
        ]
        for (reason, fields) in sends {
            let read = try await EngineTestClient(engine: engine).request(headers: fields) { try await $0.get(SessionKey<Int>("n")) }
            #expect(read.value == nil, "\(reason): the value was read through a rejected token")
            #expect(observed.rejected(reason) == 1, "\(reason)")
            #expect(observed.rejectionLines(reason).count == 1, "\(reason): \(observed.logs.all)")
        }
        // The reference correlates repeats of one value and differs between values.
        _ = try await EngineTestClient(engine: engine).request(headers: cookie(forged)) { try await $0.get(SessionKey<Int>("n")) }
        let forgedLines = observed.rejectionLines("forged")
        #expect(forgedLines.count == 2)
        let references = Set(forgedLines.compactMap { $0.firstMatch(of: /token_ref=([0-9a-f]{12})/).map { String($0.1) } })
        #expect(references.count == 1, "\(forgedLines)")
        #expect(!observed.rejectionLines("malformed").contains { line in references.contains { line.contains($0) } })
        #expect(observed.rejected("expired") == 0)
        observed.expectNoLeak(of: live)
        observed.expectNoLeak(of: retiredKey)
    }

    @Test("sealed cookies: forged, unknown key and revoked are security events; an expired cookie is counted but not logged as one")
    func sealedCookieRejections() async throws {
        let observed = Observed()
        let revocations = MemorySessionStore(clock: observed.clock)
        func engine(_ ring: KeyRing) throws -> SessionEngine {
            try SessionEngine(
                sealedCookies: SealedCookieBackend(keyRing: ring, revocationStore: revocations),
                configuration: .sealedTests(),
                clock: observed.clock,
                logger: observed.logs.logger(),
                metricsFactory: observed.metrics
            )
        }
        let current = try engine(TestKeys.ringA)
        let phone = EngineTestClient(engine: current)
        let laptop = EngineTestClient(engine: current)
        try await phone.send { try await $0.signIn(userID: "alice") }
        try await laptop.send { try await $0.signIn(userID: "alice") }
        let phoneCookie = try #require(phone.cookie)

        var tampered = Array(phoneCookie.utf8)
        tampered[40] = tampered[40] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        _ = try await EngineTestClient(engine: current).request(headers: cookie(String(decoding: tampered, as: UTF8.self))) { try await $0.userID }
        #expect(observed.rejected("forged") == 1)

        let foreign = EngineTestClient(engine: try engine(TestKeys.ring("k9=\(TestKeys.secretB)")))
        try await foreign.send { try await $0.set(SessionKey<Int>("n"), 1) }
        _ = try await EngineTestClient(engine: current).request(headers: cookie(try #require(foreign.cookie))) { try await $0.userID }
        #expect(observed.rejected("unknown_key") == 1)

        _ = try await laptop.request { try await $0.signOutOtherSessions() }
        let revoked = try await EngineTestClient(engine: current).request(headers: cookie(phoneCookie)) { try await $0.userID }
        #expect(revoked.value == nil, "a revoked cookie still signed in")
        #expect(observed.rejected("revoked") == 1)
        #expect(observed.rejectionLines("revoked").count == 1, "\(observed.logs.all)")

        observed.clock.advance(by: .seconds(3 * 3600))
        _ = try await laptop.request { try await $0.userID }
        #expect(observed.rejected("expired") == 1)
        #expect(observed.rejectionLines("expired").isEmpty, "normal expiry was logged as a security event")
        for reason in ["forged", "unknown_key"] { #expect(observed.rejectionLines(reason).count == 1, "\(reason)") }
        observed.expectNoLeak(of: phoneCookie)
    }

    @Test("the session cap: an eviction and a refusal each log one security-event line naming sessions by log prefix")
    func capEventsAreLogged() async throws {
        for policy in [SessionConfiguration.ConcurrentSessionLimit.Policy.evictOldest, .refuse] {
            let observed = Observed()
            var configuration = SessionConfiguration()
            configuration.concurrentSessionLimit = .init(maxSessions: 1, policy: policy)
            let engine = try observed.engine(MemorySessionStore(clock: observed.clock), configuration)
            let first = EngineTestClient(engine: engine)
            try await first.send { try await $0.signIn(userID: "alice") }
            let firstCookie = try #require(first.cookie)
            let firstPrefix = try #require(SessionToken(validating: firstCookie)).storageID.logPrefix
            let second = EngineTestClient(engine: engine)
            switch policy {
            case .evictOldest:
                try await second.send { try await $0.signIn(userID: "alice") }
                let lines = observed.logs.all.filter { $0.contains("event=session.cap_evicted") }
                #expect(lines.count == 1, "\(observed.logs.all)")
                #expect(lines.first?.contains("session=\(firstPrefix)") == true, "\(lines)")
            case .refuse:
                await #expect(throws: SessionError.tooManySessions(limit: 1)) { try await second.send { try await $0.signIn(userID: "alice") } }
                #expect(observed.logs.all.filter { $0.contains("event=session.cap_refused") }.count == 1, "\(observed.logs.all)")
            }
            #expect(!observed.logs.all.contains { $0.contains("alice") }, "a user ID reached the log")
            observed.expectNoLeak(of: firstCookie)
        }
    }

    @Test("a store failure is counted per operation and error type and logged once with the session's log prefix")
    func storeFailuresAreCountedAndLogged() async throws {
        let observed = Observed()
        let faulty = FaultInjectingSessionStore(MemorySessionStore(clock: observed.clock))
        var configuration = SessionConfiguration()
        configuration.storeTimeout = nil
        let engine = try observed.engine(faulty, configuration)
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.set(SessionKey<Int>("n"), 1) }
        let token = try #require(client.cookie)
        let prefix = try #require(SessionToken(validating: token)).storageID.logPrefix
        faulty.fault = .unavailable
        await #expect(throws: SessionError.self) { try await client.send { _ = try await $0.get(SessionKey<Int>("n")) } }
        faulty.fault = .none

        let dimensions = [("operation", "load"), ("error_type", "unavailable"), ("db_system", "other")]
        #expect(observed.metrics.counterTotal(label: "sessionkit_store_errors_total", dimensions: dimensions) == 1)
        #expect(observed.metrics.counterTotal(label: "sessionkit_store_errors_total") == 1)
        let lines = observed.logs.all.filter { $0.contains("event=session.store_failed") }
        #expect(lines.count == 1, "\(observed.logs.all)")
        let line = try #require(lines.first)
        for part in ["[warning]", "db.operation.name=load", "error.type=unavailable", "session=\(prefix)"] {
            #expect(line.contains(part), "\(part) missing from \(line)")
        }
        observed.expectNoLeak(of: token)
    }

    @Test("the memory store feeds the active-sessions gauge; a store that cannot count cheaply leaves it alone")
    func activeSessionsGauge() async throws {
        let observed = Observed()
        let memory = MemorySessionStore(clock: observed.clock)
        let engine = try SessionEngine(store: memory, clock: observed.clock, metricsFactory: observed.metrics)
        for _ in 0..<3 { try await EngineTestClient(engine: engine).send { try await $0.set(SessionKey<Int>("n"), 1) } }
        #expect(await engine.recordActiveSessions() == 3)
        let gauge = try observed.metrics.expectGauge("sessionkit_active_sessions", [("db_system", "memory")])
        #expect(gauge.lastValue == 3)

        let others = TestMetrics()
        let notCounting = try SessionEngine(store: CountingSessionStore(memory), clock: observed.clock, metricsFactory: others)
        #expect(await notCounting.recordActiveSessions() == nil)
        #expect(others.recorders(label: "sessionkit_active_sessions").isEmpty, "a store that cannot count exports a false 0")
        // The outage counter's series exist before the first failure, at 0.
        #expect(others.counters(label: "sessionkit_store_errors_total").count == 13 * 3)
    }
}
