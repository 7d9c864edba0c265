import Foundation
import HTTPTypes

extension HTTPFields {
    /// Adds the engine's session fields to a response's fields without duplicating what the
    /// handler already set: `Cache-Control` becomes the session's stricter value, `Vary`
    /// gains the session's entry if missing, and everything else (`Set-Cookie`, a header
    /// token) is appended. Both adapters use this, so their headers are identical.
    public mutating func mergeSessionFields(_ sessionFields: HTTPFields) {
        for field in sessionFields {
            switch field.name {
            case .cacheControl:
                self[.cacheControl] = field.value
            case .vary:
                let existing = self[values: .vary].flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
                if !existing.contains(field.value.lowercased()) && !existing.contains("*") { append(field) }
            default:
                append(field)
            }
        }
    }
}
