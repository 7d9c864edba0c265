import CoreMetrics
import Foundation
import HTTPTypes

/// The commit decisions for sealed cookies: the same lifecycle, with sealing instead of writes.
extension SessionEngine {
    func commitSealed(
        _ codec: SealedCookieCodec,
        _ epochs: RevocationEpochs?,
        _ handle: SessionHandle,
        _ snapshot: CommitSnapshot,
        now: Date
    ) async throws -> HTTPFields {
        if snapshot.destroyed {
            guard handle.incoming.wasSent else { return HTTPFields() }
            if let epochs, let user = snapshot.record?.userID ?? snapshot.userID ?? signedInUser(of: handle, codec, now: now) {
                // The browser's copy is deleted below; the epoch bump kills every other copy.
                _ = try await storeCall { try await epochs.bump(forUser: user, now: now) }
            }
            metrics.destroyed.increment()
            return deletionFields()
        }
        if snapshot.isEmpty {
            return snapshot.record != nil || (snapshot.regenerate && handle.incoming.wasSent) ? deletionFields() : HTTPFields()
        }
        let record: SessionRecord
        var epoch = snapshot.epoch
        if snapshot.regenerate || snapshot.record == nil {
            let createdAt = snapshot.signedIn ? now : (snapshot.record?.createdAt ?? now)
            let absolute = snapshot.signedIn ? nil : snapshot.record?.absoluteExpiresAt
            record = newRecord(snapshot, createdAt: createdAt, absoluteExpiresAt: absolute, userAgent: nil, now: now)
            if snapshot.signedIn, let epochs, let user = snapshot.userID {
                epoch = try await storeCall { try await epochs.current(forUser: user) }
            }
            if snapshot.regenerate { metrics.regenerated.increment() } else { metrics.created.increment() }
        } else if let existing = snapshot.record {
            let due = now.timeIntervalSince(existing.lastSeenAt) >= configuration.touchInterval.seconds
            guard snapshot.hasChanges || snapshot.reissue || due else { return HTTPFields() }
            var updated = existing
            updated.data = snapshot.values
            updated.lastSeenAt = now
            updated.idleExpiresAt = min(now.addingTimeInterval(idleTimeout(persistent: snapshot.persistent).seconds), existing.absoluteExpiresAt)
            record = updated
            if snapshot.hasChanges { metrics.updated.increment() } else { metrics.touched.increment() }
        } else {
            return HTTPFields()
        }
        let value = try codec.seal(SealedPayload(record: record, epoch: epoch))
        return tokenFields(cookieValue: value, expiresAt: snapshot.persistent ? record.expiresAt : nil, now: now)
    }

    /// The user in a sealed cookie the handler destroyed without reading it (opening it is
    /// local: no store call).
    private func signedInUser(of handle: SessionHandle, _ codec: SealedCookieCodec, now: Date) -> String? {
        guard case .sealed(let value) = handle.incoming else { return nil }
        return codec.open(Substring(value), now: now)?.payload.record.userID
    }

    /// Sealed cookies: ends the user's other sessions by bumping the revocation epoch; the
    /// current cookie is re-sealed with the new epoch at commit.
    func signOutOtherSealedSessions(_ epochs: RevocationEpochs, user: String) async throws -> UInt64 {
        try await storeCall { try await epochs.bump(forUser: user, now: self.clock.now()) }
    }
}
