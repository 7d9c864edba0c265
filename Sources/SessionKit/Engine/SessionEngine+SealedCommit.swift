import CoreMetrics
import Foundation
import HTTPTypes

/// Executes lifecycle plans with sealed cookies: the same plans as for a store, with sealing
/// instead of writes (the cookie is the only copy of the session).
extension SessionEngine {
    func executeSealed(
        _ plan: LifecyclePlan,
        _ codec: SealedCookieCodec,
        _ epochs: RevocationEpochs?,
        _ handle: SessionHandle,
        _ input: LifecycleInput,
        epoch currentEpoch: UInt64
    ) async throws -> HTTPFields {
        let now = input.now
        let record: SessionRecord
        let cookieExpiresAt: Date?
        var epoch = currentEpoch
        switch plan {
        case .nothing, .reissueCookie:
            // The lifecycle never plans a bare reissue for sealed cookies: the cookie is the
            // record, so a reissue is a re-seal (an update).
            return HTTPFields()
        case .end(_, let revokes):
            if revokes {
                var user = input.record?.userID ?? input.userID
                if user == nil, let epochs { user = try await liveSignedInUser(of: handle, codec, epochs, now: now) }
                if let epochs, let user {
                    // The browser's copy is deleted below; the epoch bump kills every other copy.
                    _ = try await storeCall("epoch.bump") { try await epochs.bump(forUser: user, now: now) }
                }
                metrics.destroyed.increment()
            }
            return deletionFields()
        case .create(let created, let expiresAt):
            record = created
            cookieExpiresAt = expiresAt
            metrics.created.increment()
        case .rotate(_, let rotated, let user, let expiresAt):
            record = rotated
            cookieExpiresAt = expiresAt
            if let user, let epochs {
                epoch = try await storeCall("epoch.load") { try await epochs.current(forUser: user) }
            }
            metrics.regenerated.increment()
        case .update(let update, _, _, let expiresAt):
            guard var updated = input.record else { return HTTPFields() }
            updated.apply(update)
            record = updated
            cookieExpiresAt = expiresAt
            if update.isTouch { metrics.touched.increment() } else { metrics.updated.increment() }
        }
        let value = try codec.seal(SealedPayload(record: record, epoch: epoch))
        return tokenFields(cookieValue: value, expiresAt: cookieExpiresAt, now: now)
    }

    /// The user in a sealed cookie the handler destroyed without reading it, if the cookie is
    /// still live: a copy revoked by its user's epoch must not bump the epoch again, or whoever
    /// stole it could keep signing the user out everywhere.
    private func liveSignedInUser(of handle: SessionHandle, _ codec: SealedCookieCodec, _ epochs: RevocationEpochs, now: Date) async throws
        -> String?
    {
        guard case .sealed(let value) = handle.incoming, case .success(let opened) = codec.open(Substring(value), now: now),
            let user = opened.payload.record.userID
        else { return nil }
        let current = try await storeCall("epoch.load") { try await epochs.current(forUser: user) }
        return opened.payload.epoch >= current ? user : nil
    }

    /// Sealed cookies: ends the user's other sessions by bumping the revocation epoch; the
    /// current cookie is re-sealed with the new epoch at commit.
    func signOutOtherSealedSessions(_ epochs: RevocationEpochs, user: String) async throws -> UInt64 {
        try await storeCall("epoch.bump") { try await epochs.bump(forUser: user, now: self.clock.now()) }
    }
}
