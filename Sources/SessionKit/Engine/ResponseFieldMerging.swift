import Foundation
import HTTPTypes

extension HTTPFields {
    /// Adds the engine's session fields to a response's fields without duplicating what the
    /// handler already set: `Cache-Control` becomes the stricter of the two (`no-store` beats
    /// `private` beats anything else), `Vary` gains the session's entry if missing, and
    /// everything else (`Set-Cookie`, a header token) is appended. Both adapters use this, so
    /// their headers are identical.
    public mutating func mergeSessionFields(_ sessionFields: HTTPFields) {
        for field in sessionFields {
            switch field.name {
            case .cacheControl:
                self[.cacheControl] = Self.stricterCacheControl(self[.cacheControl], field.value)
            case .vary:
                let existing = self[values: .vary].flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
                if !existing.contains(field.value.lowercased()) && !existing.contains("*") { append(field) }
            default:
                append(field)
            }
        }
    }

    /// The stricter of a handler's and the session's `Cache-Control` (used by the adapters).
    public static func stricterCacheControl(_ existing: String?, _ session: String) -> String {
        guard let existing else { return session }
        let directives = Set(existing.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        if directives.contains("no-store") { return existing }
        if session == "private" && directives.contains("private") { return existing }
        return session
    }
}
