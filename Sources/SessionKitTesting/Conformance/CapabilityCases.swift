import Foundation
import SessionKit

extension SessionStoreConformance {
    /// `SessionUserIndexing`: listings, sign-out everywhere, and the index kept
    /// in step with create, rotate, delete and expiry.
    public static let userIndex: [Case] = [
        Case(name: "placed sessions (as the engine issues them) and unplaced ones of one user are listed, rotated and signed out together") {
            store,
            clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            // A placing store gets IDs the way the engine makes them; others get plain ones.
            func placedID(_ user: String) -> SessionStorageID {
                SessionToken.generate(placement: (store as? any SessionPlacingStore)?.placement(forUser: user)).storageID
            }
            let placed = [placedID("hana"), placedID("hana")]
            let unplaced = newID()
            for (offset, id) in (placed + [unplaced]).enumerated() {
                try await store.create(id, makeRecord(clock, userID: "hana", createdOffset: TimeInterval(offset)))
            }
            let listed = try await index.sessions(forUser: "hana")
            try expectEqual(listed.map(\.id), placed + [unplaced], "hana's sessions, oldest first")
            try expectEqual(listed.map(\.id.placement), (placed + [unplaced]).map(\.placement), "listed IDs keep their placement")
            let rotated = placedID("hana")
            try expect(try await store.rotate(placed[1], to: rotated, record: makeRecord(clock, userID: "hana", createdOffset: 1)), "rotate failed")
            try expect(try await store.load(placed[1]) == nil, "the rotated-away ID still loads")
            let anonymous = newID()
            try await store.create(anonymous, makeRecord(clock))
            let signedIn = placedID("hana")
            try expect(
                try await store.rotate(anonymous, to: signedIn, record: makeRecord(clock, userID: "hana", createdOffset: 3)),
                "sign-in rotate failed"
            )
            try expect(try await store.load(anonymous) == nil, "the anonymous session outlived its sign-in")
            try expectEqual(
                Set(try await index.sessions(forUser: "hana").map(\.id)),
                [placed[0], rotated, unplaced, signedIn],
                "hana's sessions after the rotations"
            )
            try expectEqual(try await index.deleteSessions(forUser: "hana", except: signedIn), 3, "deleted count")
            for id in [placed[0], rotated, unplaced] { try expect(try await store.load(id) == nil, "a signed-out session still loads") }
            try expectEqual(try await index.sessions(forUser: "hana").map(\.id), [signedIn], "hana's remaining sessions")
        },
        Case(name: "sessions(forUser:) lists a user's sessions oldest first, metadata only") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let ids = [newID(), newID(), newID()]
            for (offset, id) in ids.enumerated() {
                try await store.create(id, makeRecord(clock, userID: "alice", createdOffset: TimeInterval(offset)))
            }
            try await store.create(newID(), makeRecord(clock, userID: "bob"))
            try await store.create(newID(), makeRecord(clock))
            let listed = try await index.sessions(forUser: "alice")
            try expectEqual(listed.map(\.id), ids, "alice's sessions, oldest first")
            try expect(listed.allSatisfy { $0.userID == "alice" && $0.userAgent == "conformance/1.0" }, "listing metadata")
            try expectEqual(try await index.sessions(forUser: "nobody").count, 0, "sessions of an unknown user")
        },
        Case(name: "deleteSessions(forUser:except:) keeps only the named session") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let keep = newID()
            let others = [newID(), newID()]
            try await store.create(keep, makeRecord(clock, userID: "carol"))
            for id in others { try await store.create(id, makeRecord(clock, userID: "carol")) }
            let bob = newID()
            try await store.create(bob, makeRecord(clock, userID: "bob"))
            try expectEqual(try await index.deleteSessions(forUser: "carol", except: keep), 2, "deleted count")
            try expectEqual(try await index.sessions(forUser: "carol").map(\.id), [keep], "carol's remaining sessions")
            for id in others { try expect(try await store.load(id) == nil, "a signed-out session still loads") }
            try expect(try await store.load(bob) != nil, "another user's session was deleted")
        },
        Case(name: "deleteSessions(forUser:except: nil) signs the user out everywhere") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let ids = [newID(), newID()]
            for id in ids { try await store.create(id, makeRecord(clock, userID: "dave")) }
            try expectEqual(try await index.deleteSessions(forUser: "dave", except: nil), 2, "deleted count")
            for id in ids { try expect(try await store.load(id) == nil, "a signed-out session still loads") }
            try expectEqual(try await index.deleteSessions(forUser: "dave", except: nil), 0, "second delete count")
        },
        Case(name: "deleting a session removes it from its user's index") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let id = newID()
            try await store.create(id, makeRecord(clock, userID: "erin"))
            try await store.delete(id)
            try expectEqual(try await index.sessions(forUser: "erin").count, 0, "listed after delete")
        },
        Case(name: "expired records are not listed for their user") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let live = newID()
            let dying = newID()
            try await store.create(live, makeRecord(clock, userID: "u", idle: 600))
            try await store.create(dying, makeRecord(clock, userID: "u", idle: 30))
            clock.advance(by: .seconds(31))
            try expectEqual(try await index.sessions(forUser: "u").map(\.id), [live], "listed sessions")
        },
        Case(name: "rotate moves the user's index entry to the new ID") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let old = newID()
            let new = newID()
            try await store.create(old, makeRecord(clock, userID: "frank"))
            try expect(try await store.rotate(old, to: new, record: makeRecord(clock, userID: "frank")), "rotate failed")
            try expectEqual(try await index.sessions(forUser: "frank").map(\.id), [new], "user index after rotate")
            let gone = newID()
            try await store.create(gone, makeRecord(clock, userID: "gina"))
            try await store.delete(gone)
            _ = try await store.rotate(gone, to: newID(), record: makeRecord(clock, userID: "gina"))
            try expectEqual(try await index.sessions(forUser: "gina").count, 0, "user index after a failed rotate")
        },
        Case(name: "user IDs are compared by their bytes, not by Unicode equivalence") { store, clock in
            let index = try capability(store, as: (any SessionUserIndexing).self)
            let composed = "jos\u{E9}"  // é as one scalar (NFC)
            let decomposed = "jose\u{301}"  // e + combining acute (NFD): equal as Swift Strings
            let first = newID()
            let second = newID()
            try await store.create(first, makeRecord(clock, userID: composed))
            try await store.create(second, makeRecord(clock, userID: decomposed))
            try expectEqual(try await index.sessions(forUser: composed).map(\.id), [first], "sessions of the NFC user")
            try expectEqual(try await index.deleteSessions(forUser: decomposed, except: nil), 1, "sessions the NFD user signed out")
            try expect(try await store.load(first) != nil, "signing out the NFD user ended the NFC user's session")
        },
    ]

    /// `VersionedSessionStore`: compare-and-set on the record's version.
    public static let versioned: [Case] = [
        Case(name: "a versioned update applies on the current version and rejects a stale one") { store, clock in
            let versioned = try capability(store, as: (any VersionedSessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock))
            guard let version = try await store.load(id)?.version else { throw ConformanceFailure("record missing") }
            let first = try await versioned.update(id, makeUpdate(clock, set: ["a": json("2")]), expectedVersion: version)
            try expectEqual(first, .applied, "versioned update on the current version")
            let stale = try await versioned.update(id, makeUpdate(clock, set: ["a": json("3")]), expectedVersion: version)
            try expectEqual(stale, .conflict, "stale versioned update")
            try expectData(try await store.load(id), ["a": json("2")], "data after a rejected stale update")
        },
        Case(name: "a versioned update of a gone record is notFound, never a conflict") { store, clock in
            let versioned = try capability(store, as: (any VersionedSessionStore).self)
            let id = newID()
            try await store.create(id, makeRecord(clock))
            try await store.delete(id)
            try expectEqual(
                try await versioned.update(id, makeUpdate(clock, set: ["a": json("1")]), expectedVersion: 1),
                .notFound,
                "update of a gone record"
            )
            try expect(try await store.load(id) == nil, "a versioned update re-created a deleted record")
        },
    ]

    /// `PingableSessionStore`: the readiness probe answers while the store is up.
    public static let readiness: [Case] = [
        Case(name: "ping succeeds against a reachable store") { store, _ in
            try await capability(store, as: (any PingableSessionStore).self).ping()
        }
    ]

    /// `SweepableSessionStore`: batch removal of expired records.
    public static let sweeping: [Case] = [
        Case(name: "sweepExpired removes expired records in batches and keeps live ones") { store, clock in
            let sweepable = try capability(store, as: (any SweepableSessionStore).self)
            let live = newID()
            try await store.create(live, makeRecord(clock, idle: 600))
            for _ in 0..<5 { try await store.create(newID(), makeRecord(clock, idle: 10, absolute: 10)) }
            clock.advance(by: .seconds(11))
            var swept = 0
            for _ in 0..<10 {
                let removed = try await sweepable.sweepExpired(batchSize: 2)
                try expect(removed <= 2 || store is MemorySessionStore, "a batch of 2 removed \(removed)")
                swept += removed
                if removed == 0 { break }
            }
            try expectEqual(swept, 5, "expired records swept")
            try expect(try await store.load(live) != nil, "the sweep removed a live record")
        }
    ]
}

func capability<Capability>(_ store: any SessionStore, as _: Capability.Type) throws -> Capability {
    guard let capable = store as? Capability else {
        throw ConformanceFailure("\(type(of: store)) does not conform to \(Capability.self), which this case checks")
    }
    return capable
}
