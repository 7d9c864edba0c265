import Foundation
import SessionKit

extension SessionStoreConformance {
    static let expiryCases: [Case] = [
        Case(name: "a record is gone after its idle expiry") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 60, absolute: 3600))
            clock.advance(by: .seconds(59))
            try expect(try await store.load(id) != nil, "record gone before its idle expiry")
            clock.advance(by: .seconds(2))
            try expect(try await store.load(id) == nil, "record still loads after its idle expiry")
            try expectEqual(try await store.patch(id, makePatch(clock, set: ["a": json("2")])), .notFound, "patch after idle expiry")
            try expect(
                !(try await store.touch(id, idleExpiresAt: clock.now().addingTimeInterval(60), lastSeenAt: clock.now())),
                "touch after idle expiry returned true"
            )
            try expect(try await store.load(id) == nil, "an expired record came back")
        },
        Case(name: "touching never extends past the absolute expiry") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 60, absolute: 150))
            for _ in 0..<2 {
                clock.advance(by: .seconds(50))
                let alive = try await store.touch(id, idleExpiresAt: clock.now().addingTimeInterval(60), lastSeenAt: clock.now())
                try expect(alive, "touch of a live record returned false")
            }
            clock.advance(by: .seconds(51))
            try expect(try await store.load(id) == nil, "record outlived its absolute expiry")
        },
        Case(name: "expired records are not listed for their user") { store, clock in
            let live = newID()
            let dying = newID()
            try await store.create(live, makeRecord(clock, userID: "u", idle: 600))
            try await store.create(dying, makeRecord(clock, userID: "u", idle: 30))
            clock.advance(by: .seconds(31))
            try expectEqual(try await store.sessions(forUser: "u").map(\.id), [live], "listed sessions")
        },
    ]

    static let userIndexCases: [Case] = [
        Case(name: "sessions(forUser:) lists a user's sessions oldest first, metadata only") { store, clock in
            let ids = [newID(), newID(), newID()]
            for (offset, id) in ids.enumerated() {
                try await store.create(id, makeRecord(clock, userID: "alice", createdOffset: TimeInterval(offset)))
            }
            try await store.create(newID(), makeRecord(clock, userID: "bob"))
            try await store.create(newID(), makeRecord(clock))
            let listed = try await store.sessions(forUser: "alice")
            try expectEqual(listed.map(\.id), ids, "alice's sessions, oldest first")
            try expect(listed.allSatisfy { $0.userID == "alice" && $0.userAgent == "conformance/1.0" }, "listing metadata")
            try expectEqual(try await store.sessions(forUser: "nobody").count, 0, "sessions of an unknown user")
        },
        Case(name: "deleteSessions(forUser:except:) keeps only the named session") { store, clock in
            let keep = newID()
            let others = [newID(), newID()]
            try await store.create(keep, makeRecord(clock, userID: "carol"))
            for id in others { try await store.create(id, makeRecord(clock, userID: "carol")) }
            let bob = newID()
            try await store.create(bob, makeRecord(clock, userID: "bob"))
            let deleted = try await store.deleteSessions(forUser: "carol", except: keep)
            try expectEqual(deleted, 2, "deleted count")
            try expectEqual(try await store.sessions(forUser: "carol").map(\.id), [keep], "carol's remaining sessions")
            for id in others { try expect(try await store.load(id) == nil, "a signed-out session still loads") }
            try expect(try await store.load(bob) != nil, "another user's session was deleted")
        },
        Case(name: "deleteSessions(forUser:except: nil) signs the user out everywhere") { store, clock in
            let ids = [newID(), newID()]
            for id in ids { try await store.create(id, makeRecord(clock, userID: "dave")) }
            try expectEqual(try await store.deleteSessions(forUser: "dave", except: nil), 2, "deleted count")
            for id in ids { try expect(try await store.load(id) == nil, "a signed-out session still loads") }
            try expectEqual(try await store.deleteSessions(forUser: "dave", except: nil), 0, "second delete count")
        },
        Case(name: "deleting a session removes it from its user's index") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, userID: "erin"))
            try await store.delete(id)
            try expectEqual(try await store.sessions(forUser: "erin").count, 0, "listed after delete")
        },
    ]

    static let concurrencyCases: [Case] = [
        Case(name: "concurrent patches of different keys all survive") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["base": json("0")]))
            let writers = 64
            try await withThrowingTaskGroup(of: SessionPatchResult.self) { group in
                for index in 0..<writers {
                    let patch = makePatch(clock, set: ["key\(index)": json(String(index))])
                    group.addTask { try await store.patch(id, patch) }
                }
                for try await result in group {
                    guard case .applied = result else { throw ConformanceFailure("a concurrent patch returned \(result)") }
                }
            }
            var expected: [String: Data] = ["base": json("0")]
            for index in 0..<writers { expected["key\(index)"] = json(String(index)) }
            try expectData(try await store.load(id), expected, "data after \(writers) concurrent patches")
        },
        Case(name: "concurrent creates of many sessions stay separate") { store, clock in
            let ids = (0..<50).map { _ in newID() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, id) in ids.enumerated() {
                    let record = makeRecord(clock, data: ["n": json(String(index))])
                    group.addTask { try await store.create(id, record) }
                }
                try await group.waitForAll()
            }
            for (index, id) in ids.enumerated() {
                try expectData(try await store.load(id), ["n": json(String(index))], "session \(index)")
            }
        },
    ]
}
