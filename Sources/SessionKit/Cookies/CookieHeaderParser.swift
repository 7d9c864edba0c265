import HTTPTypes

/// Finds one cookie's value in a request's `Cookie` header fields, exactly.
///
/// - Names are compared byte for byte: no case folding, no percent-decoding, no Unicode
///   trimming (`ID`, `%69d` or ` id` are other cookies).
/// - Pairs are split on `;` and only spaces and tabs around them are skipped (RFC 6265 OWS).
/// - If the name appears more than once across all `Cookie` fields (cookie tossing from a
///   sibling subdomain or a path-scoped cookie), the result is ``Lookup/ambiguous``: the
///   request authenticates as neither.
/// - A value longer than `maxValueLength` is reported as ``Lookup/oversized`` without being
///   copied.
struct CookieHeaderParser {
    enum Lookup: Equatable {
        case absent
        case found(Substring)
        case ambiguous
        case oversized
    }

    let name: String
    let maxValueLength: Int

    func lookup(in fields: HTTPFields) -> Lookup {
        var result = Lookup.absent
        for field in fields where field.name == .cookie {
            switch lookup(in: field.value) {
            case .absent: continue
            case .ambiguous: return .ambiguous
            case .oversized:
                if result != .absent { return .ambiguous }
                result = .oversized
            case .found(let value):
                if result != .absent { return .ambiguous }
                result = .found(value)
            }
        }
        return result
    }

    func lookup(in header: String) -> Lookup {
        let nameBytes = name.utf8
        var result = Lookup.absent
        var pairStart = header.startIndex
        let end = header.endIndex
        while pairStart < end {
            let pairEnd = header[pairStart...].firstIndex(of: ";") ?? end
            let pair = Self.trimmed(header[pairStart..<pairEnd])
            if let equals = pair.firstIndex(of: "=") {
                let pairName = pair[..<equals]
                if pairName.utf8.elementsEqual(nameBytes) {
                    if result != .absent { return .ambiguous }
                    let value = pair[pair.index(after: equals)...]
                    result = value.utf8.count > maxValueLength ? .oversized : .found(value)
                }
            }
            pairStart = pairEnd < end ? header.index(after: pairEnd) : end
        }
        return result
    }

    private static func trimmed(_ text: Substring) -> Substring {
        var start = text.startIndex
        var end = text.endIndex
        while start < end, text.utf8[start] == 0x20 || text.utf8[start] == 0x09 {
            start = text.utf8.index(after: start)
        }
        while end > start {
            let before = text.utf8.index(before: end)
            guard text.utf8[before] == 0x20 || text.utf8[before] == 0x09 else { break }
            end = before
        }
        return text[start..<end]
    }
}
