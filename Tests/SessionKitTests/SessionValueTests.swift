import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

struct Cart: Codable, Sendable, Equatable {
    var items: [String]
    var total: Double
    var note: String?
}

@Suite("Session values round-trip as JSON")
struct SessionValueTests {
    /// Stores `value` in one request and reads it back in the next; returns it with the raw
    /// stored JSON.
    func roundTrip<Value: Codable & Sendable & Equatable>(_ value: Value, as key: SessionKey<Value>) async throws -> (Value?, Data?) {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { try await $0.set(key, value) }
        let read = try await client.request { try await $0.get(key) }.value
        let raw = try await harness.record(for: client.cookie)?.data[key.name]
        return (read, raw)
    }

    /// Whether `data` is one valid JSON value.
    func isJSON(_ data: Data?) -> Bool {
        guard let data else { return false }
        return (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil
    }

    @Test(arguments: [0, 1, -1, 42, Int.max, Int.min])
    func integers(_ value: Int) async throws {
        let (read, raw) = try await roundTrip(value, as: SessionKey<Int>("n"))
        #expect(read == value)
        #expect(raw == Data(String(value).utf8))
    }

    @Test(arguments: [
        "", "Ada", "with \"quotes\"", "back\\slash", "tab\there", "new\nline", "caf\u{E9}", "日本語", "👩‍💻", "\u{7F}", "\u{0}", "</script>", "a/b",
    ])
    func strings(_ value: String) async throws {
        let (read, raw) = try await roundTrip(value, as: SessionKey<String>("s"))
        #expect(read == value)
        #expect(isJSON(raw), "stored value is not JSON: \(String(decoding: raw ?? Data(), as: UTF8.self))")
        let decoded = try JSONDecoder().decode(String.self, from: try #require(raw))
        #expect(decoded == value)
    }

    @Test func booleansDoublesAndCollections() async throws {
        #expect(try await roundTrip(true, as: SessionKey<Bool>("b")).0 == true)
        #expect(try await roundTrip(false, as: SessionKey<Bool>("b")).1 == Data("false".utf8))
        #expect(try await roundTrip(1.5, as: SessionKey<Double>("d")).0 == 1.5)
        #expect(try await roundTrip(["a", "b"], as: SessionKey<[String]>("a")).0 == ["a", "b"])
        #expect(try await roundTrip(["x": 1, "y": 2], as: SessionKey<[String: Int]>("m")).0 == ["x": 1, "y": 2])
        let cart = Cart(items: ["book", "pen"], total: 12.5, note: nil)
        let (read, raw) = try await roundTrip(cart, as: SessionKey<Cart>("cart"))
        #expect(read == cart)
        #expect(isJSON(raw))
    }

    @Test func keysAreIndependent() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(SessionKey<Int>("a"), 1)
            try await session.set(SessionKey<Int>("A"), 2)
            try await session.set(SessionKey<String>("a "), "x")
        }
        let values = try await client.request { session in
            (
                try await session.get(SessionKey<Int>("a")), try await session.get(SessionKey<Int>("A")),
                try await session.get(SessionKey<String>("a "))
            )
        }.value
        #expect(values.0 == 1)
        #expect(values.1 == 2)
        #expect(values.2 == "x")
    }

    @Test func readingAsAnotherTypeIsATypeMismatch() async throws {
        let harness = try Harness()
        let client = harness.client()
        try await client.send { session in
            try await session.set(SessionKey<Int>("n"), 5)
            try await session.set(SessionKey<String>("s"), "5")
        }
        let asString = await sessionError { try await client.send { _ = try await $0.get(SessionKey<String>("n")) } }
        #expect(asString == .typeMismatch(key: "n", expected: "String"))
        let asInt = await sessionError { try await client.send { _ = try await $0.get(SessionKey<Int>("s")) } }
        #expect(asInt == .typeMismatch(key: "s", expected: "Int"))
        let asCart = await sessionError { try await client.send { _ = try await $0.get(SessionKey<Cart>("n")) } }
        #expect(asCart?.status == .internalServerError)
        // Reading a number as Double is fine (JSON has one number type).
        #expect(try await client.request { try await $0.get(SessionKey<Double>("n")) }.value == 5)
    }

    @Test func unencodableValueFailsWithEncodingFailed() async throws {
        let harness = try Harness()
        let error = await sessionError {
            try await harness.client().send { try await $0.set(SessionKey<Double>("d"), .nan) }
        }
        #expect(error == .encodingFailed(key: "d"))
        #expect(harness.store.total == 0)
    }

    /// Values another writer stored (another framework, an older version, a DBA): the fast
    /// paths for plain strings and booleans must read exactly what the JSON decoder reads,
    /// and hand anything they don't cover to it.
    @Test(arguments: [
        ("\"Ada\"", "Ada"),
        ("\"caf\u{E9}\"", "caf\u{E9}"),  // raw UTF-8 inside the quotes
        ("\"caf\\u00e9\"", "caf\u{E9}"),  // a JSON escape
        ("\"a\\\"b\"", "a\"b"),
        ("\"\"", ""),
    ])
    func storedStringsDecodeLikeJSON(_ stored: String, _ expected: String) async throws {
        #expect(try await readStored(Data(stored.utf8), as: SessionKey<String>("s")) == expected)
        #expect(try JSONDecoder().decode(String.self, from: Data(stored.utf8)) == expected)
    }

    @Test func storedInvalidUTF8IsATypedErrorNotAReplacementCharacter() async throws {
        let invalid = Data([0x22, 0x61, 0xFF, 0x62, 0x22])  // "a\xFFb"
        await #expect(throws: SessionError.self) { try await readStored(invalid, as: SessionKey<String>("s")) }
        let unterminated = Data([0x22, 0x61])  // "a
        await #expect(throws: SessionError.self) { try await readStored(unterminated, as: SessionKey<String>("s")) }
    }

    @Test func storedBooleans() async throws {
        #expect(try await readStored(Data("true".utf8), as: SessionKey<Bool>("b")) == true)
        #expect(try await readStored(Data("false".utf8), as: SessionKey<Bool>("b")) == false)
        await #expect(throws: SessionError.self) { try await readStored(Data("1".utf8), as: SessionKey<Bool>("b")) }
    }

    /// Puts `raw` under `key` straight into the store, then reads it through the engine.
    func readStored<Value: Codable & Sendable>(_ raw: Data, as key: SessionKey<Value>) async throws -> Value? {
        let harness = try Harness()
        let client = try await harness.clientWithSession()
        let cookie = try #require(client.cookie)
        let token = try #require(SessionToken(validating: cookie))
        let record = try #require(try await harness.memory.load(token.storageID))
        let patch = SessionUpdate(setValues: [key.name: raw], idleExpiresAt: record.idleExpiresAt, lastSeenAt: record.lastSeenAt)
        guard try await harness.memory.update(token.storageID, patch) else {
            Issue.record("the stored value was not written")
            return nil
        }
        return try await client.request { try await $0.get(key) }.value
    }
}
