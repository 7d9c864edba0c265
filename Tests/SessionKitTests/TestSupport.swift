import Foundation
import HTTPTypes
import Logging
import SessionKit
import SessionKitTesting
import Synchronization
import Testing

/// Keys the behaviour tests store values under.
enum Keys {
    static let count = SessionKey<Int>("count")
    static let name = SessionKey<String>("name")
    static let other = SessionKey<String>("other")
    static let cart = SessionKey<[String]>("cart")
    static let value = SessionKey<String>("value")
    static let number = SessionKey<Int>("number")
    static let blob = SessionKey<String>("blob")
}

/// A fixed instant every harness clock starts at (Tue, 14 Nov 2023 22:13:20 GMT).
let testEpoch = Date(timeIntervalSince1970: 1_700_000_000)

/// Key rings for the sealed-cookie and signed-token tests.
enum TestKeys {
    static let secretA = Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let secretB = Data((0..<32).map { UInt8(200 - $0) }).base64EncodedString()

    static func ring(_ text: String) -> KeyRing {
        // The fixtures are valid; a failure here is a test bug.
        do { return try KeyRing.parse(text) } catch { fatalError("bad fixture ring \(text): \(error)") }
    }

    static var ringA: KeyRing { ring("k1=\(secretA)") }
}

extension SessionConfiguration {
    /// The sealed-cookie tests' configuration: idle 30 min, absolute 2 h, touch interval 60 s.
    static func sealedTests(cookieName: String = "__Host-id") -> SessionConfiguration {
        SessionConfiguration(
            cookie: SessionCookieOptions(name: cookieName),
            idleTimeout: .seconds(30 * 60),
            absoluteTimeout: .seconds(2 * 3600),
            touchInterval: .seconds(60)
        )
    }
}

/// The bytes of the base64url alphabet (no padding).
let base64URLAlphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

/// The big-endian key ID in four bytes (a sealed cookie's `[1..<5]`, a signature's `[0..<4]`).
func keyID(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
}

/// A store wrapper that keeps every patch and every storage ID it is handed.
final class RecordingSessionStore: FullyCapableSessionStore {
    let base: any FullyCapableSessionStore
    private let recorded = Mutex<(patches: [SessionUpdate], ids: [SessionStorageID])>(([], []))

    init(_ base: any FullyCapableSessionStore) { self.base = base }

    /// Every update (plain or versioned) in order.
    var patches: [SessionUpdate] { recorded.withLock { $0.patches } }
    /// Every storage ID a call named, in order.
    var ids: [SessionStorageID] { recorded.withLock { $0.ids } }

    private func note(_ ids: SessionStorageID..., patch: SessionUpdate? = nil) {
        recorded.withLock { state in
            state.ids += ids
            if let patch { state.patches.append(patch) }
        }
    }

    func load(_ id: SessionStorageID) async throws -> SessionRecord? {
        note(id)
        return try await base.load(id)
    }
    func create(_ id: SessionStorageID, _ record: SessionRecord) async throws {
        note(id)
        try await base.create(id, record)
    }
    func update(_ id: SessionStorageID, _ update: SessionUpdate) async throws -> Bool {
        note(id, patch: update)
        return try await base.update(id, update)
    }
    func update(_ id: SessionStorageID, _ update: SessionUpdate, expectedVersion: UInt64) async throws -> SessionUpdateResult {
        note(id, patch: update)
        return try await base.update(id, update, expectedVersion: expectedVersion)
    }
    func delete(_ id: SessionStorageID) async throws {
        note(id)
        try await base.delete(id)
    }
    func rotate(_ oldID: SessionStorageID, to newID: SessionStorageID, record: SessionRecord) async throws -> Bool {
        note(oldID, newID)
        return try await base.rotate(oldID, to: newID, record: record)
    }
    func sessions(forUser userID: String) async throws -> [SessionSummary] { try await base.sessions(forUser: userID) }
    func deleteSessions(forUser userID: String, except keptID: SessionStorageID?) async throws -> Int {
        if let keptID { note(keptID) }
        return try await base.deleteSessions(forUser: userID, except: keptID)
    }
    func ping() async throws { try await base.ping() }
    func compareAndSet(_ id: SessionStorageID, _ write: SessionKeyWrite) async throws -> SessionKeyWriteResult {
        note(id, patch: write.update)
        return try await base.compareAndSet(id, write)
    }
    func increment(_ id: SessionStorageID, _ increment: SessionKeyIncrement) async throws -> SessionIncrementResult {
        note(id)
        return try await base.increment(id, increment)
    }
    var incrementsNatively: Bool { base.incrementsNatively }
}

