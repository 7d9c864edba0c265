import Crypto
import Foundation

/// Per-user revocation epochs for sealed cookies, kept in any ``VersionedSessionStore``.
///
/// The epoch lives in an ordinary record whose storage ID is a hash of a fixed label and the
/// user ID (so it cannot collide with a session's token digest), under the data key `epoch`.
/// The record has no absolute limit; its idle expiry is moved `lifetime` ahead by every bump,
/// so it outlives every cookie issued before the bump. Bumps are compare-and-set on the
/// record's version, so concurrent bumps never move the epoch backwards.
/// Epochs are at least the bump's wall-clock time in milliseconds, so they keep increasing
/// even after an epoch record expires and is created anew.
struct RevocationEpochs: Sendable {
    let store: any VersionedSessionStore
    /// How long an epoch record lives: at least as long as any cookie it may have to reject.
    let lifetime: TimeInterval

    static func storageID(forUser user: String) -> SessionStorageID {
        SessionStorageID(digest: SHA256.hash(data: Array("sessionkit revocation epoch:\(user)".utf8)))
    }

    func current(forUser user: String) async throws -> UInt64 {
        guard let record = try await store.load(Self.storageID(forUser: user)) else { return 0 }
        return Self.epoch(in: record)
    }

    /// Moves the user's epoch forward and returns the new value.
    func bump(forUser user: String, now: Date) async throws -> UInt64 {
        let id = Self.storageID(forUser: user)
        for _ in 0..<5 {
            if let record = try await store.load(id) {
                let next = max(Self.epoch(in: record) + 1, Self.millis(now))
                // The expiry moves: the record must outlive every cookie issued before this
                // bump, or a revoked cookie would open again once the record lapsed.
                if try await store.update(id, Self.update(to: next, now: now, lifetime: lifetime), expectedVersion: record.version) == .applied {
                    return next
                }
            } else {
                let next = Self.millis(now)
                let record = SessionRecord(
                    data: ["epoch": Data(String(next).utf8)],
                    createdAt: now,
                    idleExpiresAt: now.addingTimeInterval(lifetime),
                    absoluteExpiresAt: .distantFuture
                )
                do {
                    try await store.create(id, record)
                } catch SessionStoreError.collision {
                    continue
                }
                // Written again as a security-critical update, so a store with replicas
                // confirms the first epoch too (a create carries no such mark).
                if try await store.update(id, Self.update(to: next, now: now, lifetime: lifetime), expectedVersion: record.version) == .applied {
                    return next
                }
            }
        }
        throw SessionStoreError.unavailable(reason: "revocation epoch kept changing under concurrent updates")
    }

    /// The bump's write: the new epoch, and an expiry `lifetime` ahead; security-critical.
    private static func update(to epoch: UInt64, now: Date, lifetime: TimeInterval) -> SessionUpdate {
        var update = SessionUpdate(setValues: ["epoch": Data(String(epoch).utf8)], idleExpiresAt: now.addingTimeInterval(lifetime), lastSeenAt: now)
        update.isSecurityCritical = true
        return update
    }

    private static func millis(_ date: Date) -> UInt64 {
        UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    private static func epoch(in record: SessionRecord) -> UInt64 {
        record.data["epoch"].flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } ?? 0
    }
}
