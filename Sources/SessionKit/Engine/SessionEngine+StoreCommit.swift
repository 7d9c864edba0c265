import CoreMetrics
import Foundation
import HTTPTypes
import Logging

/// The commit decisions for server-side stores: the lifecycle table, row by row.
extension SessionEngine {
    func commitToStore(_ store: any SessionStore, _ handle: SessionHandle, _ snapshot: CommitSnapshot, now: Date) async throws -> HTTPFields {
        if snapshot.destroyed {
            return try await destroyInStore(store, handle)
        }
        if snapshot.regenerate {
            return try await regenerateInStore(store, handle, snapshot, now: now)
        }
        if let record = snapshot.record, let token = handle.incoming.token {
            return try await updateInStore(store, token, record, snapshot, now: now)
        }
        guard !snapshot.isEmpty else { return HTTPFields() }
        return try await createInStore(
            store,
            snapshot,
            createdAt: now,
            absoluteExpiresAt: nil,
            userAgent: handle.userAgent,
            replacing: nil,
            now: now
        ).fields
    }

    private func destroyInStore(_ store: any SessionStore, _ handle: SessionHandle) async throws -> HTTPFields {
        guard handle.incoming.wasSent else { return HTTPFields() }
        if let token = handle.incoming.token {
            let id = token.storageID
            try await storeCall { try await store.delete(id) }
            metrics.destroyed.increment()
            logger.debug("destroyed session", metadata: ["session": .stringConvertible(id)])
        }
        return deletionFields()
    }

    private func regenerateInStore(_ store: any SessionStore, _ handle: SessionHandle, _ snapshot: CommitSnapshot, now: Date) async throws
        -> HTTPFields
    {
        let oldID = snapshot.record == nil ? nil : handle.incoming.token?.storageID
        guard !snapshot.isEmpty else {
            // Nothing left to keep: regenerating an empty session just ends the old one.
            if let oldID { try await storeCall { try await store.delete(oldID) } }
            return handle.incoming.wasSent ? deletionFields() : HTTPFields()
        }
        if snapshot.signedIn, let user = snapshot.userID, configuration.concurrentSessionLimit != nil {
            return try await signInLocks.withLock(user) {
                try await regenerateWithinCap(store, handle, snapshot, oldID: oldID, now: now)
            }
        }
        return try await regenerateWithinCap(store, handle, snapshot, oldID: oldID, now: now)
    }

    private func regenerateWithinCap(
        _ store: any SessionStore,
        _ handle: SessionHandle,
        _ snapshot: CommitSnapshot,
        oldID: SessionStorageID?,
        now: Date
    ) async throws -> HTTPFields {
        let createdAt = snapshot.signedIn ? now : (snapshot.record?.createdAt ?? now)
        let absolute = snapshot.signedIn ? nil : snapshot.record?.absoluteExpiresAt
        if snapshot.signedIn, let user = snapshot.userID {
            try await enforceSessionLimit(store, user: user, excluding: oldID)
        }
        let (fields, newID) = try await createInStore(
            store,
            snapshot,
            createdAt: createdAt,
            absoluteExpiresAt: absolute,
            userAgent: handle.userAgent ?? snapshot.record?.userAgent,
            replacing: oldID,
            now: now
        )
        metrics.regenerated.increment()
        if snapshot.signedIn, let user = snapshot.userID, let newID {
            return try await settleSessionLimit(store, user: user, newID: newID, fields: fields)
        }
        return fields
    }

    private func updateInStore(
        _ store: any SessionStore,
        _ token: SessionToken,
        _ record: SessionRecord,
        _ snapshot: CommitSnapshot,
        now: Date
    ) async throws -> HTTPFields {
        let id = token.storageID
        let idleExpiresAt = min(now.addingTimeInterval(idleTimeout(persistent: snapshot.persistent).seconds), record.absoluteExpiresAt)
        if snapshot.hasChanges {
            let update = SessionUpdate(
                setValues: snapshot.setValues,
                removedKeys: snapshot.removedKeys,
                idleExpiresAt: idleExpiresAt,
                lastSeenAt: now
            )
            let result: SessionUpdateResult
            if let versionedStore {
                result = try await storeCall { try await versionedStore.update(id, update, expectedVersion: record.version) }
            } else {
                result = try await storeCall { try await store.update(id, update) } ? .applied : .notFound
            }
            switch result {
            case .applied:
                metrics.updated.increment()
            case .notFound:
                // Destroyed or expired while this request ran: never re-create it.
                metrics.droppedWrites.increment()
                logger.info("dropped a write to a session that ended meanwhile", metadata: ["session": .stringConvertible(id)])
                return deletionFields()
            case .conflict:
                metrics.conflicts.increment()
                throw SessionError.conflict
            }
        } else if now.timeIntervalSince(record.lastSeenAt) >= configuration.touchInterval.seconds {
            let touch = SessionUpdate(idleExpiresAt: idleExpiresAt, lastSeenAt: now)
            guard try await storeCall({ try await store.update(id, touch) }) else {
                return HTTPFields()
            }
            metrics.touched.increment()
        } else if !snapshot.reissue {
            return HTTPFields()
        }
        // A persistent cookie carries the expiry, so it is refreshed whenever the expiry moves;
        // a token signed with an old key is re-signed with the current one.
        guard snapshot.persistent || snapshot.reissue else { return HTTPFields() }
        return tokenFields(token, expiresAt: snapshot.persistent ? idleExpiresAt : nil, now: now)
    }

