import Foundation
import HTTPTypes
@testable import SessionKit
import SessionKitTesting
import Testing

/// One options value that must be refused, with a label for the test report.
struct InvalidCookieCase: Sendable, CustomStringConvertible {
    let label: String
    let options: SessionCookieOptions
    var description: String { label }

    init(_ label: String, _ change: (inout SessionCookieOptions) -> Void) {
        self.label = label
        var options = SessionCookieOptions()
        change(&options)
        self.options = options
    }
}

/// One configuration value that must be refused.
struct InvalidConfigurationCase: Sendable, CustomStringConvertible {
    let label: String
    let configuration: SessionConfiguration
    var description: String { label }

    init(_ label: String, _ change: (inout SessionConfiguration) -> Void) {
        self.label = label
        var configuration = SessionConfiguration()
        change(&configuration)
        self.configuration = configuration
    }
}

@Suite("Cookie options and configuration validation")
struct CookieOptionsTests {
    static let invalidCookies: [InvalidCookieCase] = [
        .init("__Host- without Secure") { $0.secure = false },
        .init("__Host- with Domain") { $0.domain = "example.com" },
        .init("__Host- with Path /app") { $0.path = "/app" },
        .init("__Host- with Path /app/") { $0.path = "/app/" },
        .init("__Secure- without Secure") {
            $0.name = "__Secure-id"; $0.secure = false
        },
        .init("SameSite=None without Secure") {
            $0.name = "id"; $0.secure = false; $0.sameSite = .none
        },
        .init("Partitioned without Secure") {
            $0.name = "id"; $0.secure = false; $0.partitioned = true
        },
        .init("empty name") { $0.name = "" },
        .init("';' in name") { $0.name = "id;x" },
        .init("'=' in name") { $0.name = "id=x" },
        .init("space in name") { $0.name = "my id" },
        .init("tab in name") { $0.name = "my\tid" },
        .init("CR in name") { $0.name = "id\r" },
        .init("LF in name") { $0.name = "id\nSet-Cookie: x" },
        .init("CRLF in name") { $0.name = "id\r\nX: y" },
        .init("NUL in name") { $0.name = "id\0" },
        .init("DEL in name") { $0.name = "id\u{7F}" },
        .init("quote in name") { $0.name = "\"id\"" },
        .init("comma in name") { $0.name = "a,b" },
        .init("non-ASCII name") { $0.name = "sessión" },
        .init("';' in path") {
            $0.name = "id"; $0.path = "/;Domain=evil.com"
        },
        .init("CR in path") {
            $0.name = "id"; $0.path = "/\r"
        },
        .init("LF in path") {
            $0.name = "id"; $0.path = "/\nX: y"
        },
        .init("control in path") {
            $0.name = "id"; $0.path = "/\u{1}"
        },
        .init("DEL in path") {
            $0.name = "id"; $0.path = "/\u{7F}"
        },
        .init("non-ASCII path") {
            $0.name = "id"; $0.path = "/café"
        },
        .init("relative path") {
            $0.name = "id"; $0.path = "app"
        },
        .init("empty path") {
            $0.name = "id"; $0.path = ""
        },
        .init("';' in domain") {
            $0.name = "id"; $0.domain = "example.com; Secure"
        },
        .init("CR in domain") {
            $0.name = "id"; $0.domain = "example.com\r"
        },
        .init("LF in domain") {
            $0.name = "id"; $0.domain = "example.com\n"
        },
        .init("control in domain") {
            $0.name = "id"; $0.domain = "exa\u{8}mple.com"
        },
        .init("empty domain") {
            $0.name = "id"; $0.domain = ""
        },
        .init("__Secure- with ';' in domain") {
            $0.name = "__Secure-id"; $0.domain = "a.com;b"
        },
    ]

