import Foundation
import SessionKit

/// Keeps session values with NUL storable in `jsonb`, which rejects the escape `\u0000`
/// (SQLSTATE 22P05) although JSON allows it.
///
/// A value whose JSON text contains `\u0000`, or the wrapper's own member name, is stored as
/// `{"\u0001sk.raw": "<base64 of the original JSON>"}` and unwrapped on load. Wrapping values
/// that merely contain the member name too keeps the mapping one-to-one: an app value that
/// looks like a wrapper comes back as itself. Every other value is stored as it is.
enum PostgresJSONNul {
    /// The wrapper's only member name, as JSON text and as a Swift string.
    static let memberJSON = Array(#""\u0001sk.raw""#.utf8)
    static let member = "\u{1}sk.raw"
    private static let nulEscape = Array(#"\u0000"#.utf8)

    /// The value as stored: itself, or wrapped.
    static func storable(_ value: Data) -> Data {
        guard contains(value, nulEscape) || contains(value, Array(memberJSON.dropFirst().dropLast())) else { return value }
        var wrapped = Data("{".utf8)
        wrapped.append(contentsOf: memberJSON)
        wrapped.append(contentsOf: Array(":".utf8))
        wrapped.append(SessionDataJSON.encodeString(value.base64EncodedString()))
        wrapped.append(contentsOf: Array("}".utf8))
        return wrapped
    }

    /// The values as stored, each made storable.
    static func storable(_ values: [String: Data]) -> [String: Data] {
        values.mapValues { storable($0) }
    }

    /// The value as the app wrote it: unwrapped if it is a wrapper.
    static func original(_ stored: Data) -> Data {
        guard stored.first == UInt8(ascii: "{"), contains(stored, Array("sk.raw".utf8)),
            let members = try? SessionDataJSON.decodeObject(stored), members.count == 1,
            let encoded = members[member],
            let base64 = try? JSONDecoder().decode(String.self, from: encoded),
            let original = Data(base64Encoded: base64)
        else { return stored }
        return original
    }

    private static func contains(_ haystack: Data, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<index + needle.count].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
