import Foundation
import SessionKit

extension SessionStoreConformance {
    /// The five-call contract of `SessionStore`: every store must pass these.
    public static let core: [Case] = recordCases + updateCases + rotateCases + expiryCases + concurrencyCases + hostileKeyCases

    static let recordCases: [Case] = [
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
        Case(name: "delete removes the record; deleting nothing is fine") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock))
            try await store.delete(id)
            try expect(try await store.load(id) == nil, "record still loads after delete")
            try await store.delete(id)
            try await store.delete(newID())
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

    static let updateCases: [Case] = [
        Case(name: "update sets and removes only the named keys") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["keep": json("1"), "change": json("2"), "drop": json("3")]))
            let applied = try await store.update(id, makeUpdate(clock, set: ["change": json("20"), "add": json("\"new\"")], remove: ["drop"]))
            try expect(applied, "update of a live record reported that it was gone")
            try expectData(try await store.load(id), ["keep": json("1"), "change": json("20"), "add": json("\"new\"")], "updated data")
        },
        Case(name: "update extends the idle expiry and bumps the version") { store, clock in
            let id = newID()
            let record = makeRecord(clock, idle: 100)
            try await store.create(id, record)
            clock.advance(by: .seconds(60))
            let update = makeUpdate(clock, set: ["a": json("2")], idle: 100)
            try expect(try await store.update(id, update), "update of a live record reported that it was gone")
            let loaded = try await store.load(id)
            try expectClose(loaded?.idleExpiresAt, update.idleExpiresAt, "idle expiry after update")
            try expectClose(loaded?.lastSeenAt, update.lastSeenAt, "lastSeenAt after update")
            try expect((loaded?.version ?? 0) > record.version, "version did not grow")
            clock.advance(by: .seconds(60))
            try expect(try await store.load(id) != nil, "record expired on its old idle expiry despite the update")
        },
        Case(name: "update of a missing record writes nothing") { store, clock in
            let id = newID()
            try expect(!(try await store.update(id, makeUpdate(clock, set: ["a": json("1")]))), "update of a missing record reported success")
            try expect(try await store.load(id) == nil, "update re-created a missing record")
        },
        Case(name: "update after delete never resurrects") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock))
            try await store.delete(id)
            try expect(!(try await store.update(id, makeUpdate(clock, set: ["late": json("1")]))), "update after delete reported success")
            try expect(try await store.load(id) == nil, "update resurrected a deleted record")
        },
        Case(name: "an update without keys (a touch) extends a live record and never creates one") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["a": json("1")], idle: 100))
            clock.advance(by: .seconds(90))
            try expect(try await store.update(id, makeUpdate(clock, idle: 100)), "touch of a live record returned false")
            clock.advance(by: .seconds(90))
            try expectData(try await store.load(id), ["a": json("1")], "touched record")
            let missing = newID()
            try expect(!(try await store.update(missing, makeUpdate(clock, idle: 100))), "touch of a missing record returned true")
            try expect(try await store.load(missing) == nil, "touch created a record")
        },
        Case(name: "a record without an absolute limit lives as long as updates move its idle expiry") { store, clock in
            let id = newID()
            let now = clock.now()
            try await store.create(
                id,
                SessionRecord(
                    data: ["epoch": json("1")],
                    createdAt: now,
                    idleExpiresAt: now.addingTimeInterval(100),
                    absoluteExpiresAt: .distantFuture
                )
            )
            clock.advance(by: .seconds(90))
            try expect(try await store.update(id, makeUpdate(clock, set: ["epoch": json("2")], idle: 100)), "update was not applied")
            clock.advance(by: .seconds(90))
            try expectData(try await store.load(id), ["epoch": json("2")], "record after its first idle expiry")
            clock.advance(by: .seconds(11))
            try expect(try await store.load(id) == nil, "record outlived its moved idle expiry")
        },
    ]

    static let rotateCases: [Case] = [
        Case(name: "rotate moves the record to the new ID and kills the old one") { store, clock in
            let old = newID()
            let new = newID()
            try await store.create(old, makeRecord(clock, data: ["a": json("1")], userID: "u"))
            let rotated = try await store.rotate(old, to: new, record: makeRecord(clock, data: ["a": json("1"), "b": json("2")], userID: "u"))
            try expect(rotated, "rotate of a live record reported failure")
            try expect(try await store.load(old) == nil, "old ID still loads after rotate")
            try expectData(try await store.load(new), ["a": json("1"), "b": json("2")], "rotated record")
        },
        Case(name: "rotate of a gone record writes nothing") { store, clock in
            let old = newID()
            let new = newID()
            try await store.create(old, makeRecord(clock, userID: "u"))
            try await store.delete(old)
            try expect(!(try await store.rotate(old, to: new, record: makeRecord(clock, userID: "u"))), "rotate of a deleted record reported success")
            try expect(try await store.load(new) == nil, "rotate of a deleted record created the new one")
            let expired = newID()
            try await store.create(expired, makeRecord(clock, idle: 5, absolute: 5))
            clock.advance(by: .seconds(6))
            try expect(!(try await store.rotate(expired, to: new, record: makeRecord(clock))), "rotate of an expired record reported success")
            try expect(try await store.load(new) == nil, "rotate of an expired record created the new one")
        },
        Case(name: "rotate fails on a taken new ID and keeps the old record") { store, clock in
            let old = newID()
            let taken = newID()
            try await store.create(old, makeRecord(clock, data: ["who": json("\"old\"")]))
            try await store.create(taken, makeRecord(clock, data: ["who": json("\"taken\"")]))
            do {
                _ = try await store.rotate(old, to: taken, record: makeRecord(clock, data: ["who": json("\"new\"")]))
                throw ConformanceFailure("rotate onto a live ID succeeded")
            } catch SessionStoreError.collision {}
            try expectData(try await store.load(taken), ["who": json("\"taken\"")], "the record at the taken ID")
            try expectData(try await store.load(old), ["who": json("\"old\"")], "the old record after a failed rotate")
        },
        Case(name: "concurrent rotations of one record: exactly one wins") { store, clock in
            let old = newID()
            try await store.create(old, makeRecord(clock, data: ["a": json("1")]))
            let targets = (0..<8).map { _ in newID() }
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for target in targets {
                    let record = makeRecord(clock, data: ["a": json("1")])
                    group.addTask { try await store.rotate(old, to: target, record: record) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            try expectEqual(wins, 1, "rotations that reported success")
            var live = 0
            for target in targets where try await store.load(target) != nil { live += 1 }
            try expectEqual(live, 1, "records alive under the new IDs")
        },
    ]

    static let expiryCases: [Case] = [
        Case(name: "a record is gone after its idle expiry") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 60, absolute: 3600))
            clock.advance(by: .seconds(59))
            try expect(try await store.load(id) != nil, "record gone before its idle expiry")
            clock.advance(by: .seconds(2))
            try expect(try await store.load(id) == nil, "record still loads after its idle expiry")
            try expect(!(try await store.update(id, makeUpdate(clock, set: ["a": json("2")]))), "update after idle expiry reported success")
            try expect(!(try await store.update(id, makeUpdate(clock))), "touch after idle expiry reported success")
            try expect(try await store.load(id) == nil, "an expired record came back")
        },
        Case(name: "touching never extends past the absolute expiry") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, idle: 60, absolute: 150))
            for _ in 0..<2 {
                clock.advance(by: .seconds(50))
                try expect(try await store.update(id, makeUpdate(clock, idle: 60)), "touch of a live record returned false")
            }
            clock.advance(by: .seconds(51))
            try expect(try await store.load(id) == nil, "record outlived its absolute expiry")
        },
    ]

    static let concurrencyCases: [Case] = [
        Case(name: "concurrent updates of different keys all survive") { store, clock in
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["base": json("0")]))
            let writers = 64
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<writers {
                    let update = makeUpdate(clock, set: ["key\(index)": json(String(index))])
                    group.addTask { try await store.update(id, update) }
                }
                for try await applied in group {
                    try expect(applied, "a concurrent update reported the record gone")
                }
            }
            var expected: [String: Data] = ["base": json("0")]
            for index in 0..<writers { expected["key\(index)"] = json(String(index)) }
            try expectData(try await store.load(id), expected, "data after \(writers) concurrent updates")
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
