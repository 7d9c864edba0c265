import Crypto
import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Synchronization
import Testing

/// Records every storage ID the engine hands a store, to prove it only ever sees token digests.
private final class IDRecordingStore: FullyCapableSessionStore {
    let base: any FullyCapableSessionStore
    private let seen = Mutex<[SessionStorageID]>([])

    init(_ base: any FullyCapableSessionStore) { self.base = base }

    var ids: [SessionStorageID] { seen.withLock { $0 } }
    private func note(_ id: SessionStorageID) { seen.withLock { $0.append(id) } }

    func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        note(id)
        return try await base.load(id)
    }
    func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        note(id)
        try await base.create(id, record)
    }
    func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        note(id)
        return try await base.update(id, update)
    }
    func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        note(id)
        return try await base.update(id, update, expectedVersion: expectedVersion)
    }
    func ping() async throws { try await base.ping() }
    func delete(_ id: SessionStorageID) async throws {
        note(id)
        try await base.delete(id)
    }
    func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        note(oldID)
        note(newID)
        return try await base.rotate(oldID, to: newID, record: record)
    }
    func sessions(forUser userID: String) async throws -> [SessionSummary] {
        try await base.sessions(forUser: userID)
    }
    func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        if let keptID { note(keptID) }
        return try await base.deleteSessions(forUser: userID, except: keptID)
    }
}

private enum Signed {
    static let start = Date(timeIntervalSince1970: 1_700_000_000)
    static let value = SessionKey<String>("value")

    static let secretA = Data((0..<32).map { UInt8(3 &* $0 &+ 1) }).base64EncodedString()
    static let secretB = Data((0..<32).map { UInt8(250 - $0) }).base64EncodedString()

    static func ring(_ text: String) -> KeyRing {
        do { return try KeyRing.parse(text) } catch { fatalError("bad fixture ring \(text): \(error)") }
    }

    static var ringA: KeyRing { ring("k1=\(secretA)") }

    static let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}

/// A signing engine over a counting memory store; more engines (other rings) can share it.
private struct SignedHarness {
    let clock: TestClock
    let memory: MemorySessionStore
    let recorder: IDRecordingStore
    let store: CountingSessionStore
    let engine: SessionEngine

    init(ring: KeyRing = Signed.ringA) throws {
        clock = TestClock(start: Signed.start)
        memory = MemorySessionStore(clock: clock)
        recorder = IDRecordingStore(memory)
        store = CountingSessionStore(recorder)
        engine = try SessionEngine(store: store, configuration: SessionConfiguration(tokenSigning: ring), clock: clock)
    }

    /// An engine over the same store with another signing ring (`nil`: unsigned).
    func engine(ring: KeyRing?) throws -> SessionEngine {
        try SessionEngine(store: store, configuration: SessionConfiguration(tokenSigning: ring), clock: clock)
    }

    func client(_ engine: SessionEngine? = nil, cookie: String? = nil) -> EngineTestClient {
        let client = EngineTestClient(engine: engine ?? self.engine)
        client.cookie = cookie
        return client
    }

    /// A new session holding `value`; returns its signed cookie value. Counts are reset.
    func newSession(_ value: String = "v", engine: SessionEngine? = nil) async throws -> String {
        let client = client(engine)
        try await client.send { try await $0.set(Signed.value, value) }
        let cookie = try #require(client.cookie)
        store.reset()
        return cookie
    }

    /// The record the memory store holds for a signed value's token part.
    func record(forSigned value: String) async throws -> SessionRecord? {
        guard let token = SessionToken(validating: value.prefix(SessionToken.encodedLength)) else { return nil }
        return try await memory.load(token.storageID)
    }
}

private func split(_ signed: String) -> (token: String, signature: String)? {
    let parts = signed.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    return (String(parts[0]), String(parts[1]))
}

