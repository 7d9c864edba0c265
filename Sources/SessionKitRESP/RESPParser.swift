import NIOCore

/// A bounded, incremental RESP2/RESP3 parser.
///
/// ``parse(_:)`` either consumes one complete reply from the buffer, returns `nil` (and
/// consumes nothing) when more bytes are needed, or throws ``RESPClientError/protocolViolation(reason:)``
/// for malformed input. Limits keep a hostile or broken server from making the client
/// allocate without bound: a line (type header) is at most ``Limits/maxLineLength`` bytes, a
/// bulk string at most ``Limits/maxBulkLength``, an aggregate at most
/// ``Limits/maxAggregateCount`` elements, nested at most ``Limits/maxDepth`` deep.
public struct RESPParser: Sendable {
    /// The parser's bounds.
    public struct Limits: Sendable {
        /// Longest header line (`+`, `-`, `:` replies and length lines), in bytes.
        public var maxLineLength: Int
        /// Longest bulk string, in bytes.
        public var maxBulkLength: Int
        /// Most elements in one array, set, map or push.
        public var maxAggregateCount: Int
        /// Deepest nesting of aggregates.
        public var maxDepth: Int

        /// Creates limits; the defaults suit session data.
        public init(maxLineLength: Int = 64 * 1024, maxBulkLength: Int = 64 * 1024 * 1024, maxAggregateCount: Int = 1_048_576, maxDepth: Int = 32) {
            self.maxLineLength = maxLineLength
            self.maxBulkLength = maxBulkLength
            self.maxAggregateCount = maxAggregateCount
            self.maxDepth = maxDepth
        }
    }

    /// The bounds in force.
    public let limits: Limits

    /// Creates a parser.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Parses one reply, consuming its bytes; `nil` when the buffer holds only part of one.
    public func parse(_ buffer: inout ByteBuffer) throws(RESPClientError) -> RESPReply? {
        var copy = buffer
        guard let value = try parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    private func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPClientError) -> RESPReply? {
        guard depth <= limits.maxDepth else { throw .protocolViolation(reason: "nesting deeper than \(limits.maxDepth)") }
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard Self.knownTypes.contains(type) else { throw .protocolViolation(reason: "unknown type byte 0x\(String(type, radix: 16))") }
        var cursor = buffer
        cursor.moveReaderIndex(forwardBy: 1)
        guard let line = try readLine(&cursor) else { return nil }
        let value: RESPReply?
        switch type {
        case UInt8(ascii: "+"):
            value = .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            value = .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            value = .integer(try integer(line))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try integer(line)
            if length == -1 && type == UInt8(ascii: "$") {
                value = .null
                break
            }
            guard length >= 0, length <= limits.maxBulkLength else {
                throw .protocolViolation(reason: "bulk length \(length) outside 0...\(limits.maxBulkLength)")
            }
            guard cursor.readableBytes >= Int(length) + 2, let bytes = cursor.readBytes(length: Int(length)) else { return nil }
            guard cursor.readInteger(as: UInt8.self) == 0x0D, cursor.readInteger(as: UInt8.self) == 0x0A else {
                throw .protocolViolation(reason: "bulk string not terminated by CRLF")
            }
            switch type {
            case UInt8(ascii: "!"): value = .error(String(decoding: bytes, as: UTF8.self))
            case UInt8(ascii: "="):
                guard bytes.count >= 4, bytes[3] == UInt8(ascii: ":") else { throw .protocolViolation(reason: "verbatim string without format") }
                value = .verbatimString(format: String(decoding: bytes[0..<3], as: UTF8.self), text: String(decoding: bytes[4...], as: UTF8.self))
            default: value = .bulkString(bytes)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try integer(line)
            if count == -1 && type == UInt8(ascii: "*") {
                value = .null
                break
            }
            guard count >= 0, count <= limits.maxAggregateCount else {
                throw .protocolViolation(reason: "aggregate of \(count) elements outside 0...\(limits.maxAggregateCount)")
            }
            let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            var elements: [RESPReply] = []
            elements.reserveCapacity(min(Int(count) * (isPairs ? 2 : 1), 1024))
            for _ in 0..<(Int(count) * (isPairs ? 2 : 1)) {
                guard let element = try parseValue(&cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            if type == UInt8(ascii: "|") {
                // An attribute annotates the reply that follows it; the reply is what counts.
                // Each attribute counts as a level of nesting, so a chain of them is bounded.
                guard let annotated = try parseValue(&cursor, depth: depth + 1) else { return nil }
                buffer = cursor
                return annotated
            }
            if type == UInt8(ascii: ">") {
                value = .push(elements)
            } else if isPairs {
                value = .map(stride(from: 0, to: elements.count, by: 2).map { (elements[$0], elements[$0 + 1]) })
            } else {
                value = .array(elements)
            }
        case UInt8(ascii: "_"):
            guard line.isEmpty else { throw .protocolViolation(reason: "null with a payload") }
            value = .null
        case UInt8(ascii: "#"):
            guard line.count == 1, line[0] == UInt8(ascii: "t") || line[0] == UInt8(ascii: "f") else {
                throw .protocolViolation(reason: "boolean must be #t or #f")
            }
            value = .boolean(line[0] == UInt8(ascii: "t"))
        case UInt8(ascii: ","):
            let text = String(decoding: line, as: UTF8.self)
            switch text {
            case "inf": value = .double(.infinity)
            case "-inf": value = .double(-.infinity)
            case "nan": value = .double(.nan)
            default:
                guard let number = Double(text) else { throw .protocolViolation(reason: "malformed double") }
                value = .double(number)
            }
        case UInt8(ascii: "("):
            let digits = line.first == UInt8(ascii: "-") ? line.dropFirst() : line[...]
            guard !digits.isEmpty, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw .protocolViolation(reason: "malformed big number")
            }
            value = .bigNumber(String(decoding: line, as: UTF8.self))
        default:
            throw .protocolViolation(reason: "unknown type byte 0x\(String(type, radix: 16))")
        }
        buffer = cursor
        return value
    }

    /// Reads up to CRLF; `nil` if no CRLF yet (within the line limit).
    private func readLine(_ buffer: inout ByteBuffer) throws(RESPClientError) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let crIndex = view.prefix(limits.maxLineLength + 1).firstIndex(of: 0x0D) else {
            if view.count > limits.maxLineLength { throw .protocolViolation(reason: "line longer than \(limits.maxLineLength) bytes") }
            return nil
        }
        let length = crIndex - view.startIndex
        guard buffer.readableBytes >= length + 2 else { return nil }
        guard buffer.getInteger(at: buffer.readerIndex + length + 1, as: UInt8.self) == 0x0A else {
            throw .protocolViolation(reason: "CR not followed by LF")
        }
        let line = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private static let knownTypes = Set("+-:$!=*~>%|_#,(".utf8)

    private func integer(_ line: [UInt8]) throws(RESPClientError) -> Int64 {
        guard !line.isEmpty, line.count <= 20, let value = Int64(String(decoding: line, as: UTF8.self)) else {
            throw .protocolViolation(reason: "malformed integer")
        }
        return value
    }
}
