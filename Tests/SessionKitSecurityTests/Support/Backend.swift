import HTTPTestSupport
import Foundation
import Testing

/// The session backends every security requirement is checked against.
///
/// PostgreSQL and Redis take part only when `SESSIONKIT_POSTGRES_URL` / `SESSIONKIT_REDIS_URL`
/// name a server (`eval "$(scripts/services.sh env)"`); otherwise they are left out of the
/// arguments and the availability tests below show them as skipped — except under `CI=true`,
/// where a missing server fails.
enum Backend: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case memory
    case sqlite
    case postgres
    case redis
    /// Sealed (encrypted) cookies, with a memory store for revocation epochs.
    case sealed

    static let postgresURL = ProcessInfo.processInfo.environment["SESSIONKIT_POSTGRES_URL"]
    static let redisURL = ProcessInfo.processInfo.environment["SESSIONKIT_REDIS_URL"]
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Every backend that can run here.
    static var all: [Backend] { allCases.filter(\.isAvailable) }

    /// The backends that keep sessions in a server-side store (rows or keys to inspect).
    static var serverSide: [Backend] { all.filter { $0 != .sealed } }

    var isAvailable: Bool {
        switch self {
        case .postgres: return Self.postgresURL != nil
        case .redis: return Self.redisURL != nil
        default: return true
        }
    }

    var isSealed: Bool { self == .sealed }

    var testDescription: String {
        switch self {
        case .memory: return "memory"
        case .sqlite: return "SQLite"
        case .postgres: return "PostgreSQL"
        case .redis: return "Redis"
        case .sealed: return "sealed cookie"
        }
    }
}

@Suite("Security suite backends")
struct BackendAvailabilityTests {
    @Test(
        "PostgreSQL backend is configured (SESSIONKIT_POSTGRES_URL)",
        .enabled(
            if: Backend.postgresURL != nil || Backend.isCI,
            "PostgreSQL security tests skipped: set SESSIONKIT_POSTGRES_URL (eval \"$(scripts/services.sh env)\")"
        )
    )
    func postgresConfigured() {
        #expect(Backend.postgresURL != nil, "CI=true but SESSIONKIT_POSTGRES_URL is not set")
    }

    @Test(
        "Redis backend is configured (SESSIONKIT_REDIS_URL)",
        .enabled(
            if: Backend.redisURL != nil || Backend.isCI,
            "Redis security tests skipped: set SESSIONKIT_REDIS_URL (eval \"$(scripts/services.sh env)\")"
        )
    )
    func redisConfigured() {
        #expect(Backend.redisURL != nil, "CI=true but SESSIONKIT_REDIS_URL is not set")
    }
}
