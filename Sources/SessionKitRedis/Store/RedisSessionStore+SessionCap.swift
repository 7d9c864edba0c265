import Foundation
import SessionKit
import SessionKitRESP

extension RedisSessionStore {
    /// How often a capped sign-in re-reads the user's index when another sign-in changed it
    /// between the read and the script. Each round lets at least one of the racing sign-ins
    /// through, so this bounds how many sign-ins of one user may race at once.
    static let capRetries = 64

    /// Signs a user in under the session cap in one script on the user's slot (see
    /// `SessionCappingStore`): the user's index, every session it lists there and the new
    /// session are read and written together, so concurrent sign-ins through any number of
    /// instances never exceed the cap, on one server and on a cluster alike.
    ///
    /// The index is read first (`SMEMBERS`) so the script can name every key it touches; if
    /// another sign-in changed it meanwhile, the script writes nothing and the sign-in starts
    /// over. Sessions listed only by the index from before placements live in other slots:
    /// they count toward the cap as read just before, and those to evict are deleted right
    /// after the script. On a cluster, an anonymous session being replaced lives in its own
    /// slot: it is checked before and deleted after (best effort; unlike
    /// ``rotate(_:to:record:)``, a replaced session that ended in between does not undo the
    /// sign-in, whose script may already have evicted others to make room for it).
    ///
    /// On a cluster, `id` must carry the user's placement (the engine's IDs do); another ID
    /// cannot share the index's slot and is refused with `.unavailable`.
    public func create(
        _ id: SessionStorageID,
        _ record: SessionRecord,
        replacing oldID: SessionStorageID?,
        within limit: SessionConfiguration.ConcurrentSessionLimit
    ) async throws -> SessionCapResult {
        guard let user = record.userID else {
            if let oldID { return try await rotate(oldID, to: id, record: record) ? .created(evicted: []) : .replacedSessionEnded }
            try await create(id, record)
            return .created(evicted: [])
        }
        guard limit.maxSessions >= 1 else {
            throw SessionStoreError.unavailable(reason: "a session cap needs maxSessions of at least 1")
        }
        let newKey = sessionKey(id)
        let setKey = userKey(user)
        guard sameSlot([newKey, setKey]) else {
            throw SessionStoreError.unavailable(reason: "a capped sign-in on a cluster needs an ID with the user's placement")
        }
        let oldKey = oldID.map(sessionKey)
        let oldInScript = oldKey.map { sameSlot([newKey, $0]) } ?? true
        if let oldKey, !oldInScript {
            let expiry = try await command(RESPCommand("HGET", [oldKey, "m:e"]), touching: oldKey, .read).int
            guard let expiry, expiry > Int64(millis(clock.now())) ?? 0 else { return .replacedSessionEnded }
        }
        for _ in 0..<Self.capRetries {
            let members = try await members(of: user).filter { $0.id != oldID }
            let local = members.filter { $0.setKey == setKey && sameSlot([newKey, sessionKey($0.id)]) }
            let foreign = try await foreignMembers(members.filter { member in !local.contains { $0.id == member.id } }, of: user)
            var keys = [newKey, setKey] + local.map { sessionKey($0.id) }
            if let oldKey, oldInScript { keys.append(oldKey) }
            var arguments = [
                millis(clock.now()), millis(record.expiresAt), millis(record.absoluteExpiresAt), id.encoded, oldID?.encoded ?? "", user,
                String(limit.maxSessions), limit.policy == .refuse ? "refuse" : "evict", String(local.count),
            ]
            arguments += local.map(\.text)
            arguments.append(String(foreign.count))
            for (member, createdAt) in foreign { arguments += [member.text, createdAt ?? "-1"] }
            arguments += Self.fields(of: record)
            let reply = try await evaluate(.signIn, keys: keys, arguments: arguments, .securityCritical).array ?? []
            switch reply.first?.int {
            case 1:
                let evicted = (reply.count > 1 ? reply[1].array ?? [] : []).compactMap { $0.string.flatMap(SessionStorageID.init(encoded:)) }
                let elsewhere = Set((reply.count > 2 ? reply[2].array ?? [] : []).compactMap(\.string))
                // The sign-in is written: what follows is clean-up in other slots, best effort,
                // so no failure there takes the new session's cookie away.
                let evictedElsewhere = await deleteForeign(foreign.map(\.member).filter { elsewhere.contains($0.text) })
                let staleElsewhere = foreign.filter { $0.createdAt == nil }.map(\.member)
                if !staleElsewhere.isEmpty { _ = try? await sendGrouped(removals(staleElsewhere), .write) }
                if let oldKey, !oldInScript {
                    // If the replaced session ended meanwhile (a second sign-in from the same
                    // cookie through another instance, or a sign-out), the new session stands:
                    // it carries its own fresh sign-in, and the script may already have evicted
                    // others to make room for it. Undoing it could leave the user with none.
                    _ = try? await evaluate(.deleteReportingLive, keys: [oldKey], arguments: [millis(clock.now())], .securityCritical)
                }
                return .created(evicted: evicted + evictedElsewhere)
            case 0: throw SessionStoreError.collision
            case -1: return .replacedSessionEnded
            case 3: return .refused
            default: continue  // 2: the index changed since it was read
            }
        }
        throw SessionStoreError.unavailable(reason: "the user's session index kept changing during \(Self.capRetries) capped sign-ins")
    }

    /// `members` (indexed outside the user's slot) with the creation time in milliseconds of
    /// each that is a live session of `user`, for the cap to count; `nil` for the rest, which
    /// the script skips and which are removed from their index afterwards.
    private func foreignMembers(_ members: [IndexMember], of user: String) async throws -> [(member: IndexMember, createdAt: String?)] {
        guard !members.isEmpty else { return [] }
        let replies = try await sendGrouped(
            members.map { member in
                let key = sessionKey(member.id)
                return (RESPCommand("HMGET", [key, "m:e", "m:c", "m:u"]), key)
            },
            .read
        )
        let now = Int64(millis(clock.now())) ?? 0
        return zip(members, replies).map { member, reply in
            guard let values = reply.array, values.count == 3, let expires = values[0].int, expires > now, values[2].string == user,
                let createdAt = values[1].string
            else { return (member, nil) }
            return (member, createdAt)
        }
    }

    /// Deletes sessions the cap evicted outside the user's slot, best effort; returns the IDs
    /// that were live. One that cannot be deleted now ends at its own expiry.
    private func deleteForeign(_ members: [IndexMember]) async -> [SessionStorageID] {
        guard !members.isEmpty else { return [] }
        let now = millis(clock.now())
        var ended: [SessionStorageID] = []
        for member in members {
            let reply = try? await evaluate(.deleteReportingLive, keys: [sessionKey(member.id)], arguments: [now], .securityCritical)
            if reply?.int == 1 { ended.append(member.id) }
        }
        _ = try? await sendGrouped(removals(members), .write)
        return ended
    }
}
