import NIOCore

/// A bounded, resumable RESP2/RESP3 parser.
///
/// The parser is a value with state: give it the bytes of one connection, in order, as they
/// arrive. Each ``parse(_:)`` call consumes every complete element the buffer holds and returns
/// a reply as soon as the outermost one is complete. It returns `nil` when more bytes are
/// needed; bytes of the elements already parsed are consumed and kept in the parser's state (a
/// stack of the partly built aggregates), so a large reply that arrives in many reads is walked
/// once, not once per read. A leaf (a simple string, error, number, bulk string, …) is consumed
/// only when it is complete: until then its bytes stay in the buffer, and the search for the end
/// of its header line resumes where the last call stopped.
///
/// Limits keep a hostile or broken server from making the client allocate without bound: a line
/// (type header) is at most ``Limits/maxLineLength`` bytes, a bulk string at most
/// ``Limits/maxBulkLength``, an aggregate at most ``Limits/maxAggregateCount`` elements, nested
/// at most ``Limits/maxDepth`` deep (an attribute, `|`, counts as a level for the reply it
/// annotates).
///
/// Malformed input throws ``RESPClientError/protocolViolation(reason:)``. The parser then drops
/// the partial reply and starts afresh, but the stream cannot be resynchronised (the elements
/// before the malformed one are already consumed, the malformed one and what follows are not):
/// the connection must be closed.
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

    /// An aggregate whose header is consumed and whose elements are still arriving.
    private struct Frame: Sendable {
        enum Kind: Sendable {
            case array, push, map, attribute
        }

        let kind: Kind
        /// The elements so far. An attribute keeps only the reply it annotates (its pairs are
        /// parsed, within the limits, and dropped).
        var elements: [RESPReply]
        /// Elements still expected; for an attribute, its pairs and then the annotated reply.
        var remaining: Int

        mutating func add(_ element: RESPReply) {
            remaining -= 1
            if kind != .attribute || remaining == 0 { elements.append(element) }
        }

        /// The finished value, once `remaining` is 0.
        func reply() -> RESPReply {
            switch kind {
            case .array: return .array(elements)
            case .push: return .push(elements)
            case .map: return .map(stride(from: 0, to: elements.count - 1, by: 2).map { (elements[$0], elements[$0 + 1]) })
            // An attribute annotates the reply that follows it; the reply is what counts. It is
            // always there (the attribute's last element), `.null` only satisfies the compiler.
            case .attribute: return elements.last ?? .null
            }
        }
    }

    /// What one step of parsing produced: a finished leaf, or the header of an aggregate.
    private enum Step {
        case leaf(RESPReply)
        case aggregate(Frame)
    }

    /// The bounds in force.
    public let limits: Limits

    /// The aggregates of the reply in progress, outermost first; empty between replies. The
    /// next element is nested `stack.count` deep.
    private var stack: [Frame] = []

    /// How many bytes of the pending leaf's header line (after its type byte) are known to hold
    /// no CR, so a line arriving in pieces is scanned once. Reset when an element is consumed.
    private var lineScanned = 0

    /// The bytes this parser has inspected in buffers over its lifetime: type bytes, bytes
    /// searched for a line's CR, the LF after it, and bulk payloads with their CRLF (copying a
    /// complete header line into a value is not counted). Tests use it to show the work is
    /// linear in the input.
    package private(set) var bytesExamined = 0

    /// Creates a parser.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Parses from `buffer`, resuming the reply in progress, and returns the next complete reply.
    ///
    /// Returns `nil` when more bytes are needed; bytes of the elements already parsed are
    /// consumed and kept in the parser's state, so call it again with the same buffer once more
    /// bytes are appended. Returns a reply as soon as the outermost one completes, leaving the
    /// bytes after it in the buffer. A leaf is consumed only once it is complete.
    ///
    /// - Throws: ``RESPClientError/protocolViolation(reason:)`` for malformed input or input over
    ///   the ``limits``. The parser's state is reset (the partial reply is dropped); the
    ///   connection must be closed, since the stream cannot be resynchronised.
    public mutating func parse(_ buffer: inout ByteBuffer) throws(RESPClientError) -> RESPReply? {
        do {
            return try resume(&buffer)
        } catch {
            stack.removeAll()
            lineScanned = 0
            throw error
        }
    }

    private mutating func resume(_ buffer: inout ByteBuffer) throws(RESPClientError) -> RESPReply? {
        parsing: while true {
            // Checked before looking for bytes, so too deep a nesting fails at once.
            guard stack.count <= limits.maxDepth else { throw .protocolViolation(reason: "nesting deeper than \(limits.maxDepth)") }
            guard let step = try nextElement(&buffer) else { return nil }
            var value: RESPReply
            switch step {
            case .leaf(let leaf):
                value = leaf
            case .aggregate(let frame):
                guard frame.remaining == 0 else {
                    stack.append(frame)
                    continue parsing
                }
                value = frame.reply()
            }
            // Hand the finished value to the aggregates it completes, innermost first.
            while let top = stack.indices.last {
                stack[top].add(value)
                guard stack[top].remaining == 0 else { continue parsing }
                value = stack.removeLast().reply()
            }
            return value
        }
    }

    /// Parses the element at the reader index: a complete leaf, or an aggregate's header. Consumes
    /// it, or nothing (`nil`) when it is not all there yet.
    private mutating func nextElement(_ buffer: inout ByteBuffer) throws(RESPClientError) -> Step? {
        let start = buffer.readerIndex
        guard let type = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        bytesExamined += 1
        guard Self.knownTypes.contains(type) else { throw .protocolViolation(reason: "unknown type byte 0x\(String(type, radix: 16))") }
        guard let line = try readLine(buffer, from: start + 1) else { return nil }
        // The type byte, the line and its CRLF; a blob's payload is added below.
        var length = line.count + 3
        let step: Step
        switch type {
        case UInt8(ascii: "+"):
            step = .leaf(.simpleString(String(decoding: line, as: UTF8.self)))
        case UInt8(ascii: "-"):
            step = .leaf(.error(String(decoding: line, as: UTF8.self)))
        case UInt8(ascii: ":"):
            step = .leaf(.integer(try integer(line)))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let size = try integer(line)
            if size == -1 && type == UInt8(ascii: "$") {
                step = .leaf(.null)
                break
            }
            guard size >= 0, size <= limits.maxBulkLength else {
                throw .protocolViolation(reason: "bulk length \(size) outside 0...\(limits.maxBulkLength)")
            }
            // An O(1) check: wait until the payload and its CRLF are all readable.
            let payloadLength = Int(size)
            guard buffer.readableBytes - length - 2 >= payloadLength, let bytes = buffer.getBytes(at: start + length, length: payloadLength) else {
                return nil
            }
            bytesExamined += payloadLength + 2
            guard buffer.getInteger(at: start + length + payloadLength, as: UInt8.self) == 0x0D,
                buffer.getInteger(at: start + length + payloadLength + 1, as: UInt8.self) == 0x0A
            else {
                throw .protocolViolation(reason: "bulk string not terminated by CRLF")
            }
            length += payloadLength + 2
            switch type {
            case UInt8(ascii: "!"):
                step = .leaf(.error(String(decoding: bytes, as: UTF8.self)))
            case UInt8(ascii: "="):
                guard bytes.count >= 4, bytes[3] == UInt8(ascii: ":") else { throw .protocolViolation(reason: "verbatim string without format") }
                step = .leaf(
                    .verbatimString(format: String(decoding: bytes[0..<3], as: UTF8.self), text: String(decoding: bytes[4...], as: UTF8.self))
                )
            default:
                step = .leaf(.bulkString(bytes))
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try integer(line)
            if count == -1 && type == UInt8(ascii: "*") {
                step = .leaf(.null)
                break
            }
            guard count >= 0, count <= limits.maxAggregateCount else {
                throw .protocolViolation(reason: "aggregate of \(count) elements outside 0...\(limits.maxAggregateCount)")
            }
            let kind: Frame.Kind
            switch type {
            case UInt8(ascii: ">"): kind = .push
            case UInt8(ascii: "%"): kind = .map
            case UInt8(ascii: "|"): kind = .attribute
            default: kind = .array
            }
            let (elements, overflow) = Int(count).multipliedReportingOverflow(by: kind == .map || kind == .attribute ? 2 : 1)
            guard !overflow else { throw .protocolViolation(reason: "aggregate of \(count) elements outside 0...\(limits.maxAggregateCount)") }
            var frame = Frame(kind: kind, elements: [], remaining: kind == .attribute ? elements + 1 : elements)
            if kind != .attribute { frame.elements.reserveCapacity(min(elements, 1024)) }
            step = .aggregate(frame)
        case UInt8(ascii: "_"):
            guard line.isEmpty else { throw .protocolViolation(reason: "null with a payload") }
            step = .leaf(.null)
        case UInt8(ascii: "#"):
            guard line.count == 1, line[0] == UInt8(ascii: "t") || line[0] == UInt8(ascii: "f") else {
                throw .protocolViolation(reason: "boolean must be #t or #f")
            }
            step = .leaf(.boolean(line[0] == UInt8(ascii: "t")))
        case UInt8(ascii: ","):
            let text = String(decoding: line, as: UTF8.self)
            switch text {
            case "inf": step = .leaf(.double(.infinity))
            case "-inf": step = .leaf(.double(-.infinity))
            case "nan": step = .leaf(.double(.nan))
            default:
                guard let number = Double(text) else { throw .protocolViolation(reason: "malformed double") }
                step = .leaf(.double(number))
            }
        case UInt8(ascii: "("):
            let digits = line.first == UInt8(ascii: "-") ? line.dropFirst() : line[...]
            guard !digits.isEmpty, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw .protocolViolation(reason: "malformed big number")
            }
            step = .leaf(.bigNumber(String(decoding: line, as: UTF8.self)))
        default:
            throw .protocolViolation(reason: "unknown type byte 0x\(String(type, radix: 16))")
        }
        buffer.moveReaderIndex(forwardBy: length)
        lineScanned = 0
        return step
    }

    /// The header line that starts at `start` (after the type byte), without its CRLF; `nil` if
    /// its CRLF has not arrived yet (within the line limit). Resumes the search for the CR
    /// after the `lineScanned` bytes already searched.
    private mutating func readLine(_ buffer: ByteBuffer, from start: Int) throws(RESPClientError) -> [UInt8]? {
        let available = buffer.writerIndex - start
        if lineScanned > available { lineScanned = 0 }
        // The CR must come within maxLineLength + 1 bytes: the line holds at most maxLineLength.
        let window = min(available, limits.maxLineLength + 1)
        var crOffset: Int?
        if lineScanned < window, let view = buffer.viewBytes(at: start + lineScanned, length: window - lineScanned) {
            if let crIndex = view.firstIndex(of: 0x0D) {
                crOffset = lineScanned + (crIndex - view.startIndex)
                bytesExamined += crIndex - view.startIndex + 1
            } else {
                bytesExamined += view.count
            }
        }
        guard let length = crOffset else {
            if available > limits.maxLineLength { throw .protocolViolation(reason: "line longer than \(limits.maxLineLength) bytes") }
            lineScanned = available
            return nil
        }
        lineScanned = length
        guard available >= length + 2 else { return nil }
        guard buffer.getInteger(at: start + length + 1, as: UInt8.self) == 0x0A else {
            throw .protocolViolation(reason: "CR not followed by LF")
        }
        bytesExamined += 1
        return buffer.getBytes(at: start, length: length) ?? []
    }

    private static let knownTypes = Set("+-:$!=*~>%|_#,(".utf8)

    private func integer(_ line: [UInt8]) throws(RESPClientError) -> Int64 {
        guard !line.isEmpty, line.count <= 20, let value = Int64(String(decoding: line, as: UTF8.self)) else {
            throw .protocolViolation(reason: "malformed integer")
        }
        return value
    }
}
