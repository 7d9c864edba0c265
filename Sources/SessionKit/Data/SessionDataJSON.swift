import Foundation

/// Converts session data (key → JSON-encoded value) to and from one JSON object, for stores
/// that keep a session's data as a single JSON document (SQLite `TEXT`, PostgreSQL `jsonb`).
///
/// Decoding slices the raw value of each top-level member out of the document instead of
/// re-encoding it, so values come back byte for byte as the database returns them.
public enum SessionDataJSON {
    /// A document that is not a JSON object of members.
    public struct MalformedDocument: Error, Sendable {
        /// Where parsing stopped.
        public let offset: Int
    }

    /// Encodes data as a JSON object.
    public static func encodeObject(_ data: [String: Data]) -> Data {
        var output = Data()
        output.reserveCapacity(data.reduce(2) { $0 + $1.key.utf8.count + $1.value.count + 4 })
        output.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in data.sorted(by: { $0.key < $1.key }) {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &output)
            output.append(UInt8(ascii: ":"))
            output.append(value)
        }
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// Encodes a string as a JSON string literal.
    public static func encodeString(_ text: String) -> Data {
        var output = Data()
        appendString(text, to: &output)
        return output
    }

    /// Encodes a list of strings as a JSON array.
    public static func encodeStringArray(_ texts: some Sequence<String>) -> Data {
        var output = Data([UInt8(ascii: "[")])
        var first = true
        for text in texts {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            appendString(text, to: &output)
        }
        output.append(UInt8(ascii: "]"))
        return output
    }

    private static func appendString(_ text: String, to output: inout Data) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0..<0x20:
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Splits a JSON object into its members, keeping each value's raw JSON text.
    public static func decodeObject(_ document: some Collection<UInt8>) throws -> [String: Data] {
        var scanner = Scanner(bytes: Array(document))
        var result: [String: Data] = [:]
        scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "{"))
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.offset += 1
            return result
        }
        while true {
            scanner.skipWhitespace()
            let keyStart = scanner.offset
            try scanner.skipString()
            let keyBytes = scanner.bytes[keyStart..<scanner.offset]
            guard let key = try? JSONDecoder().decode(String.self, from: Data(keyBytes)) else {
                throw MalformedDocument(offset: keyStart)
            }
            scanner.skipWhitespace()
            try scanner.expect(UInt8(ascii: ":"))
            scanner.skipWhitespace()
            let valueStart = scanner.offset
            try scanner.skipValue(depth: 0)
            result[key] = Data(scanner.bytes[valueStart..<scanner.offset])
            scanner.skipWhitespace()
            if scanner.peek() == UInt8(ascii: ",") {
                scanner.offset += 1
                continue
            }
            try scanner.expect(UInt8(ascii: "}"))
            return result
        }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var offset = 0

        func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { offset += 1 }
        }

        mutating func expect(_ byte: UInt8) throws {
            guard peek() == byte else { throw MalformedDocument(offset: offset) }
            offset += 1
        }

        mutating func skipString() throws {
            try expect(UInt8(ascii: "\""))
            while let byte = peek() {
                offset += 1
                if byte == UInt8(ascii: "\\") {
                    guard peek() != nil else { break }
                    offset += 1
                } else if byte == UInt8(ascii: "\"") {
                    return
                }
            }
            throw MalformedDocument(offset: offset)
        }

        mutating func skipValue(depth: Int) throws {
            guard depth < 512, let byte = peek() else { throw MalformedDocument(offset: offset) }
            switch byte {
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                offset += 1
                skipWhitespace()
                if peek() == close {
                    offset += 1
                    return
                }
                while true {
                    skipWhitespace()
                    if close == UInt8(ascii: "}") {
                        try skipString()
                        skipWhitespace()
                        try expect(UInt8(ascii: ":"))
                        skipWhitespace()
                    }
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    if peek() == UInt8(ascii: ",") {
                        offset += 1
                        continue
                    }
                    try expect(close)
                    return
                }
            default:
                let start = offset
                while let next = peek(),
                    !(next == UInt8(ascii: ",") || next == UInt8(ascii: "}") || next == UInt8(ascii: "]") || next == 0x20 || next == 0x0A
                        || next == 0x0D || next == 0x09)
                {
                    offset += 1
                }
                guard offset > start else { throw MalformedDocument(offset: offset) }
            }
        }
    }
}
