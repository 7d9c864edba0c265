import Foundation
import SessionKit
import SessionKitTesting
import Testing

/// `SessionEngine.checkReadiness()`, the readiness probe's store check.
@Suite("Readiness")
struct ReadinessTests {
    @Test func aStoreThatAnswersIsReadyOneThatFailsIsUnavailable() async throws {
        let harness = try Harness()
        try await harness.engine.checkReadiness()
        #expect(harness.store.calls == [.ping: 1])

        harness.faults.fault = .unavailable
        await #expect(throws: SessionError.storeUnavailable(.unavailable(reason: "injected outage"))) { try await harness.engine.checkReadiness() }
        harness.faults.fault = .none
        try await harness.engine.checkReadiness()
    }

    @Test func aHungStoreIsUnavailableAfterTheStoreTimeout() async throws {
        var configuration = SessionConfiguration()
        configuration.storeTimeout = .milliseconds(50)
        let harness = try Harness(configuration: configuration)
        harness.faults.fault = .hang
        defer { harness.faults.fault = .none }
        await #expect(throws: SessionError.storeUnavailable(.timedOut)) { try await harness.engine.checkReadiness() }
    }

    @Test func sealedCookiesAskTheirRevocationStoreOnly() async throws {
        let revocable = try Harness.sealed()
        try await revocable.engine.checkReadiness()
        #expect(revocable.store.calls == [.ping: 1])
        revocable.faults.fault = .unavailable
        await #expect(throws: SessionError.storeUnavailable(.unavailable(reason: "injected outage"))) { try await revocable.engine.checkReadiness() }

        let stateless = try Harness.sealed(revocation: false)
        stateless.faults.fault = .unavailable
        try await stateless.engine.checkReadiness()
        #expect(stateless.store.calls.isEmpty)
    }
}
