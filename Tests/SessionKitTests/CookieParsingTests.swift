import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

@Suite("Cookie header parsing")
struct CookieParsingTests {
    let parser = CookieHeaderParser(name: "id", maxValueLength: 4096)

    // MARK: Parser: names are exact

    @Test func findsTheNamedCookie() {
        #expect(parser.lookup(in: "id=abc") == .found("abc"))
        #expect(parser.lookup(in: "a=1; id=abc; b=2") == .found("abc"))
        #expect(parser.lookup(in: "a=1;id=abc;b=2") == .found("abc"))
        #expect(parser.lookup(in: "id=") == .found(""))
        #expect(parser.lookup(in: "") == .absent)
        #expect(parser.lookup(in: "a=1; b=2") == .absent)
    }

    @Test func valueKeepsEverythingAfterTheFirstEquals() {
        #expect(parser.lookup(in: "id=a=b") == .found("a=b"))
        #expect(parser.lookup(in: "id==") == .found("="))
    }

    @Test func namesAreNotCaseFolded() {
        #expect(parser.lookup(in: "ID=abc") == .absent)
        #expect(parser.lookup(in: "Id=abc") == .absent)
        #expect(parser.lookup(in: "iD=abc") == .absent)
        #expect(CookieHeaderParser(name: "__Host-id", maxValueLength: 4096).lookup(in: "__host-id=abc") == .absent)
        #expect(CookieHeaderParser(name: "__Host-id", maxValueLength: 4096).lookup(in: "__HOST-ID=abc") == .absent)
    }

    @Test func namesAreNotPercentDecoded() {
        #expect(parser.lookup(in: "%69d=abc") == .absent)
        #expect(parser.lookup(in: "i%64=abc") == .absent)
        #expect(parser.lookup(in: "%69%64=abc") == .absent)
        // And a decoded-looking name does not clash with the real one.
        #expect(parser.lookup(in: "%69d=evil; id=good") == .found("good"))
    }

    @Test func namesMustMatchWholly() {
        #expect(parser.lookup(in: "xid=1; idx=2; i=3; d=4") == .absent)
        #expect(parser.lookup(in: "xid=1; idx=2; id=3") == .found("3"))
        #expect(parser.lookup(in: "id") == .absent)  // no '=': not a pair
        #expect(parser.lookup(in: "id; x=1") == .absent)
    }

    @Test(arguments: ["\u{00A0}", "\u{2003}", "\u{3000}", "\u{200B}", "\u{FEFF}", "\u{000B}", "\u{000C}", "\r", "\n"])
    func nonOWSWhitespaceIsNotTrimmed(space: String) {
        #expect(parser.lookup(in: "\(space)id=abc") == .absent, "leading \(String(reflecting: space)) was trimmed")
        #expect(parser.lookup(in: "id\(space)=abc") == .absent, "\(String(reflecting: space)) before '=' was trimmed")
        #expect(parser.lookup(in: "a=1; \(space)id=abc") == .absent)
    }

    @Test func spacesAndTabsAroundPairsAreTrimmed() {
        #expect(parser.lookup(in: "  id=abc  ") == .found("abc"))
        #expect(parser.lookup(in: "\tid=abc\t") == .found("abc"))
        #expect(parser.lookup(in: "a=1; \t id=abc \t ;b=2") == .found("abc"))
        #expect(parser.lookup(in: " ; ;; id=abc;;") == .found("abc"))
    }

    @Test func cookieNamedLikeTheSessionCookieInsideAnotherValueIsIgnored() {
        // A quoted or encoded value that merely contains "id=" is not the cookie.
        #expect(parser.lookup(in: "x=\"id=abc\"") == .absent)
        #expect(parser.lookup(in: "x=id%3Dabc") == .absent)
    }

    // MARK: Parser: splitting is byte-exact

    @Test func onlyTheASCIISemicolonSeparatesPairs() {
        // U+037E GREEK QUESTION MARK is canonically equivalent to ';' under Unicode
        // normalization but is a different byte sequence (CD BE). It is part of the value of
        // cookie `x`; it must not split off a pair named `id`.
        #expect(parser.lookup(in: "x=a\u{037E}id=abc") == .absent)
    }

    @Test func aPrependCharacterCannotHideTheNextPair() {
        // U+0600 (a grapheme "prepend" character) glues itself to the following ';' when the
        // header is scanned by Character. Byte-wise the header still holds two `id` pairs, so
        // the lookup must be ambiguous, not the attacker's first value.
        #expect(parser.lookup(in: "id=attacker; z=\u{0600}; id=victim") == .ambiguous)
    }

    @Test func aCombiningMarkAfterTheEqualsSignStillCountsAsAPair() {
        // "=\u{301}" is one Character but the bytes still read `id=`. A second `id` pair must
        // make the lookup ambiguous.
        #expect(parser.lookup(in: "id=first; id=\u{0301}second") == .ambiguous)
    }