@Suite("Signed session tokens")
struct SignedTokenTests {
    /// Sends `value` as the cookie and checks it is anonymous and cost no store call.
    private func expectRejected(
        _ value: String,
        _ harness: SignedHarness,
        engine: SessionEngine? = nil,
        _ comment: Comment? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        harness.store.reset()
        do {
            var fields = HTTPFields()
            fields[.cookie] = "__Host-id=\(value)"
            let (read, response) = try await harness.client(engine).request(headers: fields) { session in
                (try await session.get(Signed.value), try await session.isEmpty)
            }
            #expect(read.0 == nil, comment, sourceLocation: sourceLocation)
            #expect(read.1, comment, sourceLocation: sourceLocation)
            #expect(response.fields.isEmpty, comment, sourceLocation: sourceLocation)
            #expect(
                harness.store.total == 0,
                "store calls: \(harness.store.calls) \(comment.map { "(\($0))" } ?? "")",
                sourceLocation: sourceLocation
            )
        } catch {
            Issue.record("rejected token threw \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Format

    @Test func newSessionGetsA92CharacterSignedValue() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        #expect(value.utf8.count == 92)
        #expect(value.count == TokenSigner.signedLength)
        let (token, signature) = try #require(split(value))
        #expect(token.count == 43)
        #expect(signature.count == 48)
        #expect(SessionToken(validating: token) != nil)
        #expect(token.utf8.allSatisfy { Signed.alphabet.contains($0) })
        #expect(signature.utf8.allSatisfy { Signed.alphabet.contains($0) })
        let signatureBytes = try #require(Base64URL.decode(signature.utf8))
        #expect(signatureBytes.count == 36)
        let id = signatureBytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(id == Signed.ringA.current.id)
    }

    @Test func signatureIsHMACOfKeyIDAndToken() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        let (token, signature) = try #require(split(value))
        let key = Signed.ringA.current
        let idBytes = TokenSigner.bytes(of: key.id)
        let mac = HMAC<SHA256>.authenticationCode(for: idBytes + Array(token.utf8), using: key.subkey(for: .tokenSigning))
        #expect(Base64URL.encode(idBytes + Array(mac)) == signature)
    }