    static let invalidConfigurations: [InvalidConfigurationCase] = [
        .init("absolute shorter than idle") {
            $0.idleTimeout = .seconds(3600); $0.absoluteTimeout = .seconds(1800)
        },
        .init("zero idle") { $0.idleTimeout = .zero },
        .init("negative idle") { $0.idleTimeout = .seconds(-1) },
        .init("touch interval equal to idle") { $0.touchInterval = $0.idleTimeout },
        .init("touch interval longer than idle") { $0.touchInterval = .seconds(3600) },
        .init("negative touch interval") { $0.touchInterval = .seconds(-1) },
        .init("remember-me zero idle") { $0.rememberMe.idleTimeout = .zero },
        .init("remember-me absolute shorter than idle") {
            $0.rememberMe = .init(idleTimeout: .seconds(86_400 * 10), absoluteTimeout: .seconds(86_400))
        },
        .init("session limit of zero") { $0.concurrentSessionLimit = .init(maxSessions: 0) },
        .init("negative retry-after") { $0.retryAfterSeconds = -1 },
        .init("zero store timeout") { $0.storeTimeout = .zero },
        .init("negative store timeout") { $0.storeTimeout = .seconds(-1) },
        .init("header transport on Cookie") { $0.transport = .header(.cookie) },
        .init("header transport on Set-Cookie") { $0.transport = .header(.setCookie) },
        .init("invalid cookie inside configuration") { $0.cookie.secure = false },
    ]

    // MARK: Cookie options