/// What a request saw of its session, for comparing rejected cookies.
struct Observed: Sendable, Equatable, CustomStringConvertible {
    var value: String?
    var user: String?
    var empty: Bool

    static let anonymous = Observed(value: nil, user: nil, empty: true)

    var description: String { "value=\(value ?? "nil") user=\(user ?? "nil") empty=\(empty)" }
}

/// One engine under test over one `TestClock` (starting at ``testEpoch``) and one memory store,
/// wrapped engine → `CountingSessionStore` → `FaultInjectingSessionStore` →
/// ``RecordingSessionStore`` → memory. Counting sits above the faults, so failed calls are
/// counted; the recorder sits below them, so it sees only what reached the store. Store-backed
/// by default; ``sealed(_:configuration:revocation:)`` makes the same chain the revocation store.
struct Harness {
    let clock: TestClock
    /// The records (store-backed) or the revocation epochs (sealed).
    let memory: MemorySessionStore
    /// Every patch and storage ID that reached the store.
    let recorder: RecordingSessionStore
    /// `.none` unless a test injects a fault: a pass-through.
    let faults: FaultInjectingSessionStore
    /// What the engine calls (sealed: its revocation store).
    let store: CountingSessionStore
    let engine: SessionEngine
    private let sealedRing: KeyRing?
    private let revocation: Bool
    private let logger: Logger

    /// A store-backed engine.
    init(configuration: SessionConfiguration = SessionConfiguration(), logger: Logger = Logger(label: "SessionKit")) throws {
        try self.init(configuration: configuration, logger: logger, sealed: nil, revocation: false)
    }

    private init(configuration: SessionConfiguration, logger: Logger, sealed ring: KeyRing?, revocation: Bool) throws {
        let clock = TestClock(start: testEpoch)
        let memory = MemorySessionStore(clock: clock)
        let recorder = RecordingSessionStore(memory)
        let faults = FaultInjectingSessionStore(recorder)
        let store = CountingSessionStore(faults)
        engine = try Self.makeEngine(store, clock, configuration, logger, sealed: ring, revocation: revocation)
        self.clock = clock
        self.memory = memory
        self.recorder = recorder
        self.faults = faults
        self.store = store
        sealedRing = ring
        self.revocation = revocation
        self.logger = logger
    }

