import Foundation
import SessionKit

extension SessionStoreConformance {
    /// Cases for `SessionCappingStore`: the cap enforced inside the sign-in's own write.
    public static let capping: [Case] = [
        Case(name: "a capped sign-in (evictOldest) ends the oldest others in the same step") { store, clock in
            let capping = try capability(store, as: (any SessionCappingStore).self)
            let old = try await signedInSessions(store, clock, user: "kim", count: 3)
            let signedIn = placedID(store, "kim")
            let result = try await capping.create(
                signedIn,
                makeRecord(clock, userID: "kim", createdOffset: 3),
                replacing: nil,
                within: .init(maxSessions: 3, policy: .evictOldest)
            )
            try expectEqual(result, .created(evicted: [old[0]]), "the result")
            try expect(try await store.load(old[0]) == nil, "the oldest session still loads")
            try expectEqual(try await capping.sessions(forUser: "kim").map(\.id), [old[1], old[2], signedIn], "kim's sessions")
        },
        Case(name: "a capped sign-in (refuse) at the cap writes nothing; below it, it evicts nothing") { store, clock in
            let capping = try capability(store, as: (any SessionCappingStore).self)
            let old = try await signedInSessions(store, clock, user: "lee", count: 2)
            let refused = placedID(store, "lee")
            let atCap = try await capping.create(
                refused,
                makeRecord(clock, userID: "lee", createdOffset: 2),
                replacing: nil,
                within: .init(maxSessions: 2, policy: .refuse)
            )
            try expectEqual(atCap, .refused, "the result at the cap")
            try expect(try await store.load(refused) == nil, "a refused sign-in was written")
            let admitted = placedID(store, "lee")
            let belowCap = try await capping.create(
                admitted,
                makeRecord(clock, userID: "lee", createdOffset: 3),
                replacing: nil,
                within: .init(maxSessions: 3, policy: .refuse)
            )
            try expectEqual(belowCap, .created(evicted: []), "the result below the cap")
            try expectEqual(try await capping.sessions(forUser: "lee").map(\.id), old + [admitted], "lee's sessions")
        },
        Case(name: "a capped sign-in replaces the given session, which does not count toward the cap; a gone one writes nothing") {
            store,
            clock in
            let capping = try capability(store, as: (any SessionCappingStore).self)
            let other = placedID(store, "max")
            try await store.create(other, makeRecord(clock, userID: "max"))
            let anonymous = newID()
            try await store.create(anonymous, makeRecord(clock))
            let signedIn = placedID(store, "max")
            let limit = SessionConfiguration.ConcurrentSessionLimit(maxSessions: 2, policy: .refuse)
            let first = try await capping.create(signedIn, makeRecord(clock, userID: "max", createdOffset: 1), replacing: anonymous, within: limit)
            try expectEqual(first, .created(evicted: []), "sign-in from an anonymous session")
            try expect(try await store.load(anonymous) == nil, "the anonymous session outlived its sign-in")
            try expectEqual(try await store.load(signedIn)?.userID, "max", "the signed-in record's user")
            // Signing in again on the same device, at the cap: the replaced session makes room.
            let again = placedID(store, "max")
            let second = try await capping.create(again, makeRecord(clock, userID: "max", createdOffset: 2), replacing: signedIn, within: limit)
            try expectEqual(second, .created(evicted: []), "a second sign-in on the same device at the cap")
            try expectEqual(try await capping.sessions(forUser: "max").map(\.id), [other, again], "max's sessions")
            let lost = placedID(store, "max")
            let gone = try await capping.create(lost, makeRecord(clock, userID: "max"), replacing: signedIn, within: limit)
            try expectEqual(gone, .replacedSessionEnded, "replacing a session that is gone")
            try expect(try await store.load(lost) == nil, "a sign-in replacing a gone session was written")
        },
        Case(name: "expired sessions in the user's index, placed or not, neither count toward the cap nor block a sign-in") {
            store,
            clock in
            let capping = try capability(store, as: (any SessionCappingStore).self)
            // An unplaced ID is indexed outside the user's slot on a cluster.
            for id in [placedID(store, "pia"), newID()] {
                try await store.create(id, makeRecord(clock, userID: "pia", idle: 60))
            }
            clock.advance(by: .seconds(120))
            let signedIn = placedID(store, "pia")
            let result = try await capping.create(
                signedIn,
                makeRecord(clock, userID: "pia"),
                replacing: nil,
                within: .init(maxSessions: 1, policy: .refuse)
            )
            try expectEqual(result, .created(evicted: []), "a sign-in past two expired sessions")
            try expectEqual(try await capping.sessions(forUser: "pia").map(\.id), [signedIn], "pia's sessions")
        },
        Case(name: "concurrent capped sign-ins of one user never exceed the cap, not even for a moment") { store, clock in
            let capping = try capability(store, as: (any SessionCappingStore).self)
            let evict = SessionConfiguration.ConcurrentSessionLimit(maxSessions: 3, policy: .evictOldest)
            let (evictResults, evictPeak) = try await signInConcurrently(capping, clock, user: "nia", count: 12, limit: evict)
            try expectEqual(try await capping.sessions(forUser: "nia").count, 3, "nia's sessions after 12 concurrent sign-ins")
            try expect(evictPeak <= 3, "a listing during the sign-ins saw \(evictPeak) sessions")
            let evicted = evictResults.reduce(0) { total, result in
                if case .created(let ended) = result { return total + ended.count }
                return total
            }
            try expectEqual(evicted, 9, "sessions evicted")
            let refuse = SessionConfiguration.ConcurrentSessionLimit(maxSessions: 3, policy: .refuse)
            let (refuseResults, refusePeak) = try await signInConcurrently(capping, clock, user: "oto", count: 12, limit: refuse)
            try expectEqual(refuseResults.filter { $0 == .created(evicted: []) }.count, 3, "sign-ins admitted")
            try expectEqual(refuseResults.filter { $0 == .refused }.count, 9, "sign-ins refused")
            try expectEqual(try await capping.sessions(forUser: "oto").count, 3, "oto's sessions")
            try expect(refusePeak <= 3, "a listing during the sign-ins saw \(refusePeak) sessions")
        },
    ]
}

