import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

/// Shared set-up for the sealed-cookie tests.
private enum Sealed {
    static let start = Date(timeIntervalSince1970: 1_700_000_000)

    static let value = SessionKey<String>("value")
    static let number = SessionKey<Int>("number")
    static let blob = SessionKey<String>("blob")

    static let secretA = Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let secretB = Data((0..<32).map { UInt8(200 - $0) }).base64EncodedString()
    static let secretC = Data((0..<32).map { UInt8(truncatingIfNeeded: 99 &+ $0 &* 7) }).base64EncodedString()

    static func ring(_ text: String) -> KeyRing {
        // The fixtures are valid; a failure here is a test bug.
        do { return try KeyRing.parse(text) } catch { fatalError("bad fixture ring \(text): \(error)") }
    }

    static var ringA: KeyRing { ring("k1=\(secretA)") }

    static func configuration(
        cookieName: String = "__Host-id",
        idle: Duration = .seconds(30 * 60),
        absolute: Duration = .seconds(2 * 3600),
        touch: Duration = .seconds(60)
    ) -> SessionConfiguration {
        SessionConfiguration(
            cookie: SessionCookieOptions(name: cookieName),
            idleTimeout: idle,
            absoluteTimeout: absolute,
            touchInterval: touch
        )
    }

    static func decoded(_ value: String) -> [UInt8]? { Base64URL.decode(value.utf8) }
    static func encoded(_ bytes: [UInt8]) -> String { Base64URL.encode(bytes) }