    private static func makeEngine(
        _ store: CountingSessionStore,
        _ clock: TestClock,
        _ configuration: SessionConfiguration,
        _ logger: Logger,
        sealed ring: KeyRing?,
        revocation: Bool
    ) throws -> SessionEngine {
        guard let ring else { return try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger) }
        let backend = SealedCookieBackend(keyRing: ring, revocationStore: revocation ? store : nil)
        return try SessionEngine(sealedCookies: backend, configuration: configuration, clock: clock, logger: logger)
    }

    /// An engine over sealed cookies; the store chain is its revocation store (none without `revocation`).
    static func sealed(
        _ ring: KeyRing = TestKeys.ringA,
        configuration: SessionConfiguration = .sealedTests(),
        revocation: Bool = true
    ) throws -> Harness {
        try Harness(configuration: configuration, logger: Logger(label: "SessionKit"), sealed: ring, revocation: revocation)
    }

    /// A store-backed engine that signs its tokens with `ring`.
    static func signed(_ ring: KeyRing = TestKeys.ringA) throws -> Harness {
        try Harness(configuration: SessionConfiguration(tokenSigning: ring))
    }

    /// Another engine on the same clock and store chain, with another configuration (another
    /// cookie name or signing ring) or, for a sealed harness, another key ring.
    func sibling(_ configuration: SessionConfiguration? = nil, sealed ring: KeyRing? = nil) throws -> SessionEngine {
        try Self.makeEngine(
            store,
            clock,
            configuration ?? engine.configuration,
            logger,
            sealed: ring ?? sealedRing,
            revocation: revocation
        )
    }

    var cookieName: String { engine.configuration.cookie.name }

    func client(_ engine: SessionEngine? = nil, cookie: String? = nil) -> EngineTestClient {
        let client = EngineTestClient(engine: engine ?? self.engine)
        client.cookie = cookie
        return client
    }

    /// Creates a session holding `count = value` and returns the client that holds it; the
    /// store call counts are reset afterwards.
    func clientWithSession(count value: Int = 1) async throws -> EngineTestClient {
        let client = client()
        try await client.send { try await $0.set(Keys.count, value) }
        #expect(client.cookie != nil)
        store.reset()
        return client
    }

    /// A new session on `engine` holding `Keys.value = text` (signed in as `user` if given);
    /// checks that it reads back, resets the store call counts and returns the cookie value.
    func newCookie(
        _ text: String = "secret payload",
        user: String? = nil,
        engine: SessionEngine? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let client = client(engine)
        try await client.send { session in
            try await session.set(Keys.value, text)
            if let user { try await session.signIn(userID: user) }
        }
        let value = try #require(client.cookie, sourceLocation: sourceLocation)
        // Sanity: the untouched value is accepted.
        let (observed, _) = try await observe(value, engine: engine)
        #expect(observed == Observed(value: text, user: user, empty: false), sourceLocation: sourceLocation)
        store.reset()
        return value
    }

    /// A handle for a request carrying `cookie`, already loaded unless `load` is false (as a
    /// slow handler holds it while other requests run).
    func begin(cookie: String?, load: Bool = true) async throws -> SessionHandle {
        var fields = HTTPFields()
        if let cookie { fields[.cookie] = "\(cookieName)=\(cookie)" }
        let handle = engine.begin(fields)
        if load { _ = try await handle.get(Keys.count) }
        return handle
    }

    /// What a request that sends exactly `value` (not a jar) under `name` sees of its session.
    func observe(_ value: String, name: String? = nil, engine: SessionEngine? = nil) async throws -> (Observed, EngineTestClient.Response) {
        let engine = engine ?? self.engine
        var fields = HTTPFields()
        fields[.cookie] = "\(name ?? engine.configuration.cookie.name)=\(value)"
        let (observed, response) = try await client(engine).request(headers: fields) { session in
            Observed(value: try await session.get(Keys.value), user: try await session.userID, empty: try await session.isEmpty)
        }
        return (observed, response)
    }

    /// Sends `value` and checks it is treated exactly like no session: anonymous, no response
    /// fields, no store call.
    func expectRejected(
        _ value: String,
        name: String? = nil,
        engine: SessionEngine? = nil,
        _ comment: Comment? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        store.reset()
        do {
            let (observed, response) = try await observe(value, name: name, engine: engine)
            #expect(observed == .anonymous, comment, sourceLocation: sourceLocation)
            #expect(response.fields.isEmpty, comment, sourceLocation: sourceLocation)
            #expect(store.total == 0, "store calls: \(store.calls) \(comment.map { "(\($0))" } ?? "")", sourceLocation: sourceLocation)
        } catch {
            Issue.record("a rejected cookie threw \(error) \(comment.map { "(\($0))" } ?? "")", sourceLocation: sourceLocation)
        }
        store.reset()
    }

    /// The stored record of a cookie value (of its token part when the engine signs tokens),
    /// read straight from the memory store.
    func record(for value: String?) async throws -> SessionRecord? {
        guard var value else { return nil }
        if engine.configuration.tokenSigning != nil { value = String(value.prefix(SessionToken.encodedLength)) }
        guard let valid = SessionToken(validating: value) else { return nil }
        return try await memory.load(valid.storageID)
    }
}

/// Request fields with one `Cookie` field per argument, exactly as given.
func cookieFields(_ values: String...) -> HTTPFields {
    var fields = HTTPFields()
    for value in values {
        fields.append(HTTPField(name: .cookie, value: value))
    }
    return fields
}

/// The parsed `Set-Cookie` values of a response.
func setCookies(_ fields: HTTPFields) -> [SetCookie] {
    fields[values: .setCookie].compactMap(SetCookie.init)
}

/// Lowercase hex of bytes.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    var result = ""
    for byte in bytes {
        result.append(digits[Int(byte >> 4)])
        result.append(digits[Int(byte & 0xF)])
    }
    return result
}

/// The session error a throwing operation produced, or `nil` (recording an issue) when it
/// did not throw one.
func sessionError(
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

struct MissingToken: Error, CustomStringConvertible {
    let value: String?
    var description: String { "not a valid session token: \(String(describing: value))" }
}

/// The validated token of a cookie value (throws when there is none).
func token(of value: String?) throws -> SessionToken {
    guard let value, let token = SessionToken(validating: value) else { throw MissingToken(value: value) }
    return token
}

/// The storage ID of a cookie value's token (throws when there is none).
func storageID(of value: String?) throws -> SessionStorageID {
    try token(of: value).storageID
}

/// What the engine adds to a response that read a live session but changed no cookie: shared
/// caches must not keep it for anyone else.
let userSpecificFields: HTTPFields = [.vary: "Cookie", .cacheControl: "private"]
