import Foundation
import SessionKit

extension SessionStoreConformance {
    static let basicCases: [Case] = [
        Case(name: "load of an unknown ID is nil") { store, _ in
            try expect(try await store.load(newID()) == nil, "load returned a record for an ID never created")
        },
        Case(name: "create then load returns the record") { store, clock in
            let id = newID()
            let record = makeRecord(clock, data: ["name": json("\"Ada\""), "n": json("42"), "cart": json("{\"items\":[1,2]}")], userID: "ada")
            try await store.create(id, record)
            let loaded = try await store.load(id)
            try expectData(loaded, record.data, "loaded data")
            try expectEqual(loaded?.userID, "ada", "user ID")
            try expectEqual(loaded?.userAgent, "conformance/1.0", "user agent")
            try expectClose(loaded?.createdAt, record.createdAt, "createdAt")
            try expectClose(loaded?.idleExpiresAt, record.idleExpiresAt, "idleExpiresAt")
            try expectClose(loaded?.absoluteExpiresAt, record.absoluteExpiresAt, "absoluteExpiresAt")
        },
        Case(name: "create fails with collision when the ID is live") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["a": json("1")]))
            do {
                try await store.create(id, makeRecord(clock, data: ["a": json("2")]))
                throw ConformanceFailure("second create with the same ID succeeded")
            } catch SessionStoreError.collision {}
            try expectData(try await store.load(id), ["a": json("1")], "the first record after a collision")
        },
        Case(name: "create may reuse the ID of an expired record") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 10, absolute: 10))
            clock.advance(by: .seconds(11))
            try await store.create(id, makeRecord(clock, data: ["fresh": json("true")]))
            try expectData(try await store.load(id), ["fresh": json("true")], "the new record")
        },
        Case(name: "records are independent per ID") { store, clock in
            let first = newID()
            let second = newID()
            try await store.create(first, makeRecord(clock, data: ["v": json("1")]))
            try await store.create(second, makeRecord(clock, data: ["v": json("2")]))
            try expectData(try await store.load(first), ["v": json("1")], "first")
            try expectData(try await store.load(second), ["v": json("2")], "second")
        },
        Case(name: "patch sets and removes only the named keys") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["keep": json("1"), "change": json("2"), "drop": json("3")]))
            let result = try await store.patch(id, makePatch(clock, set: ["change": json("20"), "add": json("\"new\"")], remove: ["drop"]))
            guard case .applied = result else { throw ConformanceFailure("patch of a live record returned \(result)") }
            try expectData(try await store.load(id), ["keep": json("1"), "change": json("20"), "add": json("\"new\"")], "patched data")
        },
        Case(name: "patch extends the idle expiry and bumps the version") { store, clock in
            let id = newID()
            let record = makeRecord(clock, idle: 100)
            try await store.create(id, record)
            clock.advance(by: .seconds(60))
            let patch = makePatch(clock, set: ["a": json("2")], idle: 100)
            let result = try await store.patch(id, patch)
            guard case .applied(let version) = result else { throw ConformanceFailure("patch returned \(result)") }
            let loaded = try await store.load(id)
            try expectClose(loaded?.idleExpiresAt, patch.idleExpiresAt, "idle expiry after patch")
            try expectClose(loaded?.lastSeenAt, patch.lastSeenAt, "lastSeenAt after patch")
            try expect((loaded?.version ?? 0) > record.version, "version did not grow")
            try expectEqual(loaded?.version, version, "reported version")
            clock.advance(by: .seconds(60))
            try expect(try await store.load(id) != nil, "record expired on its old idle expiry despite the patch")
        },
        Case(name: "patch with a new absolute expiry extends the record's lifetime") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 100, absolute: 100))
            clock.advance(by: .seconds(50))
            let patch = SessionPatch(
                setValues: ["epoch": json("2")],
                idleExpiresAt: clock.now().addingTimeInterval(300),
                lastSeenAt: clock.now(),
                absoluteExpiresAt: clock.now().addingTimeInterval(300)
            )
            guard case .applied = try await store.patch(id, patch) else {
                throw ConformanceFailure("patch with a new absolute expiry was not applied")
            }
            clock.advance(by: .seconds(200))
            let loaded = try await store.load(id)
            try expect(loaded != nil, "the record expired at its old absolute expiry")
            try expectClose(loaded?.absoluteExpiresAt, patch.absoluteExpiresAt ?? Date(), "absolute expiry after the patch")
        },
        Case(name: "patch of a missing record writes nothing") { store, clock in
            let id = newID()
            let result = try await store.patch(id, makePatch(clock, set: ["a": json("1")]))
            try expectEqual(result, .notFound, "patch of a missing record")
            try expect(try await store.load(id) == nil, "patch re-created a missing record")
        },
        Case(name: "patch after delete never resurrects") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock))
            try await store.delete(id)
            let result = try await store.patch(id, makePatch(clock, set: ["late": json("1")]))
            try expectEqual(result, .notFound, "patch after delete")
            try expect(try await store.load(id) == nil, "patch resurrected a deleted record")
        },
        Case(name: "patch changes the user ID and the user index") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, userID: "old-user"))
            _ = try await store.patch(id, makePatch(clock, userID: .set("new-user")))
            try expectEqual(try await store.load(id)?.userID, "new-user", "user ID after patch")
            try expectEqual(try await store.sessions(forUser: "old-user").count, 0, "sessions left under the old user")
            try expectEqual(try await store.sessions(forUser: "new-user").map(\.id), [id], "sessions under the new user")
            _ = try await store.patch(id, makePatch(clock, userID: .set(nil)))
            try expectEqual(try await store.load(id)?.userID, nil, "user ID after clearing")
            try expectEqual(try await store.sessions(forUser: "new-user").count, 0, "sessions left after clearing the user")
        },
        Case(name: "versioned patch rejects a stale version") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock))
            guard let version = try await store.load(id)?.version else { throw ConformanceFailure("record missing") }
            let first = try await store.patch(id, makePatch(clock, set: ["a": json("2")], expectedVersion: version))
            guard case .applied(let newVersion) = first else { throw ConformanceFailure("first versioned patch returned \(first)") }
            let stale = try await store.patch(id, makePatch(clock, set: ["a": json("3")], expectedVersion: version))
            try expectEqual(stale, .conflict(currentVersion: newVersion), "stale versioned patch")
            try expectData(try await store.load(id), ["a": json("2")], "data after a rejected stale patch")
        },
        Case(name: "touch extends a live record and never creates one") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 100))
            clock.advance(by: .seconds(90))
            let touched = try await store.touch(id, idleExpiresAt: clock.now().addingTimeInterval(100), lastSeenAt: clock.now())
            try expect(touched, "touch of a live record returned false")
            clock.advance(by: .seconds(90))
            try expect(try await store.load(id) != nil, "touched record expired on its old idle expiry")
            let missing = newID()
            let touchedMissing = try await store.touch(missing, idleExpiresAt: clock.now().addingTimeInterval(100), lastSeenAt: clock.now())
            try expect(!touchedMissing, "touch of a missing record returned true")
            try expect(try await store.load(missing) == nil, "touch created a record")
        },
        Case(name: "delete removes the record; deleting nothing is fine") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock))
            try await store.delete(id)
            try expect(try await store.load(id) == nil, "record still loads after delete")
            try await store.delete(id)
            try await store.delete(newID())
        },
        Case(name: "replace moves the record to the new ID and kills the old one") { store, clock in
            let old = newID()
            let new = newID()
            try await store.create(old, makeRecord(clock, data: ["a": json("1")], userID: "u"))
            let replaced = try await store.replace(old, with: new, record: makeRecord(clock, data: ["a": json("1"), "b": json("2")], userID: "u"))
            try expect(replaced, "replace of a live record reported failure")
            try expect(try await store.load(old) == nil, "old ID still loads after replace")
            try expectData(try await store.load(new), ["a": json("1"), "b": json("2")], "replaced record")
            try expectEqual(try await store.sessions(forUser: "u").map(\.id), [new], "user index after replace")
        },
        Case(name: "replace of a gone record writes nothing") { store, clock in
            let old = newID()
            let new = newID()
            try await store.create(old, makeRecord(clock, userID: "u"))
            try await store.delete(old)
            let replaced = try await store.replace(old, with: new, record: makeRecord(clock, userID: "u"))
            try expect(!replaced, "replace of a deleted record reported success")
            try expect(try await store.load(new) == nil, "replace of a deleted record created the new one")
            let expired = newID()
            try await store.create(expired, makeRecord(clock, idle: 5, absolute: 5))
            clock.advance(by: .seconds(6))
            try expect(!(try await store.replace(expired, with: new, record: makeRecord(clock))), "replace of an expired record reported success")
            try expect(try await store.load(new) == nil, "replace of an expired record created the new one")
            try expectEqual(try await store.sessions(forUser: "u").count, 0, "user index after failed replaces")
        },
        Case(name: "replace fails on a taken new ID and keeps the old record") { store, clock in
            let old = newID()
            let taken = newID()
            try await store.create(old, makeRecord(clock, data: ["who": json("\"old\"")]))
            try await store.create(taken, makeRecord(clock, data: ["who": json("\"taken\"")]))
            do {
                _ = try await store.replace(old, with: taken, record: makeRecord(clock, data: ["who": json("\"new\"")]))
                throw ConformanceFailure("replace onto a live ID succeeded")
            } catch SessionStoreError.collision {}
            try expectData(try await store.load(taken), ["who": json("\"taken\"")], "the record at the taken ID")
            try expectData(try await store.load(old), ["who": json("\"old\"")], "the old record after a failed replace")
        },
        Case(name: "values of every JSON shape and large values round-trip") { store, clock in
            let id = newID()
            let big = "\"" + String(repeating: "x", count: 60_000) + "\""
            let data: [String: Data] = [
                "string": json("\"h\\u00e9llo \\\"quoted\\\" \\n line\""),
                "unicode key ✓": json("\"✓ 日本\""),
                "null": json("null"),
                "array": json("[1,\"two\",{\"three\":3}]"),
                "object": json("{\"nested\":{\"deep\":[true,false]}}"),
                "float": json("1.5"),
                "big": json(big),
            ]
            try await store.create(id, makeRecord(clock, data: data))
            try expectData(try await store.load(id), data, "round-tripped values")
        },
    ]
}
