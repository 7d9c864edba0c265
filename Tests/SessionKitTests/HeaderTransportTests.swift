import Foundation
import HTTPTypes
import SessionKit
import SessionKitTesting
import Testing

@Suite("Header token transport")
struct HeaderTransportTests {
    static let header = HTTPField.Name("Session-Token")!

    func harness() throws -> Harness {
        var configuration = SessionConfiguration()
        configuration.transport = .header(Self.header)
        return try Harness(configuration: configuration)
    }

    func headers(_ values: String...) -> HTTPFields {
        var fields = HTTPFields()
        for value in values {
            fields.append(HTTPField(name: Self.header, value: value))
        }
        return fields
    }

    /// Creates a session and returns its token (from the response header).
    func createSession(_ harness: Harness, count: Int = 1) async throws -> String {
        let response = try await harness.client().send { try await $0.set(Keys.count, count) }
        let token = try #require(response.fields[Self.header])
        harness.store.reset()
        return token
    }

    @Test func newTokenIsReturnedInTheHeader() async throws {
        let harness = try harness()
        let response = try await harness.client().send { try await $0.set(Keys.count, 1) }
        let token = try #require(response.fields[Self.header])
        #expect(SessionToken(validating: token) != nil)
        #expect(response.fields[.setCookie] == nil)
        #expect(response.fields[.vary]?.lowercased() == "session-token")
        #expect(response.fields[.cacheControl] == "no-store")
        #expect(harness.store.calls == [.create: 1])
    }

    @Test func tokenIsReadFromTheHeader() async throws {
        let harness = try harness()
        let token = try await createSession(harness, count: 4)
        let (value, response) = try await harness.client().request(headers: headers(token)) { try await $0.get(Keys.count) }
        #expect(value == 4)
        #expect(response.fields[.cacheControl] == "private" && response.fields[values: HTTPField.Name("Session-Token")!].isEmpty)
        #expect(harness.store.calls == [.load: 1])
    }

    @Test func headerNameIsCaseInsensitive() async throws {
        let harness = try harness()
        let token = try await createSession(harness, count: 4)
        var fields = HTTPFields()
        fields[HTTPField.Name("session-token")!] = token
        #expect(try await harness.client().request(headers: fields) { try await $0.get(Keys.count) }.value == 4)
    }

    @Test func cookieDoesNotAuthenticateInHeaderMode() async throws {
        let harness = try harness()
        let token = try await createSession(harness, count: 4)
        let value = try await harness.client().request(headers: cookieFields("__Host-id=\(token)")) {
            try await $0.get(Keys.count)
        }.value
        #expect(value == nil)
        #expect(harness.store.total == 0)
    }

    @Test func destroyReturnsAnEmptyHeader() async throws {
        let harness = try harness()
        let token = try await createSession(harness)
        let response = try await harness.client().send(headers: headers(token)) { try $0.destroy() }
        #expect(response.fields[Self.header] == "")
        #expect(response.fields[.setCookie] == nil)
        #expect(response.fields[.vary]?.lowercased() == "session-token")
        #expect(harness.store.calls == [.delete: 1])
        // The token is dead.
        harness.store.reset()
        let value = try await harness.client().request(headers: headers(token)) { try await $0.get(Keys.count) }.value
        #expect(value == nil)
        #expect(harness.store.calls == [.load: 1])
    }

    @Test func regenerateReturnsANewToken() async throws {
        let harness = try harness()
        let token = try await createSession(harness, count: 3)
        let response = try await harness.client().send(headers: headers(token)) { try await $0.regenerate() }
        let fresh = try #require(response.fields[Self.header])
        #expect(fresh != token)
        #expect(harness.store.calls == [.load: 1, .rotate: 1])
        #expect(try await harness.client().request(headers: headers(fresh)) { try await $0.get(Keys.count) }.value == 3)
        #expect(try await harness.client().request(headers: headers(token)) { try await $0.get(Keys.count) }.value == nil)
    }

    @Test func malformedHeaderCostsNoStoreCall() async throws {
        let harness = try harness()
        let token = try await createSession(harness)
        let id = try #require(SessionToken(validating: token)).storageID
        for bad in ["", "x", String(token.dropLast()), token + "A", id.hex, "Bearer \(token)", String(repeating: "A", count: 5000)] {
            let (value, response) = try await harness.client().request(headers: headers(bad)) { try await $0.get(Keys.count) }
            #expect(value == nil)
            #expect(response.fields.isEmpty)
        }
        #expect(harness.store.total == 0)
    }

    @Test func headerSentTwiceCostsNoStoreCall() async throws {
        let harness = try harness()
        let token = try await createSession(harness)
        for fields in [headers(token, token), headers(token, SessionToken.generate().text)] {
            let value = try await harness.client().request(headers: fields) { try await $0.get(Keys.count) }.value
            #expect(value == nil)
        }
        #expect(harness.store.total == 0)
    }

    @Test func readOnlyTouchSendsNoHeader() async throws {
        let harness = try harness()
        let token = try await createSession(harness)
        harness.clock.advance(by: .seconds(120))
        let response = try await harness.client().send(headers: headers(token)) { _ = try await $0.get(Keys.count) }
        #expect(harness.store.calls == [.load: 1, .touch: 1])
        #expect(response.fields[.cacheControl] == "private" && response.fields[values: HTTPField.Name("Session-Token")!].isEmpty)
    }
}
