import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Store failure policy")
struct FailurePolicyTests {
    @Test func loadFailureFailsTheRequestWith503() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        harness.faults.fault = .unavailable
        let error = await sessionError {
            try await client.send { _ = try await $0.get(Keys.count) }
        }
        #expect(error == .storeUnavailable(.unavailable(reason: "injected outage")))
        #expect(error?.status == .serviceUnavailable)
        let fields = try #require(error).responseFields(retryAfterSeconds: harness.engine.configuration.retryAfterSeconds)
        #expect(fields[.retryAfter] == "5")
        #expect(fields[.cacheControl] == "no-store")
        #expect(try #require(error).responseFields(retryAfterSeconds: 30)[.retryAfter] == "30")
        #expect(error?.publicMessage.contains("injected") == false)
    }

    @Test func sessionIsIntactAfterTheOutage() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let token = client.cookie
        harness.faults.fault = .unavailable
        for _ in 0..<3 {
            _ = await sessionError { try await client.send { try await $0.set(Keys.count, 2) } }
            _ = await sessionError { try await client.send { _ = try await $0.get(Keys.count) } }
        }
        harness.faults.fault = .none
        #expect(client.cookie == token, "the outage replaced or cleared the client's cookie")
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
        #expect(harness.memory.count == 1)
    }

    @Test func treatAsAnonymousReadsNilButWritesFail() async throws {
        var configuration = SessionConfiguration()
        configuration.loadFailurePolicy = .treatAsAnonymous
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession()
        let token = client.cookie
        harness.faults.fault = .unavailable

        // Reads continue as anonymous, and the response does not touch the cookie.
        let (value, response) = try await client.request { try await $0.get(Keys.count) }
        #expect(value == nil)
        #expect(response.fields.isEmpty, "an outage must not clear or replace the cookie")

        // A write makes the commit fail, so the real session is never replaced.
        for action in ["set", "regenerate", "signIn", "csrf", "flash"] {
            let error = await sessionError {
                try await client.send { session in
                    switch action {
                    case "set": try await session.set(Keys.count, 2)
                    case "regenerate":
                        try await session.set(Keys.count, 2)
                        try await session.regenerate()
                    case "signIn": try await session.signIn(userID: "mallory")
                    case "csrf": _ = try await session.csrfToken()
                    default: try await session.flash(FlashMessage("hi"))
                    }
                }
            }
            #expect(error?.status == .serviceUnavailable, "\(action) did not fail")
        }
        #expect(harness.store.calls[.create] == nil)
        #expect(harness.store.calls[.rotate] == nil)

        harness.faults.fault = .none
        #expect(client.cookie == token)
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
        #expect(harness.memory.count == 1)
    }

    @Test func saveFailureOnPatchThrows() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let faults = harness.faults
        let error = await sessionError {
            try await client.send { session in
                #expect(try await session.get(Keys.count) == 1)
                faults.fault = .unavailable
                try await session.set(Keys.count, 2)
            }
        }
        #expect(error == .storeUnavailable(.unavailable(reason: "injected outage")))
        faults.fault = .none
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    /// Without a cookie nothing is loaded, so the load-failure policy cannot save the create.
    @Test(arguments: [SessionConfiguration.LoadFailurePolicy.failRequest, .treatAsAnonymous])
    func saveFailureOnCreateThrows(_ policy: SessionConfiguration.LoadFailurePolicy) async throws {
        var configuration = SessionConfiguration()
        configuration.loadFailurePolicy = policy
        let harness = try Harness(configuration: configuration)
        harness.faults.fault = .unavailable
        let client = harness.client()
        let error = await sessionError { try await client.send { try await $0.set(Keys.count, 1) } }
        #expect(error == .storeUnavailable(.unavailable(reason: "injected outage")))
        #expect(error?.status == .serviceUnavailable)
        #expect(client.cookie == nil)
        #expect(harness.memory.count == 0)
        // After the outage the same request creates the session.
        harness.faults.fault = .none
        try await client.send { try await $0.set(Keys.count, 1) }
        #expect(client.cookie != nil)
    }

    @Test func failureOnRegenerateKeepsTheOldSession() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let token = client.cookie
        let faults = harness.faults
        let error = await sessionError {
            try await client.send { session in
                _ = try await session.get(Keys.count)
                faults.fault = .unavailable
                try await session.regenerate()
            }
        }
        #expect(error?.status == .serviceUnavailable)
        faults.fault = .none
        #expect(client.cookie == token)
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    @Test func destroyDuringAnOutageFailsInsteadOfPretending() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        harness.faults.fault = .unavailable
        let error = await sessionError { try await client.send { try $0.destroy() } }
        #expect(error?.status == .serviceUnavailable)
        harness.faults.fault = .none
        #expect(harness.memory.count == 1)
    }

    @Test func touchFailureFailsTheRequest() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        harness.clock.advance(by: .seconds(120))
        let faults = harness.faults
        let error = await sessionError {
            try await client.send { session in
                _ = try await session.get(Keys.count)
                faults.fault = .unavailable
            }
        }
        #expect(error?.status == .serviceUnavailable)
        faults.fault = .none
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func hangingStoreTimesOutPromptly() async throws {
        var configuration = SessionConfiguration()
        configuration.storeTimeout = .milliseconds(100)
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession()
        let token = client.cookie
        harness.faults.fault = .hang
        defer { harness.faults.fault = .none }

        // The time limit fails the test if the call waits for the fault instead of the deadline.
        let error = await sessionError { try await client.send { _ = try await $0.get(Keys.count) } }
        #expect(error == .storeUnavailable(.timedOut))
        #expect(error?.status == .serviceUnavailable)

        // A write that hangs times out too.
        let writeError = await sessionError { try await harness.client().send { try await $0.set(Keys.count, 5) } }
        #expect(writeError == .storeUnavailable(.timedOut))

        // Release the hung calls; the session survived the outage.
        harness.faults.fault = .none
        #expect(client.cookie == token)
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    /// The deadline is structured: cancelling the request (a client that went away) cancels
    /// the store call it waits on, long before the store timeout. Before, the call ran in an
    /// unstructured task and the request waited for the full timeout.
    @Test(.timeLimit(.minutes(1)))
    func cancellingTheRequestCancelsTheStoreCall() async throws {
        var configuration = SessionConfiguration()
        configuration.storeTimeout = .seconds(3600)
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession()
        harness.faults.fault = .hang
        defer { harness.faults.fault = .none }

        let request = Task { await sessionError { try await client.send { _ = try await $0.get(Keys.count) } } }
        while harness.faults.hungCalls == 0 { await Task.yield() }
        request.cancel()
        let error = await request.value
        #expect(error?.code == .storeUnavailable)
        #expect(harness.faults.hungCalls == 0, "the cancelled store call is still waiting")
    }

    @Test func fastStoreIsNotAffectedByTheTimeout() async throws {
        var configuration = SessionConfiguration()
        configuration.storeTimeout = .milliseconds(100)
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession()
        for value in 2...20 {
            try await client.send { try await $0.set(Keys.count, value) }
        }
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 20)
    }

    @Test func errorStatusesAndMessages() {
        #expect(SessionError.storeUnavailable(.timedOut).status == .serviceUnavailable)
        #expect(SessionError.conflict.status == .conflict)
        #expect(SessionError.tooManySessions(limit: 3).status == .forbidden)
        #expect(SessionError.typeMismatch(key: "k", expected: "Int").status == .internalServerError)
        #expect(SessionError.encodingFailed(key: "k").status == .internalServerError)
        #expect(SessionError.conflict.responseFields(retryAfterSeconds: 5)[.retryAfter] == nil)
        #expect(SessionError.conflict.responseFields(retryAfterSeconds: 5)[.cacheControl] == "no-store")
        #expect(SessionError.tooManySessions(limit: 3).publicMessage.contains("3"))
        #expect(!SessionError.storeUnavailable(.unavailable(reason: "db password wrong")).publicMessage.contains("password"))
    }
}
