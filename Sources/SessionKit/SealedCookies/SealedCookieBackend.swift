/// Client-side sessions: the whole session lives in an encrypted, authenticated cookie and no
/// server store is needed (like Rails' and iron-session's default).
///
/// Handlers use the same ``SessionHandle`` API as with a store. What differs:
/// - **Size:** cookie name + value must stay within 4096 bytes; a larger session fails at
///   commit with ``SessionError/cookieTooLarge(size:limit:)`` (500) rather than a dropped
///   cookie. Keep big data in a server store (switching is one line: `SessionEngine(store:)`).
/// - **Revocation:** logout can delete the browser's cookie but not a copy an attacker kept.
///   Give the backend a `revocationStore` (any ``VersionedSessionStore``) and it keeps a per-user
///   *epoch*: destroying a signed-in session (and "sign out other sessions") bumps the epoch,
///   and every sealed cookie of that user from an older epoch is rejected from then on. The
///   price is one store read per request of a signed-in user, and that logout ends *all* of
///   the user's sealed sessions, not only this one.
/// - **Listing:** there is no server-side list of a user's devices; ``SessionHandle/sessionsOfUser()`` is empty,
///   and ``SessionConfiguration/concurrentSessionLimit`` does not apply.
public struct SealedCookieBackend: Sendable {
    /// The keys cookies are sealed with.
    public let keyRing: KeyRing
    /// Where per-user revocation epochs are kept; `nil` disables revocation.
    public let revocationStore: (any VersionedSessionStore)?

    /// Creates a sealed-cookie backend.
    public init(keyRing: KeyRing, revocationStore: (any VersionedSessionStore)? = nil) {
        self.keyRing = keyRing
        self.revocationStore = revocationStore
    }
}
