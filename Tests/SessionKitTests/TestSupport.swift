import Foundation
import HTTPTypes
import Logging
import SessionKit
import SessionKitTesting
import Testing

/// Keys the behaviour tests store values under.
enum Keys {
    static let count = SessionKey<Int>("count")
    static let name = SessionKey<String>("name")
    static let other = SessionKey<String>("other")
    static let cart = SessionKey<[String]>("cart")
}

/// A fixed instant every harness clock starts at (Tue, 14 Nov 2023 22:13:20 GMT).
let testEpoch = Date(timeIntervalSince1970: 1_700_000_000)

/// An engine over a counting memory store with a controllable clock.
struct Harness {
    let clock: TestClock
    let memory: MemorySessionStore
    let store: CountingSessionStore
    let engine: SessionEngine

    init(
        configuration: SessionConfiguration = SessionConfiguration(),
        maxSessions: Int = 1_000_000,
        shardCount: Int = 16,
        logger: Logger? = nil
    ) throws {
        clock = TestClock(start: testEpoch)
        memory = MemorySessionStore(maxSessions: maxSessions, shardCount: shardCount, clock: clock)
        store = CountingSessionStore(memory)
        if let logger {
            engine = try SessionEngine(store: store, configuration: configuration, clock: clock, logger: logger)
        } else {
            engine = try SessionEngine(store: store, configuration: configuration, clock: clock)
        }
    }

    func client(cookie: String? = nil) -> EngineTestClient {
        let client = EngineTestClient(engine: engine)
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

    /// The stored record for a token, read straight from the memory store.
    func record(for token: String?) async throws -> SessionRecord? {
        guard let token, let valid = SessionToken(validating: token) else { return nil }
        return try await memory.load(valid.storageID)
    }
}

/// An engine over a fault-injecting memory store.
struct FaultHarness {
    let clock: TestClock
    let memory: MemorySessionStore
    let faults: FaultInjectingSessionStore
    let store: CountingSessionStore
    let engine: SessionEngine

    init(configuration: SessionConfiguration = SessionConfiguration()) throws {
        clock = TestClock(start: testEpoch)
        memory = MemorySessionStore(clock: clock)
        faults = FaultInjectingSessionStore(memory)
        store = CountingSessionStore(faults)
        engine = try SessionEngine(store: store, configuration: configuration, clock: clock)
    }

    func client(cookie: String? = nil) -> EngineTestClient {
        let client = EngineTestClient(engine: engine)
        client.cookie = cookie
        return client
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

/// The session cookie as a request would carry it.
func sessionCookie(_ value: String, name: String = "__Host-id") -> HTTPFields {
    cookieFields("\(name)=\(value)")
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

/// A deterministic pseudo-random generator (SplitMix64) so fuzz-style tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
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