    private func createInStore(
        _ store: any SessionStore,
        _ snapshot: CommitSnapshot,
        createdAt: Date,
        absoluteExpiresAt: Date?,
        userAgent: String?,
        replacing oldID: SessionStorageID?,
        now: Date
    ) async throws -> (fields: HTTPFields, id: SessionStorageID?) {
        let record = newRecord(snapshot, createdAt: createdAt, absoluteExpiresAt: absoluteExpiresAt, userAgent: userAgent, now: now)
        // Two equal 256-bit random tokens mean a broken random generator: retry once, then fail.
        for attempt in 0..<2 {
            let token = SessionToken.generate()
            let newID = token.storageID
            do {
                if let oldID {
                    guard try await storeCall({ try await store.rotate(oldID, to: newID, record: record) }) else {
                        // Destroyed or expired while this request ran: never re-create it.
                        metrics.droppedWrites.increment()
                        logger.info("dropped a regenerate of a session that ended meanwhile", metadata: ["session": .stringConvertible(oldID)])
                        return (deletionFields(), nil)
                    }
                } else {
                    try await storeCall { try await store.create(newID, record) }
                }
                metrics.created.increment()
                logger.debug("created session", metadata: ["session": .stringConvertible(newID)])
                return (tokenFields(token, expiresAt: snapshot.persistent ? record.expiresAt : nil, now: now), newID)
            } catch SessionError.storeUnavailable(.collision) where attempt == 0 {
                logger.error("session token collision; retrying with a new token")
            }
        }
        throw SessionError.storeUnavailable(.collision)
    }

    func newRecord(_ snapshot: CommitSnapshot, createdAt: Date, absoluteExpiresAt: Date?, userAgent: String?, now: Date) -> SessionRecord {
        let absolute = absoluteExpiresAt ?? createdAt.addingTimeInterval(absoluteTimeout(persistent: snapshot.persistent).seconds)
        return SessionRecord(
            data: snapshot.values,
            userID: snapshot.userID,
            createdAt: createdAt,
            lastSeenAt: now,
            idleExpiresAt: min(now.addingTimeInterval(idleTimeout(persistent: snapshot.persistent).seconds), absolute),
            absoluteExpiresAt: absolute,
            userAgent: userAgent
        )
    }

    /// Re-checks the cap after a sign-in, for sign-ins of one user that ran at the same time
    /// (each saw room before either wrote). Every request computes the same survivors — the
    /// newest sessions for `evictOldest`, the oldest for `refuse` — so they converge without
    /// a lock, across instances too.
    private func settleSessionLimit(_ store: any SessionStore, user: String, newID: SessionStorageID, fields: HTTPFields) async throws -> HTTPFields {
        guard let limit = configuration.concurrentSessionLimit, let store = userIndex else { return fields }
        let sessions = try await storeCall { try await store.sessions(forUser: user) }
        guard sessions.count > limit.maxSessions else { return fields }
        switch limit.policy {
        case .evictOldest:
            for victim in sessions.prefix(sessions.count - limit.maxSessions) {
                try await storeCall { try await store.delete(victim.id) }
                metrics.evicted.increment()
            }
            return fields
        case .refuse:
            guard !sessions.prefix(limit.maxSessions).contains(where: { $0.id == newID }) else { return fields }
            try await storeCall { try await store.delete(newID) }
            throw SessionError.tooManySessions(limit: limit.maxSessions)
        }
    }

    private func enforceSessionLimit(_ store: any SessionStore, user: String, excluding oldID: SessionStorageID?) async throws {
        guard let limit = configuration.concurrentSessionLimit, let store = userIndex else { return }
        let existing = try await storeCall { try await store.sessions(forUser: user) }.filter { $0.id != oldID }
        guard existing.count >= limit.maxSessions else { return }
        switch limit.policy {
        case .refuse:
            throw SessionError.tooManySessions(limit: limit.maxSessions)
        case .evictOldest:
            for victim in existing.prefix(existing.count - limit.maxSessions + 1) {
                try await storeCall { try await store.delete(victim.id) }
                metrics.evicted.increment()
            }
        }
    }
}
