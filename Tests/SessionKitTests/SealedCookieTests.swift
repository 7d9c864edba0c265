import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

@Suite("Sealed cookies")
struct SealedCookieTests {
    // MARK: Round trip

    /// Found by `FuzzSealedCookie` (300 s runs): a payload whose instant is `Int64.max`
    /// milliseconds decoded, and encoding it again trapped converting the `Double` back; the
    /// first fix then trapped in `abs(Int64.min)`.
    @Test func payloadInstantsOutsideTheLayoutAreRefusedAndClamped() throws {
        // Int64.max, then Int64.min (where `abs` traps) in the absolute expiry.
        for input in ["AR8AU3RyAQAAAAAAAAAAAAAAAAAAAAAAAH//////////dHIBAAAAAAAAAAAA", "AQAAAAAAAAD8AADzAAAAACAAAAABQAABAIAAAAAAAAAAKUFBQQEAAAAAAAAI"]
        {
            let fuzzed = try #require(Data(base64Encoded: input))
            #expect(SealedPayload(decoding: Array(fuzzed)) == nil)
        }
        for date in [Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -1e300), Date(timeIntervalSince1970: .infinity)] {
            let record = SessionRecord(data: [:], createdAt: date, idleExpiresAt: date, absoluteExpiresAt: date)
            let decoded = try #require(SealedPayload(decoding: SealedPayload(record: record, epoch: 1).encoded()))
            #expect(abs(decoded.record.createdAt.timeIntervalSince1970) == Double(SealedPayload.maxMillis) / 1000)
        }
    }

    @Test func valuesRoundTripThroughTheCookie() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        let first = try await client.send { session in
            try await session.set(Keys.value, "hello sealed world")
            try await session.set(Keys.number, 424_242)
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
            (try await session.get(Keys.value), try await session.get(Keys.number))
        }.value
        #expect(value == "hello sealed world")
        #expect(number == 424_242)
        #expect(harness.store.total == 0)
    }

    @Test func cookieValueIsBase64URLAndHidesThePlaintext() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Keys.value, "hello sealed world")
            try await session.set(Keys.number, 424_242)
        }
        let value = try #require(client.cookie)
        #expect(value.utf8.allSatisfy { base64URLAlphabet.contains($0) })
        #expect(!value.contains("="))
        let bytes = try #require(Base64URL.decode(value.utf8))
        #expect(bytes.first == SealedCookieCodec.version)
        #expect(bytes.count > SealedCookieCodec.overhead)
        let raw = String(decoding: bytes, as: UTF8.self)
        for secret in ["hello", "sealed", "world", "424242", "value", "number"] {
            #expect(!value.contains(secret))
            #expect(!raw.contains(secret))
        }
        // The key ID in the header is the current key's.
        #expect(keyID(bytes[1..<5]) == TestKeys.ringA.current.id)
    }

    @Test func sealingTheSameSessionTwiceGivesDifferentValues() async throws {
        let harness = try Harness.sealed()
        let a = harness.client()
        let b = harness.client()
        try await a.send { try await $0.set(Keys.value, "same") }
        try await b.send { try await $0.set(Keys.value, "same") }
        #expect(a.cookie != nil)
        #expect(a.cookie != b.cookie)
    }

    @Test func changingAValueReSealsAndRemovingTheLastValueDeletes() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "one") }
        let first = try #require(client.cookie)
        let changed = try await client.send { try await $0.set(Keys.value, "two") }
        #expect(changed.setCookie != nil)
        #expect(client.cookie != first)
        #expect(try await client.request { try await $0.get(Keys.value) }.value == "two")
        let removed = try await client.send { try await $0.remove(Keys.value) }
        #expect(removed.setCookie?.isDeletion == true)
        #expect(client.cookie == nil)
    }

    @Test func readOnlyAnonymousAndUntouchedRequestsSendNothing() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        #expect(try await client.send { _ = try await $0.get(Keys.value) }.fields.isEmpty)
        try await client.send { try await $0.set(Keys.value, "x") }
        #expect(try await client.send { _ in }.fields.isEmpty)
        harness.clock.advance(by: .seconds(10))
        #expect(try await client.send { _ = try await $0.get(Keys.value) }.fields == userSpecificFields)
        #expect(harness.store.total == 0)
    }

    // MARK: Tampering

    /// Signed in or not, a tampered cookie is rejected before any revocation-epoch read.
    @Test(arguments: [nil, "alice"] as [String?])
    func everyFlippedByteIsRejected(user: String?) async throws {
        let harness = try Harness.sealed()
        let value = try await harness.newCookie(user: user)
        let bytes = try #require(Base64URL.decode(value.utf8))
        for position in bytes.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var tampered = bytes
                tampered[position] ^= mask
                await harness.expectRejected(Base64URL.encode(tampered), "byte \(position) ^ \(mask)")
            }
        }
    }

    @Test func everyChangedCharacterIsRejected() async throws {
        let harness = try Harness.sealed()
        let value = try await harness.newCookie()
        let characters = Array(value)
        for position in characters.indices {
            var tampered = characters
            tampered[position] = tampered[position] == "A" ? "B" : "A"
            await harness.expectRejected(String(tampered), "character \(position)")
        }
    }

    @Test func truncatedValuesAreRejected() async throws {
        let harness = try Harness.sealed()
        let value = try await harness.newCookie()
        let bytes = try #require(Base64URL.decode(value.utf8))
        let byteLengths = Set([
            0, 1, 4, 5, 20, 21, 32, 33, 48, 49, 50, bytes.count / 2, bytes.count - 17, bytes.count - 16, bytes.count - 2, bytes.count - 1,
        ])
        for length in byteLengths.sorted() where length < bytes.count {
            await harness.expectRejected(Base64URL.encode(Array(bytes.prefix(length))), "first \(length) bytes")
            await harness.expectRejected(Base64URL.encode(Array(bytes.suffix(length))), "last \(length) bytes")
        }
        for length in [1, 2, 3, 10, 43, 44, 65, value.count / 2, value.count - 3, value.count - 2, value.count - 1] {
            await harness.expectRejected(String(value.prefix(length)), "first \(length) characters")
        }
    }

    @Test func appendedBytesAreRejected() async throws {
        let harness = try Harness.sealed()
        let value = try await harness.newCookie()
        let bytes = try #require(Base64URL.decode(value.utf8))
        for extra in [[0x00], [0xFF], [0, 0, 0], Array(bytes.suffix(16)), [UInt8](repeating: 7, count: 100)] as [[UInt8]] {
            await harness.expectRejected(Base64URL.encode(bytes + extra), "+\(extra.count) bytes")
            await harness.expectRejected(Base64URL.encode(extra + bytes), "\(extra.count) bytes prepended")
        }
        for suffix in ["A", "AA", "AAA", "AAAA", "=", "==", ".x", "%00"] {
            await harness.expectRejected(value + suffix, "+\"\(suffix)\"")
        }
    }

    @Test func junkValuesAreRejected() async throws {
        let harness = try Harness.sealed()
        var generator = SystemRandomNumberGenerator()
        let junk: [String] = [
            "", "x", "null", "deleted", String(repeating: "A", count: 43), String(repeating: "_", count: 200),
            "%00%00", "a b c", "\u{7F}",
            Base64URL.encode((0..<120).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            Base64URL.encode([SealedCookieCodec.version] + (0..<120).map { _ in UInt8.random(in: 0...255, using: &generator) }),
        ]
        for value in junk {
            await harness.expectRejected(value, "junk \(value.prefix(20))")
        }
    }

    @Test func valueSealedForAnotherCookieNameIsRejected() async throws {
        let idHarness = try Harness.sealed(configuration: .sealedTests(cookieName: "id"))
        let otherEngine = try idHarness.sibling(.sealedTests(cookieName: "other"))
        let value = try await idHarness.newCookie()

        let (observed, response) = try await idHarness.observe(value, engine: otherEngine)
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)
        #expect(idHarness.store.total == 0)

        // And the other way round: a value sealed for `other` is no good under `id`.
        let otherClient = idHarness.client(otherEngine)
        try await otherClient.send { try await $0.set(Keys.value, "for other") }
        let otherValue = try #require(otherClient.cookie)
        #expect(try await otherClient.request { try await $0.get(Keys.value) }.value == "for other")
        await idHarness.expectRejected(otherValue, name: "id", "sealed for other, sent as id")
    }

    @Test func valueSealedUnderAnotherKeyRingIsRejected() async throws {
        let harness = try Harness.sealed()
        // Same key name (same key ID), different secret: authentication fails.
        let sameName = try harness.sibling(sealed: TestKeys.ring("k1=\(TestKeys.secretB)"))
        let sameNameValue = try await harness.newCookie(engine: sameName)
        await harness.expectRejected(sameNameValue, "same key name, other secret")
        // Different key name: unknown key ID.
        let otherName = try harness.sibling(sealed: TestKeys.ring("zz=\(TestKeys.secretB)"))
        let otherNameValue = try await harness.newCookie(engine: otherName)
        await harness.expectRejected(otherNameValue, "other key name")
        // An ephemeral ring.
        let ephemeral = try harness.sibling(sealed: .ephemeral(name: "k1"))
        let ephemeralValue = try await harness.newCookie(engine: ephemeral)
        await harness.expectRejected(ephemeralValue, "ephemeral ring")
    }

    // MARK: Key rotation

    @Test func rotationAcceptsPreviousKeyAndReSealsUnderCurrent() async throws {
        let harnessA = try Harness.sealed()
        let engineB = try harnessA.sibling(sealed: TestKeys.ring("k2=\(TestKeys.secretB),k1=\(TestKeys.secretA)"))
        let engineC = try harnessA.sibling(sealed: TestKeys.ring("k2=\(TestKeys.secretB)"))

        let clientA = harnessA.client()
        try await clientA.send { try await $0.set(Keys.value, "rotating") }
        let oldValue = try #require(clientA.cookie)

        // B reads the old cookie, within the touch interval, without changing anything.
        let clientB = harnessA.client(engineB, cookie: oldValue)
        let (read, response) = try await clientB.request { try await $0.get(Keys.value) }
        #expect(read == "rotating")
        let reSealed = try #require(response.setCookie)
        #expect(!reSealed.isDeletion)
        #expect(reSealed.value != oldValue)
        let newBytes = try #require(Base64URL.decode(reSealed.value.utf8))
        #expect(keyID(newBytes[1..<5]) == KeyRing.keyID(forName: "k2"))

        // B reading its own (current-key) cookie does not re-seal again.
        let (again, quiet) = try await clientB.request { try await $0.get(Keys.value) }
        #expect(again == "rotating")
        #expect(quiet.setCookie == nil)

        // C (k1 removed) accepts the new cookie but not the old one.
        let (fromNew, _) = try await harnessA.observe(reSealed.value, engine: engineC)
        #expect(fromNew.value == "rotating")
        let (fromOld, oldResponse) = try await harnessA.observe(oldValue, engine: engineC)
        #expect(fromOld == .anonymous)
        #expect(oldResponse.fields.isEmpty)
    }

    @Test func revokedOrRemovedKeyMakesOldCookiesAnonymousWithoutErrors() async throws {
        let harnessA = try Harness.sealed()
        let revoked = try harnessA.sibling(sealed: TestKeys.ring("k2=\(TestKeys.secretB),-k1"))
        let removed = try harnessA.sibling(sealed: TestKeys.ring("k2=\(TestKeys.secretB)"))

        let clientA = harnessA.client()
        try await clientA.send { session in
            try await session.set(Keys.value, "old")
            try await session.signIn(userID: "alice")
        }
        let oldValue = try #require(clientA.cookie)
        harnessA.store.reset()

        for engine in [revoked, removed] {
            let (observed, response) = try await harnessA.observe(oldValue, engine: engine)
            #expect(observed == .anonymous)
            #expect(response.fields.isEmpty)
            #expect(harnessA.store.total == 0)
            // Writing then starts a new session under the new key.
            let client = harnessA.client(engine, cookie: oldValue)
            let write = try await client.send { try await $0.set(Keys.value, "new") }
            let fresh = try #require(write.setCookie)
            #expect(!fresh.isDeletion)
            #expect(try await client.request { try await $0.userID }.value == nil)
        }
    }

    @Test func previousKeyCookieIsReSealedEvenWhenTheRequestWrites() async throws {
        let harnessA = try Harness.sealed()
        let engineB = try harnessA.sibling(sealed: TestKeys.ring("k2=\(TestKeys.secretB),k1=\(TestKeys.secretA)"))
        let engineC = try harnessA.sibling(sealed: TestKeys.ring("k2=\(TestKeys.secretB)"))
        let clientA = harnessA.client()
        try await clientA.send { try await $0.set(Keys.number, 1) }

        let clientB = harnessA.client(engineB, cookie: clientA.cookie)
        try await clientB.send { session in
            let n = try await session.get(Keys.number) ?? 0
            try await session.set(Keys.number, n + 1)
        }
        let clientC = harnessA.client(engineC, cookie: clientB.cookie)
        #expect(try await clientC.request { try await $0.get(Keys.number) }.value == 2)
    }

    // MARK: Expiry

    @Test func idleTimeoutMakesTheSessionAnonymous() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "idle") }
        harness.clock.advance(by: .seconds(30 * 60 - 1))
        let stale = try #require(client.cookie)
        #expect(try await harness.client(cookie: stale).request { try await $0.get(Keys.value) }.value == "idle")

        harness.clock.advance(by: .seconds(1))
        let (observed, response) = try await harness.observe(stale)
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)
        #expect(harness.store.total == 0)
    }

    @Test func activityKeepsTheSessionAliveUntilTheAbsoluteTimeout() async throws {
        // idle 30 min, absolute 2 h, touch interval 60 s.
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "busy") }

        // A read inside the touch interval does not re-seal.
        harness.clock.advance(by: .seconds(30))
        let early = try await client.request { try await $0.get(Keys.value) }
        #expect(early.value == "busy")
        #expect(early.response.setCookie == nil)

        // Reads every 29 minutes re-seal (moving the idle expiry) and keep the session alive
        // well past the first idle expiry...
        var elapsed = 30
        for _ in 0..<4 {
            harness.clock.advance(by: .seconds(29 * 60))
            elapsed += 29 * 60
            let before = client.cookie
            let read = try await client.request { try await $0.get(Keys.value) }
            #expect(read.value == "busy", "at \(elapsed) s")
            let reSealed = try #require(read.response.setCookie, "at \(elapsed) s")
            #expect(!reSealed.isDeletion)
            #expect(reSealed.value != before)
        }
        #expect(elapsed == 30 + 4 * 29 * 60)  // 116.5 minutes

        // ...but never beyond the absolute timeout (2 h after creation).
        harness.clock.advance(by: .seconds(2 * 3600 - elapsed - 1))
        #expect(try await client.request { try await $0.get(Keys.value) }.value == "busy")
        harness.clock.advance(by: .seconds(1))
        let late = try await client.request { try await $0.get(Keys.value) }
        #expect(late.value == nil)
        #expect(late.response.fields.isEmpty)
    }

    @Test func reSealedCookieCarriesTheNewIdleExpiry() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "v") }
        let original = try #require(client.cookie)
        harness.clock.advance(by: .seconds(20 * 60))
        let touched = try await client.send { _ = try await $0.get(Keys.value) }
        #expect(touched.setCookie != nil)
        let renewed = try #require(client.cookie)

        // 31 minutes after creation: the original has expired, the renewed one has not.
        harness.clock.advance(by: .seconds(11 * 60))
        let (old, _) = try await harness.observe(original)
        #expect(old == .anonymous)
        let (new, _) = try await harness.observe(renewed)
        #expect(new.value == "v")
    }

    @Test func signInResetsCreatedAtAndTheAbsoluteTimeout() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "cart") }
        #expect(try await client.request { try await $0.createdAt }.value == testEpoch)

        harness.clock.advance(by: .seconds(25 * 60))
        let signIn = try await client.send { try await $0.signIn(userID: "alice") }
        #expect(signIn.setCookie != nil)
        let signedInAt = testEpoch.addingTimeInterval(25 * 60)
        let (createdAt, user, value) = try await client.request { session in
            (try await session.createdAt, try await session.userID, try await session.get(Keys.value))
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

    // MARK: Size limit

    @Test func oversizedSessionFailsCommitWithCookieTooLarge() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "small") }
        let before = client.cookie

        let error = await sessionError {
            try await client.send { try await $0.set(Keys.blob, String(repeating: "x", count: 5000)) }
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
        #expect(try await client.request { try await $0.get(Keys.value) }.value == "small")

        // A new session that is too large fails the same way, and the jar stays empty.
        let fresh = harness.client()
        let freshError = await sessionError {
            try await fresh.send { try await $0.set(Keys.blob, String(repeating: "y", count: 5000)) }
        }
        #expect(freshError?.code == .cookieTooLarge)
        #expect(freshError?.limit == 4096)
        #expect((freshError?.size ?? 0) > 4096)
        #expect(fresh.cookie == nil)
    }

    @Test func sessionJustUnderTheLimitFits() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.blob, String(repeating: "z", count: 2500)) }
        let value = try #require(client.cookie)
        #expect("__Host-id".utf8.count + 1 + value.utf8.count <= 4096)
        #expect(try await client.request { try await $0.get(Keys.blob) }.value?.count == 2500)
    }

    // MARK: Revocation

    @Test func logoutWithoutReadingRevokesAStolenCopy() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice") }
        let stolen = try #require(client.cookie)
        #expect(try await harness.observe(stolen).0.user == "alice")

        harness.clock.advance(by: .seconds(5))
        let logout = try await client.send { try $0.destroy() }
        #expect(logout.setCookie?.isDeletion == true)
        #expect(client.cookie == nil)

        let (observed, response) = try await harness.observe(stolen)
        #expect(observed == .anonymous)
        #expect(response.fields.isEmpty)

        // Signing in again afterwards works normally.
        harness.clock.advance(by: .seconds(5))
        try await client.send { try await $0.signIn(userID: "alice") }
        #expect(try await client.request { try await $0.userID }.value == "alice")
        // The stolen copy stays dead.
        #expect(try await harness.observe(stolen).0 == .anonymous)
    }

    /// Issue 13 #8: destroying a revoked copy without reading it must not bump the epoch again,
    /// or whoever stole the cookie could keep signing the user out everywhere.
    @Test func destroyingARevokedCopyDoesNotSignTheUserOutAgain() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "alice") }
        let stolen = try #require(client.cookie)
        harness.clock.advance(by: .seconds(1))
        try await client.send { try $0.destroy() }  // revokes the stolen copy
        harness.clock.advance(by: .seconds(1))
        try await client.send { try await $0.signIn(userID: "alice") }

        harness.clock.advance(by: .seconds(1))
        let attacker = harness.client(cookie: stolen)
        let response = try await attacker.send { try $0.destroy() }
        #expect(response.setCookie?.isDeletion == true)
        #expect(try await client.request { try await $0.userID }.value == "alice", "the revoked copy signed the user out")
    }

    @Test func logoutAfterReadingRevokesAStolenCopy() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "bob") }
        let stolen = try #require(client.cookie)
        harness.clock.advance(by: .seconds(1))
        try await client.send { session in
            #expect(try await session.userID == "bob")
            try session.destroy()
        }
        #expect(try await harness.observe(stolen).0 == .anonymous)
    }

    @Test func anonymousReadsCostNoRevocationReadsButSignedInReadsCostOne() async throws {
        let harness = try Harness.sealed()
        let anonymous = harness.client()
        try await anonymous.send { try await $0.set(Keys.value, "a") }
        harness.store.reset()
        _ = try await anonymous.request { try await $0.get(Keys.value) }
        #expect(harness.store.total == 0)

        let user = harness.client()
        try await user.send { try await $0.signIn(userID: "carol") }
        harness.store.reset()
        _ = try await user.request { try await $0.userID }
        #expect(harness.store.calls == [.load: 1])
    }

    @Test func signOutOtherSessionsKillsOtherDevicesButKeepsThisOne() async throws {
        let harness = try Harness.sealed()
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
        #expect(try await harness.observe(bValue).0 == .anonymous)
        // A keeps working with its re-sealed cookie (but not with its pre-bump one).
        #expect(try await deviceA.request { try await $0.userID }.value == "dave")
        harness.clock.advance(by: .seconds(120))
        #expect(try await deviceA.request { try await $0.userID }.value == "dave")
        #expect(try await harness.observe(aValue).0 == .anonymous)
    }

    @Test func signOutOtherSessionsWhenAnonymousOrWithoutRevocationStoreDoesNothing() async throws {
        let harness = try Harness.sealed()
        let anonymous = harness.client()
        #expect(try await anonymous.request { try await $0.signOutOtherSessions() }.value == 0)
        #expect(harness.store.total == 0)

        let noRevocation = try Harness.sealed(revocation: false)
        let client = noRevocation.client()
        try await client.send { try await $0.signIn(userID: "erin") }
        #expect(try await client.request { try await $0.signOutOtherSessions() }.value == 0)
        #expect(try await client.request { try await $0.sessionsOfUser() }.value.isEmpty)
    }

    @Test func revocationStoreOutageOnASignedInReadIs503NotASignOut() async throws {
        let harness = try Harness.sealed()
        let faults = harness.faults
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "frank") }
        let cookie = try #require(client.cookie)

        faults.fault = .unavailable
        let error = await sessionError {
            try await client.send { _ = try await $0.userID }
        }
        guard case .storeUnavailable? = error else {
            Issue.record("expected storeUnavailable, got \(String(describing: error))")
            return
        }
        #expect(error?.status == .serviceUnavailable)
        #expect(client.cookie == cookie)

        // Anonymous sealed sessions do not need the store at all.
        let anonymous = harness.client()
        try await anonymous.send { try await $0.set(Keys.value, "fine") }
        #expect(try await anonymous.request { try await $0.get(Keys.value) }.value == "fine")

        faults.fault = .none
        #expect(try await client.request { try await $0.userID }.value == "frank")
    }

    @Test func revocationStoreOutageOnLogoutIs503AndKeepsTheCookie() async throws {
        let harness = try Harness.sealed()
        let faults = harness.faults
        let client = harness.client()
        try await client.send { try await $0.signIn(userID: "gina") }
        let cookie = try #require(client.cookie)
        faults.fault = .unavailable
        let error = await sessionError { try await client.send { try $0.destroy() } }
        #expect(error?.status == .serviceUnavailable)
        #expect(client.cookie == cookie)
    }

    // MARK: Lifecycle parity

    @Test func regenerateKeepsDataAndIssuesADifferentValue() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "keep me") }
        let before = try #require(client.cookie)
        harness.clock.advance(by: .seconds(600))
        let response = try await client.send { try await $0.regenerate() }
        let after = try #require(response.setCookie)
        #expect(!after.isDeletion)
        #expect(after.value != before)
        // The data, the creation time and so the absolute expiry are kept.
        let (value, createdAt) = try await client.request { session in
            (try await session.get(Keys.value), try await session.createdAt)
        }.value
        #expect(value == "keep me")
        #expect(createdAt == testEpoch)
    }

    @Test func destroySendsADeletingCookie() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { try await $0.set(Keys.value, "bye") }
        let response = try await client.send { try $0.destroy() }
        let deletion = try #require(response.setCookie)
        #expect(deletion.isDeletion)
        #expect(deletion.value.isEmpty)
        #expect(deletion.attributes["expires"] != nil)
        #expect(response.fields[.cacheControl] == "no-store")
        #expect(client.cookie == nil)
        // Anonymous session: destroying costs no revocation call.
        #expect(harness.store.total == 0)
        #expect(try await client.request { try await $0.get(Keys.value) }.value == nil)
    }

    @Test func flashMessagesSurviveExactlyOneRead() async throws {
        let harness = try Harness.sealed()
        let client = harness.client()
        try await client.send { session in
            try await session.set(Keys.value, "keep")
            try await session.flash(FlashMessage("Saved", kind: "success"))
            try await session.flash(FlashMessage("Twice"))
        }
        let first = try await client.request { try await $0.consumeFlashes() }.value
        #expect(first == [FlashMessage("Saved", kind: "success"), FlashMessage("Twice")])
        #expect(try await client.request { try await $0.consumeFlashes() }.value.isEmpty)
        #expect(try await client.request { try await $0.get(Keys.value) }.value == "keep")
    }

    @Test func rememberMeGivesAPersistentCookie() async throws {
        let harness = try Harness.sealed()
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

    @Test func headerTransportIsRefused() throws {
        var configuration = SessionConfiguration.sealedTests()
        configuration.transport = .header(HTTPField.Name("X-Session")!)
        #expect(throws: SessionConfigurationError.self) {
            _ = try SessionEngine(sealedCookies: SealedCookieBackend(keyRing: TestKeys.ringA), configuration: configuration)
        }
    }
}
