import HTTPTypes

/// Finds one cookie's value in a request's `Cookie` header fields, exactly.
///
/// - Everything works on bytes: `;` and `=` split pairs wherever they appear, even next to
///   combining marks that would merge them into one Swift `Character`.
/// - Names are compared byte for byte: no case folding, no percent-decoding, no Unicode
///   trimming (`ID`, `%69d` or ` id` are other cookies).
/// - Pairs are split on `;` and only spaces and tabs around them are skipped (RFC 6265 OWS).
/// - If the name appears more than once across all `Cookie` fields (cookie tossing from a
///   sibling subdomain or a path-scoped cookie), the result is ``Lookup/ambiguous``: the
///   request authenticates as neither.
/// - A value longer than `maxValueLength` is reported as ``Lookup/oversized`` without being
///   copied.
struct CookieHeaderParser: Sendable {
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
        let bytes = header.utf8
        let nameBytes = name.utf8
        var result = Lookup.absent
        var pairStart = bytes.startIndex
        let end = bytes.endIndex
        while pairStart < end {
            let pairEnd = bytes[pairStart...].firstIndex(of: UInt8(ascii: ";")) ?? end
            var start = pairStart
            var stop = pairEnd
            while start < stop, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
            while stop > start {
                let before = bytes.index(before: stop)
                guard bytes[before] == 0x20 || bytes[before] == 0x09 else { break }
                stop = before
            }
            if let equals = bytes[start..<stop].firstIndex(of: UInt8(ascii: "=")), bytes[start..<equals].elementsEqual(nameBytes) {
                if result != .absent { return .ambiguous }
                let valueStart = bytes.index(after: equals)
                let length = bytes.distance(from: valueStart, to: stop)
                result = length > maxValueLength ? .oversized : .found(Substring(header.utf8[valueStart..<stop]))
            }
            pairStart = pairEnd < end ? bytes.index(after: pairEnd) : end
        }
        return result
    }
}
