/// A parsed `Set-Cookie` value, for assertions in tests.
public struct SetCookie: Sendable, Equatable {
    /// The cookie name.
    public var name: String
    /// The cookie value.
    public var value: String
    /// Attributes by lower-cased name; flags (`Secure`, `HttpOnly`) map to an empty string.
    public var attributes: [String: String]

    /// Parses one `Set-Cookie` field value; `nil` when it has no `name=value` pair.
    public init?(_ header: String) {
        var parts = header.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " \t") }
        guard !parts.isEmpty else { return nil }
        let pair = parts.removeFirst()
        guard let equals = pair.firstIndex(of: "=") else { return nil }
        name = String(pair[..<equals])
        value = String(pair[pair.index(after: equals)...])
        attributes = [:]
        for part in parts where !part.isEmpty {
            if let equals = part.firstIndex(of: "=") {
                attributes[part[..<equals].lowercased()] = String(part[part.index(after: equals)...])
            } else {
                attributes[part.lowercased()] = ""
            }
        }
    }

    /// Whether the cookie deletes itself (`Max-Age=0` or less).
    public var isDeletion: Bool {
        if let maxAge = attributes["max-age"], let seconds = Int(maxAge) { return seconds <= 0 }
        return false
    }

    /// Whether the cookie is persistent (carries `Max-Age` or `Expires`).
    public var isPersistent: Bool { attributes["max-age"] != nil || attributes["expires"] != nil }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
