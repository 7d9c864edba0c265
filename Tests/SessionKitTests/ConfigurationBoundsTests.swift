import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

/// Issue 13 findings #6 and #12: reserved key names are enforced, and configurations a browser
/// or a store cannot honour are refused when the engine is created.
@Suite("Reserved keys and configuration bounds")
struct ConfigurationBoundsTests {
    @Test("setting or removing a key under the reserved _sk. prefix is a 400 and writes nothing")
    func reservedKeysAreRefused() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        for name in ["_sk.persistent", "_sk.csrf", "_sk.flash", "_sk.anything"] {
            await #expect(throws: SessionError.reservedKey(name)) {
                try await client.send { try await $0.set(SessionKey<Bool>(name), true) }
            }
            await #expect(throws: SessionError.reservedKey(name)) {
                try await client.send { try await $0.remove(SessionKey<Bool>(name)) }
            }
        }
        #expect(SessionError.reservedKey("_sk.x").status == .badRequest)
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.data.keys.sorted() == [Keys.count.name], "a reserved key was written: \(record.data.keys)")
        // SessionKit's own helpers still use their reserved keys, and look-alikes are ordinary.
        try await client.send { session in
            _ = try await session.csrfToken()
            try await session.flash(FlashMessage("hi"))
            try await session.set(SessionKey<Bool>("sk.persistent"), true)
            try await session.set(SessionKey<Bool>("_SK.persistent"), true)
        }
        #expect(try await client.request { try await $0.consumeFlashes().map(\.text) }.value == ["hi"])
    }

    /// Issue 13 #5: names with NUL, or not in NFC, would be one key in Swift and two in a store
    /// (or unwritable in `jsonb`); they are refused with 400. Every other name is an ordinary key.
    @Test func keyNamesWithNulOrNotInNFCAreRefused() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        for name in ["nul\u{0}inside", "\u{0}", "e\u{301}", "cafe\u{301}"] {
            await #expect(throws: SessionError.invalidKey(name)) {
                try await client.send { try await $0.set(SessionKey<Int>(name), 1) }
            }
            await #expect(throws: SessionError.invalidKey(name)) {
                try await client.send { try await $0.remove(SessionKey<Int>(name)) }
            }
        }
        #expect(SessionError.invalidKey("\u{0}").status == .badRequest)
        let accepted = ["é", "café", "\\u005fsk.csrf", "a\"b", "$.a[0]", "%00", "🔑", "tab\there"]
        try await client.send { session in
            for (index, name) in accepted.enumerated() { try await session.set(SessionKey<Int>(name), index) }
        }
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(Set(record.data.keys) == Set(accepted + [Keys.count.name]))
    }

    /// Issue 13 #7: a session has key and byte limits. A write over either is refused with 413
    /// and writes nothing; a write that shrinks an oversized view is never refused.
    @Test func perSessionLimitsRefuseGrowthWith413() async throws {
        var configuration = SessionConfiguration()
        configuration.maxKeysPerSession = 3
        configuration.maxBytesPerSession = 100
        let harness = try Harness(configuration: configuration)
        let client = try await harness.clientWithSession(count: 1)
        try await client.send { session in
            try await session.set(SessionKey<Int>("a"), 1)
            try await session.set(SessionKey<Int>("b"), 2)
        }
        let tooMany = await sessionError { try await client.send { try await $0.set(SessionKey<Int>("c"), 3) } }
        #expect(tooMany?.code == .sessionTooLarge && tooMany?.keys == 4 && tooMany?.maxKeys == 3)
        #expect(tooMany?.status == .contentTooLarge)
        let tooBig = await sessionError { try await client.send { try await $0.set(SessionKey<String>("a"), String(repeating: "é", count: 45)) } }
        #expect(
            tooBig?.code == .sessionTooLarge && (tooBig?.size ?? 0) > 100,
            "limits count UTF-8 bytes: 45 × é is 45 Characters but 90 bytes (+ quotes and the other keys)"
        )
        let record = try #require(try await harness.record(for: client.cookie))
        #expect(record.data.keys.sorted() == ["a", "b", Keys.count.name], "a refused write changed the session")
        // Shrinking always works.
        try await client.send { try await $0.remove(SessionKey<Int>("a")) }
        try await client.send { try await $0.set(SessionKey<Int>("c"), 3) }
        #expect(throws: SessionConfigurationError.self) {
            var invalid = SessionConfiguration()
            invalid.maxKeysPerSession = 0
            try invalid.validate()
        }
    }

    /// A session already over a lowered limit may still be written as long as the write does
    /// not make it larger: replacing a big value by a smaller one is not refused.
    @Test func aSessionOverALoweredLimitCanStillShrinkByAWrite() async throws {
        let harness = try Harness()
        let client = try await harness.clientWithSession(count: 1)
        try await client.send { try await $0.set(SessionKey<String>("big"), String(repeating: "x", count: 200)) }
        var lowered = harness.engine.configuration
        lowered.maxBytesPerSession = 100
        let strict = harness.client(try harness.sibling(lowered), cookie: client.cookie)
        try await strict.send { session in
            try await session.set(SessionKey<String>("big"), String(repeating: "x", count: 150))
            try await session.set(Keys.count, 2)
        }
        #expect(try await harness.record(for: client.cookie)?.data["big"]?.count == 152)
        let grows = await sessionError { try await strict.send { try await $0.set(SessionKey<String>("big"), String(repeating: "x", count: 160)) } }
        #expect(grows?.code == .sessionTooLarge, "a write that grows a session over its limit was accepted")
    }

    @Test("timeouts over 400 days are refused at start-up instead of overflowing later")
    func hugeTimeoutsAreRefused() throws {
        var configuration = SessionConfiguration()
        configuration.absoluteTimeout = .seconds(401 * 86_400)
        #expect(throws: SessionConfigurationError.self) { try SessionEngine(store: MemorySessionStore(), configuration: configuration) }
        configuration = SessionConfiguration()
        configuration.rememberMe = .init(idleTimeout: .seconds(86_400), absoluteTimeout: .seconds(Int64.max / 4))
        #expect(throws: SessionConfigurationError.self) { try SessionEngine(store: MemorySessionStore(), configuration: configuration) }
        configuration = SessionConfiguration()
        configuration.rememberMe = .init(idleTimeout: .seconds(86_400), absoluteTimeout: .seconds(400 * 86_400))
        _ = try SessionEngine(store: MemorySessionStore(), configuration: configuration)
    }

    @Test("the __Host- and __Secure- prefixes are checked case-insensitively, as browsers match them")
    func cookiePrefixesIgnoreCase() throws {
        for name in ["__HOST-id", "__host-id", "__Host-id"] {
            var options = SessionCookieOptions(name: name)
            options.secure = false
            #expect(throws: SessionConfigurationError.self, "\(name) without Secure") { try options.validate() }
            options = SessionCookieOptions(name: name)
            options.domain = "example.com"
            #expect(throws: SessionConfigurationError.self, "\(name) with a Domain") { try options.validate() }
        }
        for name in ["__SECURE-id", "__secure-id"] {
            var options = SessionCookieOptions(name: name)
            options.secure = false
            #expect(throws: SessionConfigurationError.self, "\(name) without Secure") { try options.validate() }
        }
    }

    @Test("placeholder keys (all zeros, one repeated byte) are refused like short ones")
    func placeholderKeysAreRefused() throws {
        #expect(throws: SessionConfigurationError.self) { try KeyRing.Key(name: "zero", secret: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: SessionConfigurationError.self) { try KeyRing.Key(name: "aaaa", secret: Array(String(repeating: "a", count: 64).utf8)) }
        #expect(throws: SessionConfigurationError.self) { try KeyRing.Key(name: "short", secret: Array(0..<31)) }
        _ = try KeyRing.Key(name: "ok", secret: Array(0..<32))
    }
}
