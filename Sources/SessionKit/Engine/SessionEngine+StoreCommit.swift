import CoreMetrics
import Foundation
import HTTPTypes
import Logging

/// Executes lifecycle plans on a server-side store. Every decision was made by
/// ``SessionLifecycle/plan(_:_:)``; what is left here is the store calls, the session cap
/// (which needs the store's answers) and the response fields.
extension SessionEngine {
    func executeInStore(
        _ plan: LifecyclePlan,
        _ store: any SessionStore,
        _ token: SessionToken?,
        id incomingID: SessionStorageID?,
        now: Date
    ) async throws
        -> HTTPFields
    {
        switch plan {
        case .nothing:
            return HTTPFields()
        case .end(let id, let revokes):
            if let id {
                try await storeCall("delete", session: id) { try await store.delete(id) }
                if revokes {
                    metrics.destroyed.increment()
                    logger.debug("destroyed session", metadata: ["session": .stringConvertible(id)])
                }
            }
            return deletionFields()
        case .create(let record, let cookieExpiresAt):
            return try await createInStore(store, record, replacing: nil, cookieExpiresAt: cookieExpiresAt, now: now).fields
        case .rotate(let oldID, let record, let user, let cookieExpiresAt):
            guard let user, configuration.concurrentSessionLimit != nil else {
                return try await rotateInStore(store, oldID, record, user: nil, cookieExpiresAt: cookieExpiresAt, now: now)
            }
            return try await signInLocks.withLock(user) {
                try await rotateInStore(store, oldID, record, user: user, cookieExpiresAt: cookieExpiresAt, now: now)
            }
        case .update(let update, let expectedVersion, let refreshesCookie, let cookieExpiresAt):
            guard let token, let incomingID else { return HTTPFields() }
            return try await updateInStore(
                store,
                token,
                incomingID,
                update,
                expectedVersion: expectedVersion,
                refreshesCookie: refreshesCookie,
                cookieExpiresAt: cookieExpiresAt,
                now: now
            )
        case .reissueCookie(let cookieExpiresAt):
            guard let token else { return HTTPFields() }
            return tokenFields(token, expiresAt: cookieExpiresAt, now: now)
        }
    }

    private func rotateInStore(
        _ store: any SessionStore,
        _ oldID: SessionStorageID?,
        _ record: SessionRecord,
        user: String?,
        cookieExpiresAt: Date?,
        now: Date
    ) async throws -> HTTPFields {
        // Steps are ordered so a sign-in that fails leaves the user as they were: the refusal
        // check changes nothing, other devices are evicted only after the new session exists,
        // and once it exists no later failure takes its cookie away.
        // A capping store enforces the cap inside the sign-in's own atomic write.
        let cap = user == nil || !(store is any SessionCappingStore) ? nil : configuration.concurrentSessionLimit
        if let user, cap == nil { try await refuseOverTheCap(user: user, excluding: oldID) }
        let (fields, newID) = try await createInStore(store, record, replacing: oldID, cookieExpiresAt: cookieExpiresAt, now: now, cap: cap)
        metrics.regenerated.increment()
        if let user, let newID, cap == nil {
            return try await settleSessionLimit(user: user, newID: newID, fields: fields)
        }
        return fields
    }

    private func updateInStore(
        _ store: any SessionStore,
        _ token: SessionToken,
        _ id: SessionStorageID,
        _ update: SessionUpdate,
        expectedVersion: UInt64,
        refreshesCookie: Bool,
        cookieExpiresAt: Date?,
        now: Date
    ) async throws -> HTTPFields {
        if update.isTouch {
            guard try await storeCall("update", session: id, { try await store.update(id, update) }) else { return HTTPFields() }
            metrics.touched.increment()
        } else {
            let result: SessionUpdateResult
            if let versionedStore {
                result = try await storeCall("update", session: id) { try await versionedStore.update(id, update, expectedVersion: expectedVersion) }
            } else {
                result = try await storeCall("update", session: id) { try await store.update(id, update) } ? .applied : .notFound
            }
            switch result {
            case .applied:
                metrics.updated.increment()
            case .notFound:
                // Destroyed, expired or rotated by a sign-in while this request ran: never
                // re-create it, and send no cookie. A deleting cookie would also delete the
                // newer cookie the browser got meanwhile (a fresh login); the request that
                // ended the session already sent its own.
                metrics.droppedWrites.increment()
                logger.info("dropped a write to a session that ended meanwhile", metadata: ["session": .stringConvertible(id)])
                return HTTPFields()
            case .conflict:
                metrics.conflicts.increment()
                throw SessionError.conflict
            }
        }
        guard refreshesCookie else { return HTTPFields() }
        return tokenFields(token, expiresAt: cookieExpiresAt, now: now)
    }