/// Creates `count` sessions of `user`, one second apart (oldest first), and returns their IDs.
private func signedInSessions(_ store: any SessionStore, _ clock: TestClock, user: String, count: Int) async throws -> [SessionStorageID] {
    var ids: [SessionStorageID] = []
    for offset in 0..<count {
        let id = placedID(store, user)
        try await store.create(id, makeRecord(clock, userID: user, createdOffset: TimeInterval(offset)))
        ids.append(id)
    }
    return ids
}

/// An ID the way the engine makes it: with the user's placement when the store places users.
func placedID(_ store: any SessionStore, _ user: String) -> SessionStorageID {
    SessionToken.generate(placement: (store as? any SessionPlacingStore)?.placement(forUser: user)).storageID
}

/// Runs `count` capped sign-ins of `user` at once while another task lists the user's
/// sessions until they finish; returns the results and the most sessions any listing saw.
private func signInConcurrently(
    _ store: any SessionCappingStore,
    _ clock: TestClock,
    user: String,
    count: Int,
    limit: SessionConfiguration.ConcurrentSessionLimit
) async throws -> (results: [SessionCapResult], peak: Int) {
    let finished = LockedValue(false)
    return try await withThrowingTaskGroup(of: (SessionCapResult?, Int).self) { group in
        group.addTask {
            var peak = 0
            var listings = 0
            // Bounded: at most 10,000 listings, and it stops as soon as the sign-ins are done.
            while listings < 10_000, !finished.withLock({ $0 }) {
                listings += 1
                peak = max(peak, try await store.sessions(forUser: user).count)
            }
            return (nil, peak)
        }
        let signIns = try await withThrowingTaskGroup(of: SessionCapResult.self) { signIns in
            for index in 0..<count {
                signIns.addTask {
                    let record = makeRecord(clock, userID: user, createdOffset: TimeInterval(index))
                    return try await store.create(placedID(store, user), record, replacing: nil, within: limit)
                }
            }
            var results: [SessionCapResult] = []
            for try await result in signIns { results.append(result) }
            return results
        }
        finished.withLock { $0 = true }
        var peak = 0
        for try await (_, seen) in group { peak = max(peak, seen) }
        return (signIns, peak)
    }
}
