import Foundation
import SessionKit

extension SessionStoreConformance {
    /// `AtomicKeySessionStore`: per-key compare-and-set and increments, alone and
    /// under real concurrency (many tasks on one key must lose no update).
    public static let atomicKeys: [Case] = [
        Case(name: "compareAndSet writes while the key holds the loaded value, keeps other keys, bumps the version") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["cart": json(#"["a"]"#), "other": json("1")]))
            let loaded = try await store.load(id)
            clock.advance(by: .seconds(5))
            let write = keyWrite(clock, "cart", expected: loaded?.data["cart"], newValue: json(#"["a","b"]"#), idle: 900)
            guard case .applied(let version) = try await atomic.compareAndSet(id, write) else {
                throw ConformanceFailure("compareAndSet with the loaded value did not apply")
            }
            let after = try await store.load(id)
            try expectData(after, ["cart": json(#"["a","b"]"#), "other": json("1")], "record after compareAndSet")
            try expectEqual(after?.version, version, "returned version")
            try expectEqual(version, (loaded?.version ?? 0) + 1, "version after compareAndSet (the loaded one plus exactly one)")
            try expectClose(after?.idleExpiresAt, clock.now().addingTimeInterval(900), "idle expiry after compareAndSet")
            try expectClose(after?.lastSeenAt, clock.now(), "last seen after compareAndSet")
        },
        Case(name: "compareAndSet conflicts when the key changed, reports its value, writes nothing") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["n": json("1")]))
            let stale = try await store.load(id)?.data["n"]
            _ = try await store.update(id, makeUpdate(clock, set: ["n": json("2")]))
            let result = try await atomic.compareAndSet(id, keyWrite(clock, "n", expected: stale, newValue: json("3")))
            guard case .conflict(let current) = result else { throw ConformanceFailure("a stale compareAndSet returned \(result)") }
            try expect(jsonEquivalent(current, json("2")), "conflict reported \(current.map { String(decoding: $0, as: UTF8.self) } ?? "nil")")
            try expectData(try await store.load(id), ["n": json("2")], "record after a conflicting compareAndSet")
            // The reported value is the one to compare with next.
            let retry = try await atomic.compareAndSet(id, keyWrite(clock, "n", expected: current, newValue: json("3")))
            guard case .applied = retry else { throw ConformanceFailure("compareAndSet with the reported value returned \(retry)") }
            try expectData(try await store.load(id), ["n": json("3")], "record after the retry")
        },
        Case(name: "compareAndSet expecting an absent key adds it only while absent; a nil value removes the key") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["a": json("1")]))
            guard case .applied = try await atomic.compareAndSet(id, keyWrite(clock, "b", expected: nil, newValue: json("true"))) else {
                throw ConformanceFailure("adding an absent key did not apply")
            }
            let again = try await atomic.compareAndSet(id, keyWrite(clock, "b", expected: nil, newValue: json("false")))
            guard case .conflict(let current) = again, jsonEquivalent(current, json("true")) else {
                throw ConformanceFailure("adding a key that exists returned \(again)")
            }
            let expected = try await store.load(id)?.data["a"]
            guard case .applied = try await atomic.compareAndSet(id, keyWrite(clock, "a", expected: expected, newValue: nil)) else {
                throw ConformanceFailure("removing a key did not apply")
            }
            try expectData(try await store.load(id), ["b": json("true")], "record after removing a")
            let missing = try await atomic.compareAndSet(id, keyWrite(clock, "a", expected: json("1"), newValue: json("2")))
            try expectEqual(missing, .conflict(current: nil), "compareAndSet expecting a removed key")
        },
        Case(name: "compareAndSet and increment never re-create a deleted or expired record") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let deleted = newID()
            try await store.create(deleted, makeRecord(clock, data: ["n": json("1")]))
            try await store.delete(deleted)
            try expectEqual(
                try await atomic.compareAndSet(deleted, keyWrite(clock, "n", expected: json("1"), newValue: json("2"))),
                .notFound,
                "deleted"
            )
            try expectEqual(try await atomic.increment(deleted, keyIncrement(clock, "n", by: 1)), .notFound, "increment of deleted")
            let expired = newID()
            try await store.create(expired, makeRecord(clock, data: ["n": json("1")], idle: 30))
            clock.advance(by: .seconds(31))
            try expectEqual(
                try await atomic.compareAndSet(expired, keyWrite(clock, "n", expected: json("1"), newValue: json("2"))),
                .notFound,
                "expired"
            )
            try expectEqual(try await atomic.increment(expired, keyIncrement(clock, "n", by: 1)), .notFound, "increment of expired")
            let deletedAfter = try await store.load(deleted)
            let expiredAfter = try await store.load(expired)
            try expect(deletedAfter == nil && expiredAfter == nil, "a gone record came back")
        },
        Case(name: "increment counts from 0, adds and subtracts, keeps other keys, bumps the version") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["other": json(#""x""#)]))
            guard case .applied(5, let first) = try await atomic.increment(id, keyIncrement(clock, "n", by: 5)) else {
                throw ConformanceFailure("increment of an absent key did not return 5")
            }
            guard case .applied(-2, let second) = try await atomic.increment(id, keyIncrement(clock, "n", by: -7)) else {
                throw ConformanceFailure("increment by -7 did not return -2")
            }
            try expectEqual(second, first + 1, "version after the second increment (the first one's plus exactly one)")
            let after = try await store.load(id)
            try expectData(after, ["n": json("-2"), "other": json(#""x""#)], "record after increments")
            try expectEqual(after.flatMap { $0.data["n"] }.flatMap(SessionInteger.decode), -2, "stored integer")
        },
        Case(name: "increment refuses a non-integer value or an overflow and writes nothing") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let values = [#""12""#, "1.5", "true", "[1]", #"{"a":1}"#, "null", "9223372036854775807"]
            let id = newID()
            var data: [String: Data] = [:]
            for (index, value) in values.enumerated() { data["k\(index)"] = json(value) }
            try await store.create(id, makeRecord(clock, data: data))
            for index in values.indices {
                try expectEqual(
                    try await atomic.increment(id, keyIncrement(clock, "k\(index)", by: 1)),
                    .notAnInteger,
                    "increment of \(values[index])"
                )
            }
            try expectData(try await store.load(id), data, "record after refused increments")
        },
        Case(name: "compareAndSet and increment address hostile key names exactly") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let names = [#"a"b"#, #"back\slash"#, "dot.ted", "$[0]", "emoji 🛒", "a", "{tag}"]
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["a": json("0")]))
            for name in names where name != "a" {
                guard case .applied(3, _) = try await atomic.increment(id, keyIncrement(clock, name, by: 3)) else {
                    throw ConformanceFailure("increment of \(name) did not return 3")
                }
                let current = try await store.load(id)?.data[name]
                guard case .applied = try await atomic.compareAndSet(id, keyWrite(clock, name, expected: current, newValue: json("4"))) else {
                    throw ConformanceFailure("compareAndSet of \(name) did not apply")
                }
            }
            var expected: [String: Data] = ["a": json("0")]
            for name in names where name != "a" { expected[name] = json("4") }
            try expectData(try await store.load(id), expected, "record after hostile-name writes")
        },
        Case(name: "compareAndSet matches a value containing NUL as the store loads it") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["nul": json(#""a\u0000b""#)]))
            let loaded = try await store.load(id)?.data["nul"]
            guard case .applied = try await atomic.compareAndSet(id, keyWrite(clock, "nul", expected: loaded, newValue: json(#""c\u0000d""#))) else {
                throw ConformanceFailure("compareAndSet of a NUL value as loaded did not apply")
            }
            try expectData(try await store.load(id), ["nul": json(#""c\u0000d""#)], "record after the NUL write")
        },
        Case(name: "40 concurrent increments of one key all count") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock))
            let applied = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        if case .applied = try await atomic.increment(id, keyIncrement(clock, "count", by: 1)) { return true }
                        return false
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            try expectEqual(applied, 40, "applied increments")
            try expectEqual(try await store.load(id)?.data["count"].flatMap(SessionInteger.decode), 40, "final count")
        },
        Case(name: "20 concurrent compare-and-set loops appending to one list lose no item") { store, clock in
            let atomic = try capability(store, as: (any AtomicKeySessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, data: ["list": json("[]")]))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for item in 0..<20 {
                    group.addTask {
                        var current = try await store.load(id)?.data["list"]
                        for _ in 0..<1_000 {
                            let items = try JSONDecoder().decode([Int].self, from: current ?? json("[]"))
                            let next = try JSONEncoder().encode(items + [item])
                            switch try await atomic.compareAndSet(id, keyWrite(clock, "list", expected: current, newValue: next)) {
                            case .applied: return
                            case .notFound: throw ConformanceFailure("the record vanished")
                            case .conflict(let value): current = value
                            }
                        }
                        throw ConformanceFailure("item \(item) never won its compareAndSet")
                    }
                }
                try await group.waitForAll()
            }
            let stored = try await store.load(id)?.data["list"] ?? json("[]")
            try expectEqual(Set(try JSONDecoder().decode([Int].self, from: stored)), Set(0..<20), "items in the list")
        },
    ]
}

func keyWrite(_ clock: TestClock, _ key: String, expected: Data?, newValue: Data?, idle: TimeInterval = 1800) -> SessionKeyWrite {
    SessionKeyWrite(key: key, expected: expected, newValue: newValue, idleExpiresAt: clock.now().addingTimeInterval(idle), lastSeenAt: clock.now())
}

func keyIncrement(_ clock: TestClock, _ key: String, by delta: Int64) -> SessionKeyIncrement {
    SessionKeyIncrement(key: key, delta: delta, idleExpiresAt: clock.now().addingTimeInterval(1800), lastSeenAt: clock.now())
}