    private func createInStore(
        _ store: any SessionStore,
        _ record: SessionRecord,
        replacing oldID: SessionStorageID?,
        cookieExpiresAt: Date?,
        now: Date,
        cap: SessionConfiguration.ConcurrentSessionLimit? = nil
    ) async throws -> (fields: HTTPFields, id: SessionStorageID?) {
        // A signed-in session goes where its store places the user; an anonymous rotation
        // stays where it was (one slot on a cluster); a new anonymous session has no placement.
        let placement = (store as? any SessionPlacingStore).flatMap { placing in
            record.userID.map { placing.placement(forUser: $0) } ?? oldID?.placement
        }
        // Two equal 256-bit random tokens mean a broken random generator: retry once, then fail.
        for attempt in 0..<2 {
            let token = SessionToken.generate(placement: placement)
            let newID = token.storageID
            do {
                if let cap, let capping = store as? any SessionCappingStore {
                    let operation: StaticString = oldID == nil ? "create" : "rotate"  // the same names as without a cap, for metrics
                    switch try await storeCall(
                        operation,
                        session: oldID ?? newID,
                        { try await capping.create(newID, record, replacing: oldID, within: cap) }
                    ) {
                    case .created(let evicted):
                        for victim in evicted { recordEviction(victim, signedIn: newID, limit: cap.maxSessions) }
                    case .refused:
                        logCapRefusal(cap.maxSessions)
                        throw SessionError.tooManySessions(limit: cap.maxSessions)
                    case .replacedSessionEnded:
                        metrics.droppedWrites.increment()
                        logger.info("dropped a sign-in of a session that ended meanwhile", metadata: ["session": .string(oldID?.logPrefix ?? "none")])
                        return (HTTPFields(), nil)
                    }
                } else if let oldID {
                    guard try await storeCall("rotate", session: oldID, { try await store.rotate(oldID, to: newID, record: record) }) else {
                        // Ended while this request ran: never re-create it, and send no cookie
                        // (a deleting one would also delete a newer login cookie).
                        metrics.droppedWrites.increment()
                        logger.info("dropped a regenerate of a session that ended meanwhile", metadata: ["session": .stringConvertible(oldID)])
                        return (HTTPFields(), nil)
                    }
                } else {
                    try await storeCall("create", session: newID) { try await store.create(newID, record) }
                }
                metrics.created.increment()
                logger.debug("created session", metadata: ["session": .stringConvertible(newID)])
                return (tokenFields(token, expiresAt: cookieExpiresAt, now: now), newID)
            } catch SessionError.storeUnavailable(.collision) where attempt == 0 {
                logger.error("session token collision; retrying with a new token")
            }
        }
        throw SessionError.storeUnavailable(.collision)
    }

    /// Re-checks the cap after a sign-in, for sign-ins of one user that ran at the same time
    /// (each saw room before either wrote). Every request computes the same survivors — the
    /// newest sessions for `evictOldest`, the oldest for `refuse` — so they converge without
    /// a lock, across instances too.
    /// After the sign-in's rotate: evicts the oldest sessions over the cap, or, with
    /// `.refuse`, undoes a sign-in that another instance's concurrent sign-in pushed over it.
    /// The new session exists by now, so a store failure here keeps the sign-in (the cap is
    /// settled at the user's next sign-in) rather than answering 503 without its cookie.
    private func settleSessionLimit(user: String, newID: SessionStorageID, fields: HTTPFields) async throws -> HTTPFields {
        guard let limit = configuration.concurrentSessionLimit, let store = userIndex else { return fields }
        let sessions: [SessionSummary]
        do {
            sessions = try await storeCall("sessions") { try await store.sessions(forUser: user) }
        } catch {
            logger.warning("could not check the session cap after a sign-in; it stands", metadata: ["error": .string("\(error)")])
            return fields
        }
        guard sessions.count > limit.maxSessions else { return fields }
        switch limit.policy {
        case .evictOldest:
            let others = sessions.filter { $0.id != newID }
            for victim in others.prefix(sessions.count - limit.maxSessions) {
                do {
                    try await storeCall("delete", session: victim.id) { try await store.delete(victim.id) }
                    recordEviction(victim.id, signedIn: newID, limit: limit.maxSessions)
                } catch {
                    logger.warning("could not evict a session over the cap; the sign-in stands", metadata: ["error": .string("\(error)")])
                    return fields
                }
            }
            return fields
        case .refuse:
            guard !sessions.prefix(limit.maxSessions).contains(where: { $0.id == newID }) else { return fields }
            try await storeCall("delete", session: newID) { try await store.delete(newID) }
            logCapRefusal(limit.maxSessions)
            throw SessionError.tooManySessions(limit: limit.maxSessions)
        }
    }

    /// Before the sign-in's rotate, without changing anything: with `.refuse`, a user already
    /// at the cap is refused (403) and keeps the session they had.
    private func refuseOverTheCap(user: String, excluding oldID: SessionStorageID?) async throws {
        guard let limit = configuration.concurrentSessionLimit, limit.policy == .refuse, let store = userIndex else { return }
        let existing = try await storeCall("sessions") { try await store.sessions(forUser: user) }.filter { $0.id != oldID }
        if existing.count >= limit.maxSessions {
            logCapRefusal(limit.maxSessions)
            throw SessionError.tooManySessions(limit: limit.maxSessions)
        }
    }

    /// Counts and logs (security event) one session ended to make room under the cap.
    private func recordEviction(_ victim: SessionStorageID, signedIn newID: SessionStorageID, limit: Int) {
        metrics.evicted.increment()
        logger.notice(
            "ended a session over the user's session cap",
            metadata: [
                "event": "session.cap_evicted", "session": .string(victim.logPrefix),
                "signed_in_session": .string(newID.logPrefix), "limit": .stringConvertible(limit),
            ]
        )
    }

    /// The security-event line for a sign-in refused by the session cap (403).
    private func logCapRefusal(_ limit: Int) {
        logger.notice(
            "refused a sign-in over the user's session cap",
            metadata: ["event": "session.cap_refused", "limit": .stringConvertible(limit)]
        )
    }
}
