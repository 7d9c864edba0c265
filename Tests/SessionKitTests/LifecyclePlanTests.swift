import Foundation
import HTTPTypes
import Testing

@testable import SessionKit

/// The lifecycle table (the Lifecycle article of SessionKit.docc), row by row, against the pure decision
/// (`SessionLifecycle.plan`): no store, no clock, no I/O. Rows whose outcome depends on the
/// store's answer (a write that finds the session gone) are executor rows, proved by the
/// engine tests named in ``LifecyclePlanTests/lifecycleTableRows``.
@Suite("Lifecycle plan: the lifecycle table as a pure function")
struct LifecyclePlanTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let policy = LifecyclePolicy(SessionConfiguration(), clientSide: false)
    static let sealedPolicy = LifecyclePolicy(SessionConfiguration(), clientSide: true)
    static let incomingID = SessionToken.generate().storageID

    /// A live record: created an hour ago, last written `lastSeenAgo` seconds ago, version 3.
    static func record(lastSeenAgo: TimeInterval = 10, data: [String: Data] = ["count": Data("1".utf8)], userID: String? = nil) -> SessionRecord {
        let created = now.addingTimeInterval(-3600)
        return SessionRecord(
            data: data,
            userID: userID,
            createdAt: created,
            lastSeenAt: now.addingTimeInterval(-lastSeenAgo),
            idleExpiresAt: now.addingTimeInterval(1800 - lastSeenAgo),
            absoluteExpiresAt: created.addingTimeInterval(43_200),
            userAgent: "old-agent",
            version: 3
        )
    }

    /// The input of a request that loaded `record` (if any) and left the handle as given.
    static func input(
        record: SessionRecord? = nil,
        incomingID: SessionStorageID? = nil,
        sent: Bool? = nil,
        set: [String: Data] = [:],
        removed: Set<String> = [],
        intent: SessionIntent = .keep,
        reissue: Bool = false
    ) -> LifecycleInput {
        var values = record?.data ?? [:]
        for key in removed { values.removeValue(forKey: key) }
        for (key, value) in set { values[key] = value }
        return LifecycleInput(
            incomingID: incomingID,
            tokenWasSent: sent ?? (incomingID != nil),
            record: record,
            values: values,
            setValues: set,
            removedKeys: removed,
            intent: intent,
            loadFailure: nil,
            reissue: reissue,
            requestFields: [.userAgent: "new-agent"],
            now: now
        )
    }

    static func plan(_ input: LifecycleInput, _ policy: LifecyclePolicy = policy) throws -> LifecyclePlan {
        try SessionLifecycle.plan(input, policy)
    }

    // MARK: One test per row

    @Test func nothingWithTheSession() throws {
        #expect(try Self.plan(Self.input()) == .nothing)
    }

    @Test func readOnlyWithinTheTouchInterval() throws {
        let live = Self.record(lastSeenAgo: 59)
        #expect(try Self.plan(Self.input(record: live, incomingID: Self.incomingID)) == .nothing)
    }

    @Test func readOnlyAfterTheTouchIntervalTouches() throws {
        let live = Self.record(lastSeenAgo: 60)
        let touch = SessionUpdate(idleExpiresAt: Self.now.addingTimeInterval(1800), lastSeenAt: Self.now)
        #expect(
            try Self.plan(Self.input(record: live, incomingID: Self.incomingID))
                == .update(touch, expectedVersion: 3, refreshesCookie: false, cookieExpiresAt: nil)
        )
        // A remember-me session's cookie carries the expiry, so the touch refreshes it.
        let remembered = Self.record(lastSeenAgo: 60, data: [ReservedKeys.persistent: Data("true".utf8)])
        guard case .update(let update, _, true, let expiresAt) = try Self.plan(Self.input(record: remembered, incomingID: Self.incomingID)) else {
            Issue.record("a remember-me touch does not refresh the cookie")
            return
        }
        #expect(update.isTouch && expiresAt == update.idleExpiresAt)
        // Never past the absolute expiry.
        let late = SessionRecord(
            data: ["a": Data("1".utf8)],
            createdAt: Self.now.addingTimeInterval(-43_000),
            lastSeenAt: Self.now.addingTimeInterval(-100),
            idleExpiresAt: Self.now.addingTimeInterval(100),
            absoluteExpiresAt: Self.now.addingTimeInterval(200)
        )
        guard case .update(let capped, _, _, _) = try Self.plan(Self.input(record: late, incomingID: Self.incomingID)) else {
            Issue.record("no touch")
            return
        }
        #expect(capped.idleExpiresAt == Self.now.addingTimeInterval(200))
    }

    @Test func readOnlyWithoutACookieOrWithAMalformedOne() throws {
        #expect(try Self.plan(Self.input(sent: false)) == .nothing)
        #expect(try Self.plan(Self.input(sent: true)) == .nothing)
    }

    @Test func readOnlyWithAnUnknownWellFormedCookie() throws {
        #expect(try Self.plan(Self.input(incomingID: Self.incomingID)) == .nothing)
    }

    @Test func newSessionWithNothingWritten() throws {
        #expect(try Self.plan(Self.input(incomingID: Self.incomingID)) == .nothing)
    }

    @Test func newSessionWithDataIsOneCreate() throws {
        let plan = try Self.plan(Self.input(set: ["cart": Data("[1]".utf8)]))
        let expected = SessionRecord(
            data: ["cart": Data("[1]".utf8)],
            createdAt: Self.now,
            lastSeenAt: Self.now,
            idleExpiresAt: Self.now.addingTimeInterval(1800),
            absoluteExpiresAt: Self.now.addingTimeInterval(43_200),
            userAgent: "new-agent"
        )
        #expect(plan == .create(expected, cookieExpiresAt: nil))
    }

    @Test func changedOrRemovedKeysAreOneUpdateOfOnlyThoseKeys() throws {
        let live = Self.record(data: ["count": Data("1".utf8), "name": Data("\"Ada\"".utf8), "keep": Data("0".utf8)])
        let plan = try Self.plan(Self.input(record: live, incomingID: Self.incomingID, set: ["count": Data("2".utf8)], removed: ["name"]))
        let update = SessionUpdate(
            setValues: ["count": Data("2".utf8)],
            removedKeys: ["name"],
            idleExpiresAt: Self.now.addingTimeInterval(1800),
            lastSeenAt: Self.now
        )
        #expect(plan == .update(update, expectedVersion: 3, refreshesCookie: false, cookieExpiresAt: nil))
    }

    @Test func settingTheValueAKeyAlreadyHasChangesNothing() throws {
        var state = HandleState()
        state.adopt(Self.record())
        state.setValue(Data("1".utf8), for: "count")
        #expect(state.setValues.isEmpty && state.removedKeys.isEmpty)
        let plan = try Self.plan(Self.input(record: Self.record(), incomingID: Self.incomingID, set: state.setValues))
        #expect(plan == .nothing)
    }

    @Test func regenerateRotatesKeepingDataCreationAndAbsoluteExpiry() throws {
        let live = Self.record()
        let plan = try Self.plan(Self.input(record: live, incomingID: Self.incomingID, intent: .rotate))
        guard case .rotate(let from, let record, let user, nil) = plan else {
            Issue.record("regenerate planned \(plan)")
            return
        }
        #expect(from == Self.incomingID && user == nil)
        #expect(record.data == live.data && record.createdAt == live.createdAt && record.absoluteExpiresAt == live.absoluteExpiresAt)
        #expect(record.userAgent == "new-agent")
        // Regenerating an empty session ends it.
        let empty = Self.record(data: [:])
        #expect(
            try Self.plan(Self.input(record: empty, incomingID: Self.incomingID, intent: .rotate)) == .end(deleting: Self.incomingID, revokes: false)
        )
    }

    @Test func signInRotatesWithAFreshAbsoluteTimeoutAndTheUser() throws {
        let plan = try Self.plan(Self.input(record: Self.record(), incomingID: Self.incomingID, intent: .signIn(userID: "ada")))
        guard case .rotate(let from, let record, let user, nil) = plan else {
            Issue.record("sign-in planned \(plan)")
            return
        }
        #expect(from == Self.incomingID && user == "ada" && record.userID == "ada")
        #expect(record.createdAt == Self.now && record.absoluteExpiresAt == Self.now.addingTimeInterval(43_200))
        // Without a live session there is nothing to rotate from: a create under a new token.
        guard case .rotate(nil, _, "ada", _) = try Self.plan(Self.input(incomingID: Self.incomingID, intent: .signIn(userID: "ada"))) else {
            Issue.record("a sign-in without a session does not create one")
            return
        }
    }

    @Test func destroyIsOneDeleteWithoutALoad() throws {
        #expect(try Self.plan(Self.input(incomingID: Self.incomingID, intent: .destroy)) == .end(deleting: Self.incomingID, revokes: true))
        #expect(try Self.plan(Self.input(intent: .destroy)) == .nothing, "no cookie sent: nothing to delete")
        #expect(try Self.plan(Self.input(sent: true, intent: .destroy)) == .end(deleting: nil, revokes: true), "a malformed cookie is deleted")
    }

    // MARK: Precedence, failure and the sealed backend

    @Test func intentsMergeDestroyOverSignInOverRotateOverKeep() {
        #expect(SessionIntent.keep.merged(with: .rotate) == .rotate)
        #expect(SessionIntent.rotate.merged(with: .signIn(userID: "a")) == .signIn(userID: "a"))
        #expect(SessionIntent.signIn(userID: "a").merged(with: .rotate) == .signIn(userID: "a"))
        #expect(SessionIntent.signIn(userID: "a").merged(with: .destroy) == .destroy)
        #expect(SessionIntent.destroy.merged(with: .signIn(userID: "a")) == .destroy)
    }

    @Test func aFailedLoadRefusesEveryWriteButAllowsReads() throws {
        var failed = Self.input(set: ["a": Data("1".utf8)])
        failed.loadFailure = .timedOut
        #expect(throws: SessionError.storeUnavailable(.timedOut)) { try Self.plan(failed) }
        var read = Self.input()
        read.loadFailure = .timedOut
        #expect(try Self.plan(read) == .nothing)
    }

    @Test func aTokenSignedWithAnOldKeyIsReissuedWithoutAWrite() throws {
        #expect(try Self.plan(Self.input(record: Self.record(), incomingID: Self.incomingID, reissue: true)) == .reissueCookie(cookieExpiresAt: nil))
    }

    @Test func sealedCookiesReSealInsteadOfReissuingAndDeleteAnEmptiedSession() throws {
        guard case .update(let update, _, true, _) = try Self.plan(Self.input(record: Self.record(), reissue: true), Self.sealedPolicy) else {
            Issue.record("a sealed cookie under an old key is not re-sealed")
            return
        }
        #expect(update.isTouch)
        #expect(
            try Self.plan(Self.input(record: Self.record(), sent: true, removed: ["count"]), Self.sealedPolicy) == .end(deleting: nil, revokes: false)
        )
        // A server-side store keeps the emptied record (its removal is an ordinary update).
        guard case .update = try Self.plan(Self.input(record: Self.record(), incomingID: Self.incomingID, removed: ["count"])) else {
            Issue.record("a server-side emptied session is not updated")
            return
        }
    }

    // MARK: The lifecycle article's table and these tests list the same rows

    /// Each row of the lifecycle article's table, by its first cell, and the test that proves it.
    static let lifecycleTableRows: [String: String] = [
        "Nothing with the session": "nothingWithTheSession",
        "Read only, session last written/touched less than `touchInterval` (60 s) ago": "readOnlyWithinTheTouchInterval",
        "Read only, last write/touch 60 s or more ago": "readOnlyAfterTheTouchIntervalTouches",
        "Read only, no cookie or a malformed cookie": "readOnlyWithoutACookieOrWithAMalformedOne",
        "Read only, well-formed cookie unknown to the store": "readOnlyWithAnUnknownWellFormedCookie",
        "New session, nothing written (or a value set and removed again)": "newSessionWithNothingWritten",
        "New session with data (including `csrfToken()` and `flash(_:)`)": "newSessionWithDataIsOneCreate",
        "Changed or removed keys": "changedOrRemovedKeysAreOneUpdateOfOnlyThoseKeys",
        "Set a key to the value it already has": "settingTheValueAKeyAlreadyHasChangesNothing",
        "`regenerate()`": "regenerateRotatesKeepingDataCreationAndAbsoluteExpiry",
        "`signIn(userID:)`": "signInRotatesWithAFreshAbsoluteTimeoutAndTheUser",
        "`destroy()`": "destroyIsOneDeleteWithoutALoad",
        // Executor rows: the outcome depends on the store's answer.
        "`update` or `rotate` found the session gone (destroyed, expired or rotated while the request ran)":
            "ConcurrentWriteTests.writeAfterAConcurrentDestroyDoesNotRecreateTheSession",
        "A touch found the session gone": "ConcurrentWriteTests.touchAfterAConcurrentDestroyDoesNotRecreateTheSession",
        "`sessionsOfUser()` / `signOutOtherSessions()` / `signOutSession(_:)`": "SessionLimitTests.signOutOtherSessionsKeepsOnlyTheCurrentOne",
    ]

    @Test("the lifecycle article's table has exactly these rows, and each names a test that exists")
    func lifecycleTableMatchesTheTests() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let article = try String(
            contentsOf: root.appendingPathComponent("Sources/SessionKit/SessionKit.docc/Lifecycle.md"),
            encoding: .utf8
        )
        let section = try #require(article.range(of: "# What a request costs: the lifecycle"))
        var rows: [String] = []
        var inTable = false
        for line in article[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("|") {
                inTable = true
                let cell = line.dropFirst().prefix { $0 != "|" }.trimmingCharacters(in: .whitespaces)
                if cell != "What the handler did" && !cell.hasPrefix("---") { rows.append(cell) }
            } else if inTable {
                break
            }
        }
        #expect(Set(rows) == Set(Self.lifecycleTableRows.keys), "article rows: \(rows)")
        let source = try String(contentsOf: here, encoding: .utf8)
        for (_, test) in Self.lifecycleTableRows {
            let parts = test.split(separator: ".")
            let (file, name) = parts.count == 2 ? (String(parts[0]), String(parts[1])) : ("LifecyclePlanTests", test)
            let text =
                file == "LifecyclePlanTests"
                ? source : try String(contentsOf: here.deletingLastPathComponent().appendingPathComponent("\(file).swift"), encoding: .utf8)
            #expect(text.contains("func \(name)("), "\(file).swift has no test \(name)")
        }
    }
}