    @Test func signedValueRoundTrips() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession("round trip")
        let client = harness.client(cookie: value)
        let (read, response) = try await client.request { try await $0.get(Signed.value) }
        #expect(read == "round trip")
        #expect(harness.store.calls == [.load: 1])
        #expect(response.fields == userSpecificFields)
    }

    @Test func storeOnlySeesTheDigestOfTheTokenPart() async throws {
        let harness = try SignedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Signed.value, "x") }
        let value = try #require(client.cookie)
        harness.clock.advance(by: .seconds(120))
        try await client.send { try await $0.set(Signed.value, "y") }
        harness.clock.advance(by: .seconds(120))
        _ = try await client.request { try await $0.get(Signed.value) }
        #expect(client.cookie == value)

        let token = try #require(SessionToken(validating: value.prefix(43)))
        let record = try #require(try await harness.memory.load(token.storageID))
        #expect(record.data["value"] == Data("\"y\"".utf8))
        #expect(harness.memory.count == 1)
        #expect(Set(harness.recorder.ids) == [token.storageID])

        // Nothing is kept under the digest of the whole signed value.
        let wholeDigest = try #require(SessionStorageID(bytes: Array(SHA256.hash(data: Array(value.utf8)))))
        #expect(try await harness.memory.load(wholeDigest) == nil)
        #expect(try await harness.record(forSigned: value) != nil)
    }

    @Test func signInMovesToANewSignedToken() async throws {
        let harness = try SignedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Signed.value, "before") }
        let before = try #require(client.cookie)
        try await client.send { try await $0.signIn(userID: "alice") }
        let after = try #require(client.cookie)
        #expect(after.count == 92)
        #expect(after.prefix(43) != before.prefix(43))
        #expect(try await harness.record(forSigned: before) == nil)
        #expect(try await harness.record(forSigned: after)?.userID == "alice")
        // The old value is well signed, so it costs one load, and finds nothing.
        harness.store.reset()
        let (read, response) = try await harness.client(cookie: before).request { try await $0.get(Signed.value) }
        #expect(read == nil)
        #expect(response.fields.isEmpty)
        #expect(harness.store.calls == [.load: 1])
    }

    // MARK: Rejection without store calls

    @Test func forgedSignatureCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        let (token, signature) = try #require(split(value))
        let characters = Array(signature)
        // Change every character of the signature, one at a time.
        for position in characters.indices {
            var forged = characters
            forged[position] = forged[position] == "A" ? "B" : "A"
            await expectRejected(token + "." + String(forged), harness, "signature character \(position)")
        }
        // Flip each byte of the MAC and key ID (re-encoded canonically).
        let bytes = try #require(Base64URL.decode(signature.utf8))
        for position in bytes.indices {
            var forged = bytes
            forged[position] ^= 0x01
            await expectRejected(token + "." + Base64URL.encode(forged), harness, "signature byte \(position)")
        }
        // An all-zero signature and one made with a made-up key.
        await expectRejected(token + "." + String(repeating: "A", count: 48), harness, "zero signature")
        let attackerRing = Signed.ring("k1=\(Signed.secretB)")
        let forgedWithGuess = TokenSigner(keyRing: attackerRing).sign(try #require(SessionToken(validating: token)))
        await expectRejected(forgedWithGuess, harness, "signed with a guessed key under the same name")
    }

    @Test func changedTokenPartCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        let characters = Array(value)
        for position in 0..<42 {
            var changed = characters
            changed[position] = changed[position] == "A" ? "B" : "A"
            await expectRejected(String(changed), harness, "token character \(position)")
        }
    }

    @Test func bareUnsignedTokenCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        let token = String(value.prefix(43))
        await expectRejected(token, harness, "bare token of a live session")
        await expectRejected(token + ".", harness, "token and dot")
        await expectRejected(SessionToken.generate().text, harness, "bare fresh token")
    }

    @Test func unsignedSessionTokenIsRejectedBySigningEngine() async throws {
        let harness = try SignedHarness()
        let unsigned = try harness.engine(ring: nil)
        let value = try await harness.newSession("unsigned", engine: unsigned)
        #expect(value.count == 43)
        await expectRejected(value, harness, "token from an unsigned engine")
    }

    @Test func anotherSessionsSignatureCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let first = try await harness.newSession("first")
        let second = try await harness.newSession("second")
        let (tokenA, _) = try #require(split(first))
        let (tokenB, signatureB) = try #require(split(second))
        #expect(tokenA != tokenB)
        await expectRejected(tokenA + "." + signatureB, harness, "A's token with B's signature")
        // Both originals still work.
        #expect(try await harness.client(cookie: first).request { try await $0.get(Signed.value) }.value == "first")
        #expect(try await harness.client(cookie: second).request { try await $0.get(Signed.value) }.value == "second")
    }

    @Test func junkCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        var generator = SystemRandomNumberGenerator()
        let random92 = String((0..<92).map { _ in Character(UnicodeScalar(Array(Signed.alphabet)[Int.random(in: 0..<64, using: &generator)])) })
        let junk: [String] = [
            "", "x", ".", "..", "null", "deleted",
            String(repeating: "A", count: 92),
            String(repeating: "A", count: 43) + "." + String(repeating: "A", count: 48),
            random92,
            String(value.dropLast()),
            value + "A",
            String(value.dropFirst()),
            value.replacingOccurrences(of: ".", with: "_"),
            String(value.prefix(42)) + "." + String(value.dropFirst(43)) + "A",
            String(repeating: "A", count: 44) + "." + String(value.dropFirst(44)),
            String(value.suffix(48)) + "." + String(value.prefix(43)),
            String(repeating: "x", count: 4096),
            String(repeating: "x", count: 10 * 1024),
        ]
        for candidate in junk {
            await expectRejected(candidate, harness, "junk \(candidate.prefix(16))… (\(candidate.count) chars)")
        }
    }

    @Test func nonASCIIValueWithTheDotInPlaceCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        // 92 bytes, 91 characters: the character at offset 43 is not the dot.
        let candidate = String(value.prefix(40)) + "\u{E9}" + String(value.dropFirst(42))
        #expect(candidate.utf8.count == 92)
        await expectRejected(candidate, harness, "non-ASCII in the token part")
    }

    /// Values of exactly 92 UTF-8 bytes but fewer than 44 characters pass the length check;
    /// the signature check must then not index by characters past the end. Run in a child
    /// process so a trap fails this test instead of killing the whole test run.
    @Test(arguments: [
        "4-byte scalars",
        "2-byte scalars",
        "combining marks",
    ])
    func multiByteValuesOf92BytesDoNotCrash(kind: String) async {
        await #expect(processExitsWith: .success, "a 92-byte value of \(kind) crashed the engine") { [kind] in
            let value: String
            switch kind {
            case "4-byte scalars": value = String(repeating: "\u{1F600}", count: 23)  // 23 characters
            case "2-byte scalars": value = String(repeating: "\u{E9}", count: 46)  // 46 characters, 2 bytes each
            default: value = String(repeating: "e\u{301}", count: 30) + "AA"  // 32 characters
            }
            precondition(value.utf8.count == 92)
            let ring = try KeyRing.parse("k1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            let engine = try SessionEngine(store: MemorySessionStore(), configuration: SessionConfiguration(tokenSigning: ring))
            var fields = HTTPFields()
            fields[.cookie] = "__Host-id=\(value)"
            let handle = engine.begin(fields)
            guard try await handle.isEmpty else { fatalError("a junk value opened a session") }
            _ = try await engine.commit(handle)
        }
    }

    @Test func storageIDAsCookieCostsNoStoreCall() async throws {
        let harness = try SignedHarness()
        let value = try await harness.newSession()
        let token = try #require(SessionToken(validating: value.prefix(43)))
        await expectRejected(token.storageID.hex, harness, "storage ID hex")
    }

    @Test func validSignatureOfUnknownTokenCostsOneLoad() async throws {
        // The contrast case: a correctly signed token the store does not know is one load.
        let harness = try SignedHarness()
        let signed = TokenSigner(keyRing: Signed.ringA).sign(SessionToken.generate())
        let client = harness.client(cookie: signed)
        let (read, response) = try await client.request { try await $0.get(Signed.value) }
        #expect(read == nil)
        #expect(response.fields.isEmpty)
        #expect(harness.store.calls == [.load: 1])
    }

    // MARK: Rotation

    @Test func previousKeySignatureIsAcceptedAndReSigned() async throws {
        let harness = try SignedHarness(ring: Signed.ring("k1=\(Signed.secretA)"))
        let rotated = try harness.engine(ring: Signed.ring("k2=\(Signed.secretB),k1=\(Signed.secretA)"))
        let onlyNew = try harness.engine(ring: Signed.ring("k2=\(Signed.secretB)"))
        let old = try await harness.newSession("rotating")

        let client = harness.client(rotated, cookie: old)
        let (read, response) = try await client.request { try await $0.get(Signed.value) }
        #expect(read == "rotating")
        #expect(harness.store.calls == [.load: 1])
        let reSigned = try #require(response.setCookie)
        #expect(!reSigned.isDeletion)
        #expect(reSigned.value.count == 92)
        #expect(reSigned.value != old)
        #expect(reSigned.value.prefix(43) == old.prefix(43))
        let signature = try #require(Base64URL.decode(reSigned.value.dropFirst(44).utf8))
        let id = signature[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(id == KeyRing.keyID(forName: "k2"))
        #expect(response.fields[.cacheControl] == "no-store")

        // The re-signed value is current: no further re-signing.
        harness.store.reset()
        let again = try await client.request { try await $0.get(Signed.value) }
        #expect(again.value == "rotating")
        #expect(again.response.setCookie == nil)

        // An engine that only knows k2 accepts the new value and rejects the old one.
        #expect(try await harness.client(onlyNew, cookie: reSigned.value).request { try await $0.get(Signed.value) }.value == "rotating")
        await expectRejected(old, harness, engine: onlyNew, "k1 signature, k1 removed")
    }

    @Test func previousKeySignatureIsReSignedAlsoWhenWriting() async throws {
        let harness = try SignedHarness(ring: Signed.ring("k1=\(Signed.secretA)"))
        let rotated = try harness.engine(ring: Signed.ring("k2=\(Signed.secretB),k1=\(Signed.secretA)"))
        let old = try await harness.newSession("before")
        let client = harness.client(rotated, cookie: old)
        let response = try await client.send { try await $0.set(Signed.value, "after") }
        let reSigned = try #require(response.setCookie)
        #expect(reSigned.value.prefix(43) == old.prefix(43))
        #expect(reSigned.value != old)
        #expect(try await harness.record(forSigned: old)?.data["value"] == Data("\"after\"".utf8))
    }

    @Test func revokedOrRemovedSigningKeyIsAnonymousWithoutStoreCalls() async throws {
        let harness = try SignedHarness(ring: Signed.ring("k1=\(Signed.secretA)"))
        let revoked = try harness.engine(ring: Signed.ring("k2=\(Signed.secretB),-k1"))
        let removed = try harness.engine(ring: Signed.ring("k2=\(Signed.secretB)"))
        let old = try await harness.newSession("old")
        #expect(try await harness.record(forSigned: old) != nil)

        await expectRejected(old, harness, engine: revoked, "k1 revoked")
        await expectRejected(old, harness, engine: removed, "k1 removed")

        // A write after the rejection starts a new session; the old record is untouched.
        let client = harness.client(revoked, cookie: old)
        harness.store.reset()
        try await client.send { try await $0.set(Signed.value, "new") }
        #expect(harness.store.calls == [.create: 1])
        let fresh = try #require(client.cookie)
        #expect(fresh.prefix(43) != old.prefix(43))
        #expect(try await harness.record(forSigned: old)?.data["value"] == Data("\"old\"".utf8))
    }

    // MARK: Lifecycle with signing

    @Test func destroyAndRegenerateWorkWithSignedTokens() async throws {
        let harness = try SignedHarness()
        let client = harness.client()
        try await client.send { try await $0.set(Signed.value, "keep") }
        let first = try #require(client.cookie)
        try await client.send { try await $0.regenerate() }
        let second = try #require(client.cookie)
        #expect(second.count == 92)
        #expect(second.prefix(43) != first.prefix(43))
        #expect(try await client.request { try await $0.get(Signed.value) }.value == "keep")
        #expect(try await harness.record(forSigned: first) == nil)

        let response = try await client.send { try $0.destroy() }
        #expect(response.setCookie?.isDeletion == true)
        #expect(try await harness.record(forSigned: second) == nil)

        // Destroying with a forged value costs no store call either.
        harness.store.reset()
        var fields = HTTPFields()
        fields[.cookie] = "__Host-id=" + String(second.prefix(43)) + "." + String(repeating: "A", count: 48)
        try await harness.client().send(headers: fields) { try $0.destroy() }
        #expect(harness.store.total == 0)
    }

    @Test func rememberMeWithSignedTokensIsPersistentAndSigned() async throws {
        let harness = try SignedHarness()
        let client = harness.client()
        let response = try await client.send { try await $0.signIn(userID: "bob", rememberMe: true) }
        let cookie = try #require(response.setCookie)
        #expect(cookie.isPersistent)
        #expect(cookie.value.count == 92)
    }
}