    // MARK: Parser: duplicates and size

    @Test func sameNameTwiceInOneFieldIsAmbiguous() {
        #expect(parser.lookup(in: "id=a; id=b") == .ambiguous)
        #expect(parser.lookup(in: "id=a; id=a") == .ambiguous)
        #expect(parser.lookup(in: "id=a; x=1; id=") == .ambiguous)
        #expect(parser.lookup(in: cookieFields("id=a; id=b")) == .ambiguous)
    }

    @Test func sameNameAcrossFieldsIsAmbiguous() {
        #expect(parser.lookup(in: cookieFields("id=a", "id=b")) == .ambiguous)
        #expect(parser.lookup(in: cookieFields("id=a", "id=a")) == .ambiguous)
        #expect(parser.lookup(in: cookieFields("x=1; id=a", "y=2", "id=b; z=3")) == .ambiguous)
    }

    @Test func multipleCookieFieldsAreAllSearched() {
        #expect(parser.lookup(in: cookieFields("a=1", "id=abc", "b=2")) == .found("abc"))
        #expect(parser.lookup(in: cookieFields("a=1", "b=2; id=abc")) == .found("abc"))
        #expect(parser.lookup(in: cookieFields("a=1", "b=2")) == .absent)
        #expect(parser.lookup(in: HTTPFields()) == .absent)
    }

    @Test func otherHeaderFieldsAreIgnored() {
        var fields = HTTPFields()
        fields[.setCookie] = "id=fromSetCookie"
        fields[.authorization] = "id=fromAuthorization"
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        #expect(parser.lookup(in: fields) == .absent)
    }

    @Test func oversizedValueIsRejected() {
        let limit = String(repeating: "v", count: 4096)
        let over = String(repeating: "v", count: 4097)
        #expect(parser.lookup(in: "id=\(limit)") == .found(Substring(limit)))
        #expect(parser.lookup(in: "id=\(over)") == .oversized)
        #expect(parser.lookup(in: "id=" + String(repeating: "v", count: 100_000)) == .oversized)
        // Multi-byte characters count in bytes.
        #expect(parser.lookup(in: "id=" + String(repeating: "é", count: 2049)) == .oversized)
        // Oversized plus another occurrence is still ambiguous.
        #expect(parser.lookup(in: cookieFields("id=\(over)", "id=a")) == .ambiguous)
        #expect(parser.lookup(in: cookieFields("id=a", "id=\(over)")) == .ambiguous)
        // A huge unrelated cookie is fine.
        #expect(parser.lookup(in: "big=\(over); id=a") == .found("a"))
    }

    // MARK: Through the engine

    @Test func duplicateSessionCookieIsAnonymousWithZeroStoreCalls() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 3)
        let token = try #require(owner.cookie)
        let otherValid = SessionToken.generate().text
        for fields in [
            cookieFields("__Host-id=\(token); __Host-id=\(token)"),
            cookieFields("__Host-id=\(token)", "__Host-id=\(otherValid)"),
            cookieFields("__Host-id=\(otherValid)", "__Host-id=\(token)"),
            cookieFields("__Host-id=\(token)", "__Host-id=garbage"),
            cookieFields("__Host-id=", "__Host-id=\(token)"),
        ] {
            let (value, response) = try await harness.client().request(headers: fields) { try await $0.get(Keys.count) }
            #expect(value == nil)
            #expect(response.setCookie == nil)
        }
        #expect(harness.store.total == 0)
    }

    @Test func ambiguousRequestThatWritesGetsAFreshSessionAndLeavesBothAlone() async throws {
        let harness = try Harness()
        let owner = try await harness.clientWithSession(count: 3)
        let token = try #require(owner.cookie)
        let response = try await harness.client().send(headers: cookieFields("__Host-id=\(token)", "__Host-id=\(token)")) {
            try await $0.set(Keys.count, 99)
        }
        let issued = try #require(response.setCookie)
        #expect(issued.value != token)
        #expect(harness.store.calls == [.create: 1])
        #expect(try await harness.record(for: token)?.data["count"] == Data("3".utf8))
    }

    @Test func malformedCookieValuesCostNoStoreCall() async throws {
        let harness = try Harness()
        let token = SessionToken.generate().text
        let values = [
            "", "x", String(token.dropLast()), token + "A", "\"\(token)\"", "+" + token.dropFirst(), String(repeating: "A", count: 42) + "B",
            String(repeating: "A", count: 4097),
        ]
        for value in values {
            #expect(SessionToken(validating: value) == nil)
            let (got, response) = try await harness.client().request(headers: cookieFields("__Host-id=\(value)")) {
                try await $0.get(Keys.count)
            }
            #expect(got == nil)
            #expect(response.fields.isEmpty)
        }
        #expect(harness.store.total == 0)
    }
}
