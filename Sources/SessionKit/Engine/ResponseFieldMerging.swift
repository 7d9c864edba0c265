import Foundation
import HTTPTypes

/// How the engine's session fields join a response's own fields, for every adapter:
/// `Cache-Control` becomes the stricter of the two (`no-store` beats `private` beats anything
/// else), `Vary` gains the session's entry if missing, and everything else (`Set-Cookie`, a
/// header token) is appended. Hummingbird applies it to `HTTPFields`, Vapor to `HTTPHeaders`.
package struct SessionFieldMerge {
    /// The response's `Cache-Control` after the merge (`nil`: leave it as it is).
    package var cacheControl: String?
    /// `Vary` entries to add.
    package var addedVary: [String] = []
    /// Fields to append unchanged.
    package var appended: [HTTPField] = []

    /// Plans the merge of `sessionFields` into a response with these `Cache-Control` and `Vary`
    /// values.
    package init(_ sessionFields: HTTPFields, cacheControl existingCacheControl: String?, vary existingVary: [String]) {
        var vary = existingVary.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
        for field in sessionFields {
            switch field.name {
            case .cacheControl:
                cacheControl = Self.stricterCacheControl(cacheControl ?? existingCacheControl, field.value)
            case .vary:
                if !vary.contains(field.value.lowercased()) && !vary.contains("*") {
                    addedVary.append(field.value)
                    vary.append(field.value.lowercased())
                }
            default:
                appended.append(field)
            }
        }
    }

    /// The stricter of a handler's and the session's `Cache-Control`.
    static func stricterCacheControl(_ existing: String?, _ session: String) -> String {
        guard let existing else { return session }
        let directives = Set(existing.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        if directives.contains("no-store") { return existing }
        if session == "private" && directives.contains("private") { return existing }
        return session
    }
}

extension HTTPFields {
    /// Adds the engine's session fields to a response's fields by ``SessionFieldMerge``.
    package mutating func mergeSessionFields(_ sessionFields: HTTPFields) {
        guard !sessionFields.isEmpty else { return }
        let merge = SessionFieldMerge(sessionFields, cacheControl: self[.cacheControl], vary: self[values: .vary])
        if let cacheControl = merge.cacheControl { self[.cacheControl] = cacheControl }
        for entry in merge.addedVary { append(HTTPField(name: .vary, value: entry)) }
        append(contentsOf: merge.appended)
    }
}
