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
    /// The name's bytes, kept so a lookup allocates nothing for them.
    private let nameBytes: [UInt8]

    init(name: String, maxValueLength: Int) {
        self.name = name
        self.maxValueLength = maxValueLength
        self.nameBytes = Array(name.utf8)
    }

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
        // Scan the contiguous UTF-8 bytes by offset (much cheaper than walking a String view),
        // then cut the value out of the header by the offsets found.
        var header = header
        let scan = header.withUTF8 { bytes -> (lookup: Lookup, valueOffsets: Range<Int>?) in
            var result: (lookup: Lookup, valueOffsets: Range<Int>?) = (.absent, nil)
            var pairStart = 0
            let end = bytes.count
            while pairStart < end {
                var pairEnd = pairStart
                while pairEnd < end, bytes[pairEnd] != UInt8(ascii: ";") { pairEnd += 1 }
                var start = pairStart
                var stop = pairEnd
                while start < stop, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
                while stop > start, bytes[stop - 1] == 0x20 || bytes[stop - 1] == 0x09 { stop -= 1 }
                // Cookie names never contain "=", so the pair is ours when the name is followed
                // directly by the first "=".
                let equals = start + nameBytes.count
                if equals < stop, bytes[equals] == UInt8(ascii: "="), Self.matches(bytes, from: start, nameBytes) {
                    if result.lookup != .absent { return (.ambiguous, nil) }
                    let valueOffsets = (equals + 1)..<stop
                    result = valueOffsets.count > maxValueLength ? (.oversized, nil) : (.found(""), valueOffsets)
                }
                pairStart = pairEnd + 1
            }
            return result
        }
        guard case .found = scan.lookup, let offsets = scan.valueOffsets else { return scan.lookup }
        let utf8 = header.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: offsets.lowerBound)
        let upper = utf8.index(lower, offsetBy: offsets.count)
        return .found(Substring(utf8[lower..<upper]))
    }

    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ name: [UInt8]) -> Bool {
        guard start + name.count <= bytes.count else { return false }
        for index in name.indices where bytes[start + index] != name[index] { return false }
        return true
    }
}
