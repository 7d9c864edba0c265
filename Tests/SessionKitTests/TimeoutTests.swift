import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Idle and absolute timeouts")
struct TimeoutTests {
    /// Reads the count; `nil` once the session has ended.
    func read(_ client: EngineTestClient) async throws -> Int? {
        try await client.request { try await $0.get(Keys.count) }.value
    }

    @Test func idleTimeoutEndsTheSession() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        harness.clock.advance(by: .seconds(29 * 60 + 59))
        #expect(try await read(client) == 1, "ended before the 30-minute idle timeout")

        let other = try await harness.clientWithSession(count: 2)
        harness.clock.advance(by: .seconds(30 * 60))
        #expect(try await read(other) == nil, "still alive at the 30-minute idle timeout")
        // An expired session's cookie never authenticates again.
        harness.clock.advance(by: .seconds(1))
        #expect(try await read(other) == nil)
    }

    @Test func writingToAnExpiredSessionStartsANewOne() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        let old = try #require(client.cookie)
        harness.clock.advance(by: .seconds(31 * 60))
        let response = try await client.send { session in
            #expect(try await session.get(Keys.count) == nil)
            try await session.set(Keys.count, 2)
        }
        let cookie = try #require(response.setCookie)
        #expect(cookie.value != old)
        #expect(try await harness.record(for: cookie.value)?.createdAt == harness.clock.now())
    }

    @Test func activityKeepsTheSessionAliveUntilTheAbsoluteTimeout() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        let token = client.cookie
        // A read every 20 minutes for 11 h 40 min: each one touches and extends the idle expiry.
        for step in 1...35 {
            harness.clock.advance(by: .seconds(20 * 60))
            #expect(try await read(client) == 1, "ended after \(step * 20) minutes of activity")
        }
        #expect(client.cookie == token)
        let record = try #require(try await harness.record(for: token))
        #expect(record.absoluteExpiresAt == testEpoch.addingTimeInterval(12 * 3600))
        #expect(record.idleExpiresAt <= record.absoluteExpiresAt, "idle expiry was extended past the absolute one")
        #expect(record.expiresAt == testEpoch.addingTimeInterval(12 * 3600))
        // 12 h after creation it ends however busy it was.
        harness.clock.advance(by: .seconds(20 * 60))
        #expect(try await read(client) == nil)
    }

    @Test func writesNeverExtendPastTheAbsoluteTimeout() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 0)
        for step in 1...71 {
            harness.clock.advance(by: .seconds(10 * 60))
            try await client.send { try await $0.set(Keys.count, step) }
        }
        // 11 h 50 min: alive.
        #expect(try await read(client) == 71)
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.idleExpiresAt == testEpoch.addingTimeInterval(12 * 3600))
        harness.clock.advance(by: .seconds(10 * 60))
        #expect(try await read(client) == nil)
    }

    @Test func signInResetsCreatedAtAndTheAbsoluteTimeout() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        for _ in 1...33 {  // 11 h
            harness.clock.advance(by: .seconds(20 * 60))
            #expect(try await read(client) == 1)
        }
        let signInTime = harness.clock.now()
        try await client.send { try await $0.signIn(userID: "alice") }
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.createdAt == signInTime)
        #expect(record.absoluteExpiresAt == signInTime.addingTimeInterval(12 * 3600))
        #expect(try await client.request { try await $0.createdAt }.value == signInTime)
        // Past the original 12 h the signed-in session lives on.
        for _ in 1...6 {  // 13 h after the original creation
            harness.clock.advance(by: .seconds(20 * 60))
            #expect(try await read(client) == 1)
        }
        #expect(try await client.request { try await $0.userID }.value == "alice")
    }

    @Test func plainRegenerateKeepsCreatedAtAndTheAbsoluteTimeout() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        for _ in 1...33 {  // 11 h
            harness.clock.advance(by: .seconds(20 * 60))
            #expect(try await read(client) == 1)
        }
        let before = client.cookie
        try await client.send { try await $0.regenerate() }
        #expect(client.cookie != before)
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.createdAt == testEpoch)
        #expect(record.absoluteExpiresAt == testEpoch.addingTimeInterval(12 * 3600))
        for _ in 1...2 {  // 11 h 40 min
            harness.clock.advance(by: .seconds(20 * 60))
            #expect(try await read(client) == 1)
        }
        harness.clock.advance(by: .seconds(20 * 60))  // 12 h
        #expect(try await read(client) == nil, "regenerate reset the absolute timeout")
    }

    @Test func customTimeoutsAreHonoured() async throws {
        var configuration = SessionConfiguration()
        configuration.idleTimeout = .seconds(120)
        configuration.absoluteTimeout = .seconds(300)
        configuration.touchInterval = .seconds(10)
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession(count: 1)
        harness.clock.advance(by: .seconds(119))
        #expect(try await read(client) == 1)
        harness.clock.advance(by: .seconds(119))
        #expect(try await read(client) == 1)
        harness.clock.advance(by: .seconds(61))  // 299 s
        #expect(try await read(client) == 1)
        harness.clock.advance(by: .seconds(1))  // 300 s
        #expect(try await read(client) == nil)
    }

    @Test func idleExpiryIsExtendedOnlyByTouchOrWrite() async throws {
        var configuration = SessionConfiguration()
        configuration.touchInterval = .seconds(60)
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession(count: 1)
        // The touch interval counts from the last write or touch, not from the last read:
        // a read 50 s after the write does not touch, the one 100 s after it does.
        harness.clock.advance(by: .seconds(50))
        _ = try await read(client)
        #expect(harness.store.calls == [.load: 1])
        harness.clock.advance(by: .seconds(50))
        _ = try await read(client)
        #expect(harness.store.calls == [.load: 2, .touch: 1])
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.idleExpiresAt == testEpoch.addingTimeInterval(100 + 1800))
    }
}