    /// The session error a throwing operation produced (recording an issue otherwise).
    static func sessionError(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ operation: () async throws -> Void
    ) async -> SessionError? {
        do {
            try await operation()
            Issue.record("expected a SessionError, nothing was thrown", sourceLocation: sourceLocation)
            return nil
        } catch let error as SessionError {
            return error
        } catch {
            Issue.record("expected a SessionError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}

/// An engine over sealed cookies with a controllable clock and an optional counting
/// revocation store.
private struct SealedHarness {
    let clock: TestClock
    let memory: MemorySessionStore
    let revocations: CountingSessionStore
    let engine: SessionEngine

    init(
        ring: KeyRing = Sealed.ringA,
        configuration: SessionConfiguration = Sealed.configuration(),
        clock: TestClock = TestClock(start: Sealed.start),
        revocation: Bool = true
    ) throws {
        self.clock = clock
        memory = MemorySessionStore(clock: clock)
        revocations = CountingSessionStore(memory)
        engine = try SessionEngine(
            sealedCookies: SealedCookieBackend(keyRing: ring, revocationStore: revocation ? revocations : nil),
            configuration: configuration,
            clock: clock
        )
    }

    /// Another engine over the same clock and revocation store, with another ring or cookie name.
    func sibling(ring: KeyRing, configuration: SessionConfiguration? = nil) throws -> SessionEngine {
        try SessionEngine(
            sealedCookies: SealedCookieBackend(keyRing: ring, revocationStore: revocations),
            configuration: configuration ?? engine.configuration,
            clock: clock
        )
    }

    func client(cookie: String? = nil) -> EngineTestClient {
        let client = EngineTestClient(engine: engine)
        client.cookie = cookie
        return client
    }

    var cookieName: String { engine.configuration.cookie.name }
}

/// What a request saw of its session, for comparing rejected cookies.
private struct Observed: Sendable, Equatable, CustomStringConvertible {
    var value: String?
    var user: String?
    var empty: Bool

    static let anonymous = Observed(value: nil, user: nil, empty: true)

    var description: String { "value=\(value ?? "nil") user=\(user ?? "nil") empty=\(empty)" }
}

extension EngineTestClient {
    /// Reads the session as anonymous-or-not, sending `cookie` verbatim (not the jar).
    fileprivate func observe(cookie value: String, name: String) async throws -> (Observed, EngineTestClient.Response) {
        var fields = HTTPFields()
        fields[.cookie] = "\(name)=\(value)"
        let (observed, response) = try await request(headers: fields) { session in
            Observed(
                value: try await session.get(Sealed.value),
                user: try await session.userID,
                empty: try await session.isEmpty
            )
        }
        return (observed, response)
    }
}

@Suite("Sealed cookies")
struct SealedCookieTests {
    // MARK: Round trip

    @Test func valuesRoundTripThroughTheCookie() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        let first = try await client.send { session in
            try await session.set(Sealed.value, "hello sealed world")
            try await session.set(Sealed.number, 424_242)
        }
        let cookie = try #require(first.setCookie)
        #expect(cookie.name == "__Host-id")
        #expect(!cookie.isDeletion)
        #expect(!cookie.isPersistent)
        #expect(cookie.attributes["httponly"] == "")
        #expect(cookie.attributes["secure"] == "")
        #expect(cookie.attributes["samesite"] == "Lax")
        #expect(first.fields[.vary] == "Cookie")
        #expect(first.fields[.cacheControl] == "no-store")

        let (value, number) = try await client.request { session in
            (try await session.get(Sealed.value), try await session.get(Sealed.number))
        }.value
        #expect(value == "hello sealed world")
        #expect(number == 424_242)
        #expect(harness.revocations.total == 0)
    }

    @Test func cookieValueIsBase64URLAndHidesThePlaintext() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Sealed.value, "hello sealed world")
            try await session.set(Sealed.number, 424_242)
        }
        let value = try #require(client.cookie)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        #expect(value.utf8.allSatisfy { alphabet.contains($0) })
        #expect(!value.contains("="))
        let bytes = try #require(Sealed.decoded(value))
        #expect(bytes.first == SealedCookieCodec.version)
        #expect(bytes.count > SealedCookieCodec.overhead)
        let raw = String(decoding: bytes, as: UTF8.self)
        for secret in ["hello", "sealed", "world", "424242", "value", "number"] {
            #expect(!value.contains(secret))
            #expect(!raw.contains(secret))
        }
        // The key ID in the header is the current key's.
        let id = bytes[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(id == Sealed.ringA.current.id)
    }

    @Test func sealingTheSameSessionTwiceGivesDifferentValues() async throws {
        let harness = try SealedHarness()
        let a = harness.client()
        let b = harness.client()
        try await a.send { try await $0.set(Sealed.value, "same") }
        try await b.send { try await $0.set(Sealed.value, "same") }
        #expect(a.cookie != nil)
        #expect(a.cookie != b.cookie)
    }

    @Test func changingAValueReSealsAndRemovingTheLastValueDeletes() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "one") }
        let first = try #require(client.cookie)
        let changed = try await client.send { try await $0.set(Sealed.value, "two") }
        #expect(changed.setCookie != nil)
        #expect(client.cookie != first)
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == "two")
        let removed = try await client.send { try await $0.remove(Sealed.value) }
        #expect(removed.setCookie?.isDeletion == true)
        #expect(client.cookie == nil)
    }

    @Test func readOnlyAnonymousAndUntouchedRequestsSendNothing() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        #expect(try await client.send { _ = try await $0.get(Sealed.value) }.fields.isEmpty)
        try await client.send { try await $0.set(Sealed.value, "x") }
        #expect(try await client.send { _ in }.fields.isEmpty)
        harness.clock.advance(by: .seconds(10))
        #expect(try await client.send { _ = try await $0.get(Sealed.value) }.fields == userSpecificFields)
        #expect(harness.revocations.total == 0)
    }

    // MARK: Tampering

    /// A session with a value and no user, sealed by `harness`; returns the cookie value.
    private func sealedValue(_ harness: SealedHarness, user: String? = nil) async throws -> String {
        let client = harness.client()
        try await client.send { session in
            try await session.set(Sealed.value, "secret payload")
            if let user { try await session.signIn(userID: user) }
        }
        let value = try #require(client.cookie)
        harness.revocations.reset()
        // Sanity: the untampered value is accepted.
        let (observed, _) = try await harness.client().observe(cookie: value, name: harness.cookieName)
        #expect(observed.value == "secret payload")
        harness.revocations.reset()
        return value
    }

    /// Sends `value` under the harness's cookie name and checks it is treated exactly like no
    /// session: anonymous, no response fields, no store call.
    private func expectRejected(
        _ value: String,
        _ harness: SealedHarness,
        name: String? = nil,
        _ comment: Comment? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let (observed, response) = try await harness.client().observe(cookie: value, name: name ?? harness.cookieName)
            #expect(observed == .anonymous, comment, sourceLocation: sourceLocation)
            #expect(response.fields.isEmpty, comment, sourceLocation: sourceLocation)
            #expect(harness.revocations.total == 0, comment, sourceLocation: sourceLocation)
        } catch {
            Issue.record("a tampered cookie threw \(error) \(comment.map { "(\($0))" } ?? "")", sourceLocation: sourceLocation)
        }
        harness.revocations.reset()
    }

    @Test func everyFlippedByteIsRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        let bytes = try #require(Sealed.decoded(value))
        for position in bytes.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var tampered = bytes
                tampered[position] ^= mask
                await expectRejected(Sealed.encoded(tampered), harness, "byte \(position) ^ \(mask)")
            }
        }
    }

    @Test func everyFlippedByteOfASignedInCookieIsRejectedWithoutAnEpochRead() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness, user: "alice")
        let bytes = try #require(Sealed.decoded(value))
        for position in bytes.indices {
            var tampered = bytes
            tampered[position] ^= 0x20
            await expectRejected(Sealed.encoded(tampered), harness, "byte \(position)")
        }
    }

    @Test func everyChangedCharacterIsRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        let characters = Array(value)
        for position in characters.indices {
            var tampered = characters
            tampered[position] = tampered[position] == "A" ? "B" : "A"
            await expectRejected(String(tampered), harness, "character \(position)")
        }
    }

    @Test func truncatedValuesAreRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        let bytes = try #require(Sealed.decoded(value))
        let byteLengths = Set([
            0, 1, 4, 5, 20, 21, 32, 33, 48, 49, 50, bytes.count / 2, bytes.count - 17, bytes.count - 16, bytes.count - 2, bytes.count - 1,
        ])
        for length in byteLengths.sorted() where length < bytes.count {
            await expectRejected(Sealed.encoded(Array(bytes.prefix(length))), harness, "first \(length) bytes")
            await expectRejected(Sealed.encoded(Array(bytes.suffix(length))), harness, "last \(length) bytes")
        }
        for length in [1, 2, 3, 10, 43, 44, 65, value.count / 2, value.count - 3, value.count - 2, value.count - 1] {
            await expectRejected(String(value.prefix(length)), harness, "first \(length) characters")
        }
    }

    @Test func appendedBytesAreRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        let bytes = try #require(Sealed.decoded(value))
        for extra in [[0x00], [0xFF], [0, 0, 0], Array(bytes.suffix(16)), [UInt8](repeating: 7, count: 100)] as [[UInt8]] {
            await expectRejected(Sealed.encoded(bytes + extra), harness, "+\(extra.count) bytes")
            await expectRejected(Sealed.encoded(extra + bytes), harness, "\(extra.count) bytes prepended")
        }
        for suffix in ["A", "AA", "AAA", "AAAA", "=", "==", ".x", "%00"] {
            await expectRejected(value + suffix, harness, "+\"\(suffix)\"")
        }
    }

    @Test func emptyValueIsRejected() async throws {
        let harness = try SealedHarness()
        await expectRejected("", harness, "empty")
    }

    @Test func tenKilobyteValueIsRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        await expectRejected(String(repeating: "A", count: 10 * 1024), harness, "10 KB of A")
        let padded = value + String(repeating: "A", count: 10 * 1024 - value.count)
        await expectRejected(padded, harness, "real value padded to 10 KB")
    }

    @Test func junkValuesAreRejected() async throws {
        let harness = try SealedHarness()
        var generator = SystemRandomNumberGenerator()
        let junk: [String] = [
            "x", "null", "deleted", String(repeating: "A", count: 43), String(repeating: "_", count: 200),
            "%00%00", "a b c", "\u{7F}",
            Sealed.encoded((0..<120).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            Sealed.encoded([SealedCookieCodec.version] + (0..<120).map { _ in UInt8.random(in: 0...255, using: &generator) }),
        ]
        for value in junk {
            await expectRejected(value, harness, "junk \(value.prefix(20))")
        }
    }

    @Test func wrongVersionByteIsRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        let bytes = try #require(Sealed.decoded(value))
        for version: UInt8 in [0, 2, 3, 0x7F, 0x81, 0xFF] {
            var tampered = bytes
            tampered[0] = version
            await expectRejected(Sealed.encoded(tampered), harness, "version \(version)")
        }
    }

    @Test func valueSealedForAnotherCookieNameIsRejected() async throws {
        let clock = TestClock(start: Sealed.start)
        let idHarness = try SealedHarness(configuration: Sealed.configuration(cookieName: "id"), clock: clock)
        let otherEngine = try idHarness.sibling(ring: Sealed.ringA, configuration: Sealed.configuration(cookieName: "other"))
        let value = try await sealedValue(idHarness)

        let otherClient = EngineTestClient(engine: otherEngine)
        let (observed, response) = try await otherClient.observe(cookie: value, name: "other")
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)
        #expect(idHarness.revocations.total == 0)

        // And the other way round: a value sealed for `other` is no good under `id`.
        try await otherClient.send { try await $0.set(Sealed.value, "for other") }
        let otherValue = try #require(otherClient.cookie)
        #expect(try await otherClient.request { try await $0.get(Sealed.value) }.value == "for other")
        await expectRejected(otherValue, idHarness, name: "id", "sealed for other, sent as id")
    }

    @Test func valueSealedUnderAnotherKeyRingIsRejected() async throws {
        let harness = try SealedHarness()
        // Same key name (same key ID), different secret: authentication fails.
        let sameName = try SealedHarness(ring: Sealed.ring("k1=\(Sealed.secretB)"), clock: harness.clock)
        let sameNameValue = try await sealedValue(sameName)
        await expectRejected(sameNameValue, harness, "same key name, other secret")
        // Different key name: unknown key ID.
        let otherName = try SealedHarness(ring: Sealed.ring("zz=\(Sealed.secretB)"), clock: harness.clock)
        let otherNameValue = try await sealedValue(otherName)
        await expectRejected(otherNameValue, harness, "other key name")
        // An ephemeral ring.
        let ephemeral = try SealedHarness(ring: .ephemeral(name: "k1"), clock: harness.clock)
        let ephemeralValue = try await sealedValue(ephemeral)
        await expectRejected(ephemeralValue, harness, "ephemeral ring")
    }

    @Test func duplicatedCookieIsRejected() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        var fields = HTTPFields()
        fields[.cookie] = "__Host-id=\(value); __Host-id=\(value)"
        let (observed, response) = try await harness.client().request(headers: fields) { session in
            Observed(value: try await session.get(Sealed.value), user: try await session.userID, empty: try await session.isEmpty)
        }
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)
    }

    @Test func writingAfterARejectedCookieStartsAFreshSession() async throws {
        let harness = try SealedHarness()
        let value = try await sealedValue(harness)
        var bytes = try #require(Sealed.decoded(value))
        bytes[40] ^= 1
        let client = harness.client(cookie: Sealed.encoded(bytes))
        let response = try await client.send { session in
            #expect(try await session.get(Sealed.value) == nil)
            try await session.set(Sealed.number, 1)
        }
        #expect(response.setCookie?.isDeletion == false)
        #expect(try await client.request { try await $0.get(Sealed.number) }.value == 1)
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == nil)
    }

    // MARK: Key rotation

    @Test func rotationAcceptsPreviousKeyAndReSealsUnderCurrent() async throws {
        let clock = TestClock(start: Sealed.start)
        let harnessA = try SealedHarness(ring: Sealed.ring("k1=\(Sealed.secretA)"), clock: clock)
        let engineB = try harnessA.sibling(ring: Sealed.ring("k2=\(Sealed.secretB),k1=\(Sealed.secretA)"))
        let engineC = try harnessA.sibling(ring: Sealed.ring("k2=\(Sealed.secretB)"))

        let clientA = harnessA.client()
        try await clientA.send { try await $0.set(Sealed.value, "rotating") }
        let oldValue = try #require(clientA.cookie)

        // B reads the old cookie, within the touch interval, without changing anything.
        let clientB = EngineTestClient(engine: engineB)
        clientB.cookie = oldValue
        let (read, response) = try await clientB.request { try await $0.get(Sealed.value) }
        #expect(read == "rotating")
        let reSealed = try #require(response.setCookie)
        #expect(!reSealed.isDeletion)
        #expect(reSealed.value != oldValue)
        let newBytes = try #require(Sealed.decoded(reSealed.value))
        let newID = newBytes[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(newID == KeyRing.keyID(forName: "k2"))

        // B reading its own (current-key) cookie does not re-seal again.
        let (again, quiet) = try await clientB.request { try await $0.get(Sealed.value) }
        #expect(again == "rotating")
        #expect(quiet.setCookie == nil)

        // C (k1 removed) accepts the new cookie but not the old one.
        let clientC = EngineTestClient(engine: engineC)
        let (fromNew, _) = try await clientC.observe(cookie: reSealed.value, name: "__Host-id")
        #expect(fromNew.value == "rotating")
        let (fromOld, oldResponse) = try await clientC.observe(cookie: oldValue, name: "__Host-id")
        #expect(fromOld == .anonymous)
        #expect(oldResponse.fields.isEmpty)
    }

    @Test func revokedOrRemovedKeyMakesOldCookiesAnonymousWithoutErrors() async throws {
        let clock = TestClock(start: Sealed.start)
        let harnessA = try SealedHarness(ring: Sealed.ring("k1=\(Sealed.secretA)"), clock: clock)
        let revoked = try harnessA.sibling(ring: Sealed.ring("k2=\(Sealed.secretB),-k1"))
        let removed = try harnessA.sibling(ring: Sealed.ring("k2=\(Sealed.secretB)"))

        let clientA = harnessA.client()
        try await clientA.send { session in
            try await session.set(Sealed.value, "old")
            try await session.signIn(userID: "alice")
        }
        let oldValue = try #require(clientA.cookie)
        harnessA.revocations.reset()

        for engine in [revoked, removed] {
            let client = EngineTestClient(engine: engine)
            let (observed, response) = try await client.observe(cookie: oldValue, name: "__Host-id")
            #expect(observed == .anonymous)
            #expect(response.fields.isEmpty)
            #expect(harnessA.revocations.total == 0)
            // Writing then starts a new session under the new key.
            client.cookie = oldValue
            let write = try await client.send { try await $0.set(Sealed.value, "new") }
            let fresh = try #require(write.setCookie)
            #expect(!fresh.isDeletion)
            #expect(try await client.request { try await $0.userID }.value == nil)
        }
    }

    @Test func previousKeyCookieIsReSealedEvenWhenTheRequestWrites() async throws {
        let clock = TestClock(start: Sealed.start)
        let harnessA = try SealedHarness(ring: Sealed.ring("k1=\(Sealed.secretA)"), clock: clock)
        let engineB = try harnessA.sibling(ring: Sealed.ring("k2=\(Sealed.secretB),k1=\(Sealed.secretA)"))
        let engineC = try harnessA.sibling(ring: Sealed.ring("k2=\(Sealed.secretB)"))
        let clientA = harnessA.client()
        try await clientA.send { try await $0.set(Sealed.number, 1) }

        let clientB = EngineTestClient(engine: engineB)
        clientB.cookie = clientA.cookie
        try await clientB.send { session in
            let n = try await session.get(Sealed.number) ?? 0
            try await session.set(Sealed.number, n + 1)
        }
        let clientC = EngineTestClient(engine: engineC)
        clientC.cookie = clientB.cookie
        #expect(try await clientC.request { try await $0.get(Sealed.number) }.value == 2)
    }

    // MARK: Expiry

    @Test func idleTimeoutMakesTheSessionAnonymous() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "idle") }
        harness.clock.advance(by: .seconds(30 * 60 - 1))
        let stale = try #require(client.cookie)
        #expect(try await harness.client(cookie: stale).request { try await $0.get(Sealed.value) }.value == "idle")

        harness.clock.advance(by: .seconds(1))
        let (observed, response) = try await harness.client().observe(cookie: stale, name: harness.cookieName)
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)
        #expect(harness.revocations.total == 0)
    }

    @Test func activityKeepsTheSessionAliveUntilTheAbsoluteTimeout() async throws {
        // idle 30 min, absolute 2 h, touch interval 60 s.
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "busy") }

        // A read inside the touch interval does not re-seal.
        harness.clock.advance(by: .seconds(30))
        let early = try await client.request { try await $0.get(Sealed.value) }
        #expect(early.value == "busy")
        #expect(early.response.setCookie == nil)

        // Reads every 29 minutes re-seal (moving the idle expiry) and keep the session alive
        // well past the first idle expiry...
        var elapsed = 30
        for _ in 0..<4 {
            harness.clock.advance(by: .seconds(29 * 60))
            elapsed += 29 * 60
            let before = client.cookie
            let read = try await client.request { try await $0.get(Sealed.value) }
            #expect(read.value == "busy", "at \(elapsed) s")
            let reSealed = try #require(read.response.setCookie, "at \(elapsed) s")
            #expect(!reSealed.isDeletion)
            #expect(reSealed.value != before)
        }
        #expect(elapsed == 30 + 4 * 29 * 60)  // 116.5 minutes

        // ...but never beyond the absolute timeout (2 h after creation).
        harness.clock.advance(by: .seconds(2 * 3600 - elapsed - 1))
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == "busy")
        harness.clock.advance(by: .seconds(1))
        let late = try await client.request { try await $0.get(Sealed.value) }
        #expect(late.value == nil)
        #expect(late.response.fields.isEmpty)
    }

    @Test func reSealedCookieCarriesTheNewIdleExpiry() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "v") }
        let original = try #require(client.cookie)
        harness.clock.advance(by: .seconds(20 * 60))
        let touched = try await client.send { _ = try await $0.get(Sealed.value) }
        #expect(touched.setCookie != nil)
        let renewed = try #require(client.cookie)

        // 31 minutes after creation: the original has expired, the renewed one has not.
        harness.clock.advance(by: .seconds(11 * 60))
        let (old, _) = try await harness.client().observe(cookie: original, name: harness.cookieName)
        #expect(old == .anonymous)
        let (new, _) = try await harness.client().observe(cookie: renewed, name: harness.cookieName)
        #expect(new.value == "v")
    }

    @Test func signInResetsCreatedAtAndTheAbsoluteTimeout() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "cart") }
        #expect(try await client.request { try await $0.createdAt }.value == Sealed.start)

        harness.clock.advance(by: .seconds(25 * 60))
        let signIn = try await client.send { try await $0.signIn(userID: "alice") }
        #expect(signIn.setCookie != nil)
        let signedInAt = Sealed.start.addingTimeInterval(25 * 60)
        let (createdAt, user, value) = try await client.request { session in
            (try await session.createdAt, try await session.userID, try await session.get(Sealed.value))
        }.value
        #expect(createdAt == signedInAt)
        #expect(user == "alice")
        #expect(value == "cart")

        // Keep it busy: alive 2 h after the first visit (the old absolute limit)...
        for _ in 0..<4 {
            harness.clock.advance(by: .seconds(25 * 60))
            #expect(try await client.request { try await $0.userID }.value == "alice")
        }
        // now at 125 min from start = 100 min after sign-in.
        harness.clock.advance(by: .seconds(19 * 60))
        #expect(try await client.request { try await $0.userID }.value == "alice")
        // ...and gone 2 h after sign-in.
        harness.clock.advance(by: .seconds(60))
        #expect(try await client.request { try await $0.userID }.value == nil)
    }

    @Test func regenerateKeepsCreatedAtAndAbsoluteExpiry() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "v") }
        harness.clock.advance(by: .seconds(10 * 60))
        try await client.send { try await $0.regenerate() }
        #expect(try await client.request { try await $0.createdAt }.value == Sealed.start)
    }

    // MARK: Size limit

    @Test func oversizedSessionFailsCommitWithCookieTooLarge() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "small") }
        let before = client.cookie

        let error = await Sealed.sessionError {
            try await client.send { try await $0.set(Sealed.blob, String(repeating: "x", count: 5000)) }
        }
        let thrown = try #require(error)
        guard thrown.code == .cookieTooLarge, let size = thrown.size, let limit = thrown.limit else {
            Issue.record("expected cookieTooLarge, got \(thrown)")
            return
        }
        #expect(size > 4096)
        #expect(limit == 4096)
        #expect(thrown.status == .internalServerError)
        #expect(thrown.publicMessage.contains(String(size)))
        #expect(thrown.publicMessage.contains("4096"))
        // The jar keeps the previous, still valid cookie.
        #expect(client.cookie == before)
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == "small")
    }

    @Test func oversizedNewSessionFailsToo() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        let error = await Sealed.sessionError {
            try await client.send { try await $0.set(Sealed.blob, String(repeating: "y", count: 5000)) }
        }
        guard error?.code == .cookieTooLarge, let size = error?.size, let limit = error?.limit else {
            Issue.record("expected cookieTooLarge, got \(String(describing: error))")
            return
        }
        #expect(size > limit)
        #expect(limit == 4096)
        #expect(client.cookie == nil)
    }

    @Test func sessionJustUnderTheLimitFits() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.blob, String(repeating: "z", count: 2500)) }
        let value = try #require(client.cookie)
        #expect("__Host-id".utf8.count + 1 + value.utf8.count <= 4096)
        #expect(try await client.request { try await $0.get(Sealed.blob) }.value?.count == 2500)
    }

    // MARK: Revocation

    @Test func logoutWithoutReadingRevokesAStolenCopy() async throws {
        let clock = TestClock(start: Sealed.start)
        let memory = MemorySessionStore(clock: clock)
        let engine = try SessionEngine(
            sealedCookies: SealedCookieBackend(keyRing: Sealed.ringA, revocationStore: memory),
            configuration: Sealed.configuration(),
            clock: clock
        )
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.signIn(userID: "alice") }
        let stolen = try #require(client.cookie)
        #expect(try await EngineTestClient(engine: engine).observe(cookie: stolen, name: "__Host-id").0.user == "alice")

        clock.advance(by: .seconds(5))
        let logout = try await client.send { try $0.destroy() }
        #expect(logout.setCookie?.isDeletion == true)
        #expect(client.cookie == nil)

        let attacker = EngineTestClient(engine: engine)
        let (observed, response) = try await attacker.observe(cookie: stolen, name: "__Host-id")
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)

        // Signing in again afterwards works normally.
        clock.advance(by: .seconds(5))
        try await client.send { try await $0.signIn(userID: "alice") }
        #expect(try await client.request { try await $0.userID }.value == "alice")
        // The stolen copy stays dead.
        #expect(try await attacker.observe(cookie: stolen, name: "__Host-id").0 == .anonymous)
    }

    @Test func logoutAfterReadingRevokesAStolenCopy() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "bob") }
        let stolen = try #require(client.cookie)
        harness.clock.advance(by: .seconds(1))
        try await client.send { session in
            #expect(try await session.userID == "bob")
            try session.destroy()
        }
        #expect(try await harness.client().observe(cookie: stolen, name: harness.cookieName).0 == .anonymous)
    }

    @Test func anonymousReadsCostNoRevocationReadsButSignedInReadsCostOne() async throws {
        let harness = try SealedHarness()
        let anonymous = harness.client()
        try await anonymous.send { try await $0.set(Sealed.value, "a") }
        harness.revocations.reset()
        _ = try await anonymous.request { try await $0.get(Sealed.value) }
        #expect(harness.revocations.total == 0)

        let user = harness.client()
        try await user.send { try await $0.signIn(userID: "carol") }
        harness.revocations.reset()
        _ = try await user.request { try await $0.userID }
        #expect(harness.revocations.calls == [.load: 1])
    }

    @Test func signOutOtherSessionsKillsOtherDevicesButKeepsThisOne() async throws {
        let harness = try SealedHarness()
        let deviceA = harness.client()
        let deviceB = harness.client()
        try await deviceA.send { try await $0.signIn(userID: "dave") }
        try await deviceB.send { try await $0.signIn(userID: "dave") }
        let bValue = try #require(deviceB.cookie)
        let aValue = try #require(deviceA.cookie)

        harness.clock.advance(by: .seconds(5))
        let (ended, response) = try await deviceA.request { try await $0.signOutOtherSessions() }
        #expect(ended == 1)
        let reSealed = try #require(response.setCookie)
        #expect(!reSealed.isDeletion)
        #expect(reSealed.value != aValue)

        // B is signed out.
        let (b, bResponse) = try await deviceB.request { try await $0.userID }
        #expect(b == nil)
        #expect(bResponse.fields.isEmpty)
        #expect(try await harness.client().observe(cookie: bValue, name: harness.cookieName).0 == .anonymous)
        // A keeps working with its re-sealed cookie (but not with its pre-bump one).
        #expect(try await deviceA.request { try await $0.userID }.value == "dave")
        harness.clock.advance(by: .seconds(120))
        #expect(try await deviceA.request { try await $0.userID }.value == "dave")
        #expect(try await harness.client().observe(cookie: aValue, name: harness.cookieName).0 == .anonymous)
    }

    @Test func signOutOtherSessionsWhenAnonymousOrWithoutRevocationStoreDoesNothing() async throws {
        let harness = try SealedHarness()
        let anonymous = harness.client()
        #expect(try await anonymous.request { try await $0.signOutOtherSessions() }.value == 0)
        #expect(harness.revocations.total == 0)

        let noRevocation = try SealedHarness(revocation: false)
        let client = noRevocation.client()
        try await client.send { try await $0.signIn(userID: "erin") }
        #expect(try await client.request { try await $0.signOutOtherSessions() }.value == 0)
        #expect(try await client.request { try await $0.sessionsOfUser() }.value.isEmpty)
    }

    @Test func revocationStoreOutageOnASignedInReadIs503NotASignOut() async throws {
        let clock = TestClock(start: Sealed.start)
        let faults = FaultInjectingSessionStore(MemorySessionStore(clock: clock))
        let engine = try SessionEngine(
            sealedCookies: SealedCookieBackend(keyRing: Sealed.ringA, revocationStore: faults),
            configuration: Sealed.configuration(),
            clock: clock
        )
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.signIn(userID: "frank") }
        let cookie = try #require(client.cookie)

        faults.fault = .unavailable
        let error = await Sealed.sessionError {
            try await client.send { _ = try await $0.userID }
        }
        guard case .storeUnavailable? = error else {
            Issue.record("expected storeUnavailable, got \(String(describing: error))")
            return
        }
        #expect(error?.status == .serviceUnavailable)
        #expect(client.cookie == cookie)

        // Anonymous sealed sessions do not need the store at all.
        let anonymous = EngineTestClient(engine: engine)
        try await anonymous.send { try await $0.set(Sealed.value, "fine") }
        #expect(try await anonymous.request { try await $0.get(Sealed.value) }.value == "fine")

        faults.fault = .none
        #expect(try await client.request { try await $0.userID }.value == "frank")
    }

    @Test func revocationStoreOutageOnLogoutIs503AndKeepsTheCookie() async throws {
        let clock = TestClock(start: Sealed.start)
        let faults = FaultInjectingSessionStore(MemorySessionStore(clock: clock))
        let engine = try SessionEngine(
            sealedCookies: SealedCookieBackend(keyRing: Sealed.ringA, revocationStore: faults),
            configuration: Sealed.configuration(),
            clock: clock
        )
        let client = EngineTestClient(engine: engine)
        try await client.send { try await $0.signIn(userID: "gina") }
        let cookie = try #require(client.cookie)
        faults.fault = .unavailable
        let error = await Sealed.sessionError { try await client.send { try $0.destroy() } }
        #expect(error?.status == .serviceUnavailable)
        #expect(client.cookie == cookie)
    }

    // MARK: Lifecycle parity

    @Test func regenerateKeepsDataAndIssuesADifferentValue() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "keep me") }
        let before = try #require(client.cookie)
        let response = try await client.send { try await $0.regenerate() }
        let after = try #require(response.setCookie)
        #expect(!after.isDeletion)
        #expect(after.value != before)
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == "keep me")
    }

    @Test func destroySendsADeletingCookie() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Sealed.value, "bye") }
        let response = try await client.send { try $0.destroy() }
        let deletion = try #require(response.setCookie)
        #expect(deletion.isDeletion)
        #expect(deletion.value.isEmpty)
        #expect(deletion.attributes["expires"] != nil)
        #expect(response.fields[.cacheControl] == "no-store")
        #expect(client.cookie == nil)
        // Anonymous session: destroying costs no revocation call.
        #expect(harness.revocations.total == 0)
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == nil)
    }

    @Test func destroyWithoutACookieSendsNothing() async throws {
        let harness = try SealedHarness()
        let response = try await harness.client().send { try $0.destroy() }
        #expect(response.fields.isEmpty)
    }

    @Test func flashMessagesSurviveExactlyOneRead() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Sealed.value, "keep")
            try await session.flash(FlashMessage("Saved", kind: "success"))
            try await session.flash(FlashMessage("Twice"))
        }
        let first = try await client.request { try await $0.consumeFlashes() }.value
        #expect(first == [FlashMessage("Saved", kind: "success"), FlashMessage("Twice")])
        #expect(try await client.request { try await $0.consumeFlashes() }.value.isEmpty)
        #expect(try await client.request { try await $0.get(Sealed.value) }.value == "keep")
    }

    @Test func flashOnlySessionEndsAfterTheRead() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.flash(FlashMessage("Signed out")) }
        #expect(client.cookie != nil)
        let read = try await client.request { try await $0.consumeFlashes() }
        #expect(read.value.map(\.text) == ["Signed out"])
        #expect(try await client.request { try await $0.consumeFlashes() }.value.isEmpty)
    }

    @Test func csrfTokenWorks() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        let token = try await client.request { try await $0.csrfToken() }.value
        #expect(token.count == 43)
        #expect(client.cookie != nil)
        #expect(try await client.request { try await $0.csrfToken() }.value == token)
        #expect(try await client.request { try await $0.verifyCSRFToken(token) }.value)
        #expect(try await !client.request { try await $0.verifyCSRFToken(nil) }.value)
        #expect(try await !client.request { try await $0.verifyCSRFToken(token + "x") }.value)

        let other = harness.client()
        let otherToken = try await other.request { try await $0.csrfToken() }.value
        #expect(otherToken != token)
        #expect(try await !client.request { try await $0.verifyCSRFToken(otherToken) }.value)

        // Signing in renews it.
        try await client.send { try await $0.signIn(userID: "hank") }
        #expect(try await !client.request { try await $0.verifyCSRFToken(token) }.value)
    }

    @Test func rememberMeGivesAPersistentCookie() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        let response = try await client.send { try await $0.signIn(userID: "ivy", rememberMe: true) }
        let cookie = try #require(response.setCookie)
        #expect(cookie.isPersistent)
        #expect(cookie.attributes["max-age"] == String(14 * 86_400))
        #expect(cookie.attributes["expires"] != nil)

        // Survives far beyond the normal idle and absolute timeouts.
        harness.clock.advance(by: .seconds(3 * 86_400))
        let later = try await client.request { try await $0.userID }
        #expect(later.value == "ivy")
        // A re-seal of a persistent session stays persistent.
        #expect(later.response.setCookie?.isPersistent == true)

        let plain = harness.client()
        let plainResponse = try await plain.send { try await $0.signIn(userID: "jack") }
        #expect(plainResponse.setCookie?.isPersistent == false)
    }

    @Test func sessionsOfUserIsEmptyWithSealedCookies() async throws {
        let harness = try SealedHarness()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "kim") }
        #expect(try await client.request { try await $0.sessionsOfUser() }.value.isEmpty)
    }

    @Test func headerTransportIsRefused() throws {
        var configuration = Sealed.configuration()
        configuration.transport = .header(HTTPField.Name("X-Session")!)
        #expect(throws: SessionConfigurationError.self) {
            _ = try SessionEngine(sealedCookies: SealedCookieBackend(keyRing: Sealed.ringA), configuration: configuration)
        }
    }
}