    @Test(arguments: invalidCookies)
    func invalidCookieOptionsAreRefused(_ invalid: InvalidCookieCase) throws {
        #expect(throws: SessionConfigurationError.self) { try invalid.options.validate() }
        var configuration = SessionConfiguration()
        configuration.cookie = invalid.options
        #expect(throws: SessionConfigurationError.self) { try configuration.validate() }
        #expect(throws: SessionConfigurationError.self) {
            _ = try SessionEngine(store: MemorySessionStore(), configuration: configuration)
        }
    }

    @Test func configurationErrorsExplainThemselves() throws {
        var options = SessionCookieOptions()
        options.secure = false
        let error = try #require(throws: SessionConfigurationError.self) { try options.validate() }
        #expect(error.message.contains("Secure"))
        #expect(error.description.contains("SessionKit configuration error"))
    }

    @Test func validCookieOptionsAreAccepted() throws {
        try SessionCookieOptions().validate()
        try SessionCookieOptions.insecureLocalDevelopment.validate()
        try SessionCookieOptions(name: "__Secure-id", domain: "example.com").validate()
        try SessionCookieOptions(name: "__Secure-sid", path: "/app").validate()
        try SessionCookieOptions(sameSite: .none).validate()
        try SessionCookieOptions(sameSite: .strict, partitioned: true).validate()
        try SessionCookieOptions(name: "id", secure: false, httpOnly: false, sameSite: .strict, path: "/a-b_c/~d").validate()
        try SessionCookieOptions(name: "a!#$%&'*+-.^_`|~Z9").validate()
    }

    @Test func defaultsAreTheSecureOnes() {
        let options = SessionCookieOptions()
        #expect(options.name == "__Host-id")
        #expect(options.secure)
        #expect(options.httpOnly)
        #expect(options.sameSite == .lax)
        #expect(options.path == "/")
        #expect(options.domain == nil)
        #expect(!options.partitioned)
        let development = SessionCookieOptions.insecureLocalDevelopment
        #expect(development.name == "id")
        #expect(!development.secure)
        #expect(development.httpOnly)
    }

    @Test func newSessionGetsTheDefaultSetCookie() async throws {
        let harness = try Harness()
        let client = harness.client()
        let response = try await client.send { try await $0.set(Keys.count, 1) }
        let raw = try #require(response.fields[.setCookie])
        let token = try #require(client.cookie)
        #expect(raw == "__Host-id=\(token); Path=/; Secure; HttpOnly; SameSite=Lax")
        let cookie = try #require(response.setCookie)
        #expect(cookie.name == "__Host-id")
        #expect(cookie.value == token)
        #expect(cookie.attributes == ["path": "/", "secure": "", "httponly": "", "samesite": "Lax"])
        #expect(cookie.attributes["max-age"] == nil)
        #expect(cookie.attributes["expires"] == nil)
        #expect(cookie.attributes["domain"] == nil)
        #expect(!cookie.isPersistent)
        #expect(response.fields[values: .setCookie].count == 1)
    }

    @Test func customOptionsAppearInSetCookie() async throws {
        var configuration = SessionConfiguration()
        configuration.cookie = SessionCookieOptions(name: "__Secure-sid", sameSite: .none, path: "/app", domain: "example.com", partitioned: true)
        let harness = try Harness(configuration: configuration)
        let client = harness.client()
        let response = try await client.send { try await $0.set(Keys.count, 1) }
        let token = try #require(client.cookie)
        #expect(response.fields[.setCookie] == "__Secure-sid=\(token); Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=None; Partitioned")
    }

    @Test func insecureDevelopmentCookieHasNoSecureFlag() async throws {
        var configuration = SessionConfiguration()
        configuration.cookie = .insecureLocalDevelopment
        let harness = try Harness(configuration: configuration)
        let client = harness.client()
        let response = try await client.send { try await $0.set(Keys.count, 1) }
        let cookie = try #require(response.setCookie)
        #expect(cookie.name == "id")
        #expect(cookie.attributes["secure"] == nil)
        #expect(cookie.attributes["httponly"] == "")
        // And the engine reads the cookie back under that name.
        #expect(try await client.request { try await $0.get(Keys.count) }.value == 1)
    }

    // MARK: SetCookieBuilder

    @Test func deletionCookieFormat() {
        let builder = SetCookieBuilder(options: SessionCookieOptions())
        #expect(builder.deletion() == "__Host-id=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        let scoped = SetCookieBuilder(options: SessionCookieOptions(name: "__Secure-s", path: "/app", domain: "example.com"))
        #expect(
            scoped.deletion()
                == "__Secure-s=; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        )
    }

    @Test func persistentCookieFormat() {
        let builder = SetCookieBuilder(options: SessionCookieOptions())
        let now = Date(timeIntervalSince1970: 784_111_777 - 3600.5)
        let cookie = builder.cookie(value: "v", expiresAt: Date(timeIntervalSince1970: 784_111_777), now: now)
        #expect(cookie == "__Host-id=v; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600; Expires=Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(builder.cookie(value: "v", expiresAt: nil, now: now) == "__Host-id=v; Path=/; Secure; HttpOnly; SameSite=Lax")
        // An expiry in the past never yields a negative Max-Age.
        let past = builder.cookie(value: "v", expiresAt: now.addingTimeInterval(-10), now: now)
        #expect(past.contains("Max-Age=0;"))
    }

    // MARK: Configuration

    @Test(arguments: invalidConfigurations)
    func invalidConfigurationsAreRefused(_ invalid: InvalidConfigurationCase) {
        #expect(throws: SessionConfigurationError.self) { try invalid.configuration.validate() }
        #expect(throws: SessionConfigurationError.self) {
            _ = try SessionEngine(store: MemorySessionStore(), configuration: invalid.configuration)
        }
    }

    @Test func defaultConfiguration() throws {
        let configuration = SessionConfiguration()
        try configuration.validate()
        #expect(configuration.transport == .cookie)
        #expect(configuration.idleTimeout == .seconds(1800))
        #expect(configuration.absoluteTimeout == .seconds(43_200))
        #expect(configuration.touchInterval == .seconds(60))
        #expect(configuration.rememberMe.idleTimeout == .seconds(14 * 86_400))
        #expect(configuration.rememberMe.absoluteTimeout == .seconds(30 * 86_400))
        #expect(configuration.concurrentSessionLimit == nil)
        #expect(configuration.loadFailurePolicy == .failRequest)
        #expect(configuration.retryAfterSeconds == 5)
        #expect(configuration.storeTimeout == .seconds(5))
        #expect(!configuration.clearSiteDataOnDestroy)
        #expect(!configuration.versionedWrites)
    }

    @Test func edgeConfigurationsAreAccepted() throws {
        var configuration = SessionConfiguration()
        configuration.absoluteTimeout = configuration.idleTimeout
        configuration.touchInterval = .zero
        configuration.storeTimeout = nil
        configuration.retryAfterSeconds = 0
        configuration.concurrentSessionLimit = .init(maxSessions: 1, policy: .refuse)
        configuration.transport = .header(HTTPField.Name("Session-Token")!)
        try configuration.validate()
        _ = try SessionEngine(store: MemorySessionStore(), configuration: configuration)
    }
}
