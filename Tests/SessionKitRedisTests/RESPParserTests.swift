import NIOCore
import SessionKitTesting
import Testing

@testable import SessionKitRedis
@testable import SessionKitRESP

// MARK: - Test support

extension SplitMix64 {
    /// A number in `0..<bound`.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// `true` with probability 1 / `n`.
    mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }
}

/// A RESP encoder local to the tests, independent of the code under test. Without a generator
/// it writes the canonical form; with one it picks among equivalent encodings (`$-1`/`*-1`/`_`
/// nulls, `*`/`~`/`>` arrays, `-`/`!` errors) and sometimes prefixes a value with an attribute
/// (`|`), which the parser must skip.
struct TestRESPEncoder {
    var rng: SplitMix64?

    init(variants seed: UInt64? = nil) {
        rng = seed.map(SplitMix64.init(seed:))
    }

    private mutating func choose(_ count: Int) -> Int {
        guard rng != nil else { return 0 }
        return rng!.below(count)
    }

    mutating func encode(_ value: RESPReply) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    mutating func encode(_ values: [RESPReply]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { encode(value, into: &out) }
        return out
    }

    private static func line(_ type: Character, _ text: String, into out: inout [UInt8]) {
        out.append(type.asciiValue!)
        out += Array(text.utf8)
        out += [0x0D, 0x0A]
    }

    private static func blob(_ type: Character, _ bytes: [UInt8], into out: inout [UInt8]) {
        line(type, String(bytes.count), into: &out)
        out += bytes
        out += [0x0D, 0x0A]
    }

    mutating func encode(_ value: RESPReply, into out: inout [UInt8]) {
        if choose(8) == 7 {
            // An attribute: a map of annotations before the reply; it is not a value of its own.
            var plain = TestRESPEncoder()
            Self.line("|", "1", into: &out)
            plain.encode(.simpleString("key-popularity"), into: &out)
            plain.encode(.map([(.bulkString(Array("a".utf8)), .double(0.1923))]), into: &out)
        }
        switch value {
        case .simpleString(let text):
            Self.line("+", text, into: &out)
        case .error(let text):
            let bytes = Array(text.utf8)
            if bytes.contains(0x0D) || bytes.contains(0x0A) || choose(2) == 1 {
                Self.blob("!", bytes, into: &out)
            } else {
                Self.line("-", text, into: &out)
            }
        case .integer(let number):
            Self.line(":", String(number), into: &out)
        case .bulkString(let bytes):
            Self.blob("$", bytes, into: &out)
        case .null:
            switch choose(3) {
            case 0: Self.line("$", "-1", into: &out)
            case 1: Self.line("*", "-1", into: &out)
            default: Self.line("_", "", into: &out)
            }
        case .array(let elements):
            Self.line(["*", "~"][choose(2)], String(elements.count), into: &out)
            for element in elements { encode(element, into: &out) }
        case .push(let elements):
            Self.line(">", String(elements.count), into: &out)
            for element in elements { encode(element, into: &out) }
        case .map(let pairs):
            Self.line("%", String(pairs.count), into: &out)
            for (key, element) in pairs {
                encode(key, into: &out)
                encode(element, into: &out)
            }
        case .double(let number):
            let text: String
            if number.isNaN {
                text = "nan"
            } else if number.isInfinite {
                text = number < 0 ? "-inf" : "inf"
            } else {
                text = "\(number)"
            }
            Self.line(",", text, into: &out)
        case .boolean(let flag):
            Self.line("#", flag ? "t" : "f", into: &out)
        case .bigNumber(let digits):
            Self.line("(", digits, into: &out)
        case .verbatimString(let format, let text):
            Self.blob("=", Array((format + ":" + text).utf8), into: &out)
        }
    }
}

/// Random RESP values, for the round-trip and fuzz tests.
enum RandomRESP {
    static let textAlphabet: [String] = ["a", "b", "Z", "0", "7", " ", "-", ":", "_", "é", "ß", "€", "😀", "\u{0}"]

    static func text(_ rng: inout SplitMix64, maxLength: Int = 12, allowingNewlines: Bool) -> String {
        var result = ""
        for _ in 0..<rng.below(maxLength + 1) {
            if allowingNewlines && rng.oneIn(6) {
                result += ["\r\n", "\r", "\n"][rng.below(3)]
            } else {
                result += textAlphabet[rng.below(textAlphabet.count)]
            }
        }
        return result
    }

    static func bytes(_ rng: inout SplitMix64, maxLength: Int = 24) -> [UInt8] {
        (0..<rng.below(maxLength + 1)).map { _ in
            rng.oneIn(4) ? [0x0D, 0x0A, 0x00, 0xFF, UInt8(ascii: "$")][rng.below(5)] : UInt8(truncatingIfNeeded: rng.next())
        }
    }

    static func double(_ rng: inout SplitMix64) -> Double {
        switch rng.below(8) {
        case 0: return .infinity
        case 1: return -.infinity
        case 2: return .nan
        case 3: return 0
        case 4: return Double(Int64(truncatingIfNeeded: rng.next()) % 100_000) / 8
        default:
            while true {
                let candidate = Double(bitPattern: rng.next())
                if candidate.isFinite { return candidate }
            }
        }
    }

    static func integer(_ rng: inout SplitMix64) -> Int64 {
        switch rng.below(5) {
        case 0: return .min
        case 1: return .max
        case 2: return Int64(rng.below(1000)) - 500
        default: return Int64(bitPattern: rng.next())
        }
    }

    static func value(_ rng: inout SplitMix64, depth: Int = 0, maxDepth: Int = 5) -> RESPReply {
        let kinds = depth >= maxDepth ? 9 : 12
        switch rng.below(kinds) {
        case 0: return .simpleString(text(&rng, allowingNewlines: false))
        case 1: return .error("ERR " + text(&rng, allowingNewlines: rng.oneIn(2)))
        case 2: return .integer(integer(&rng))
        case 3: return .bulkString(bytes(&rng))
        case 4: return .null
        case 5: return .double(double(&rng))
        case 6: return .boolean(rng.oneIn(2))
        case 7:
            let digits = (0..<(1 + rng.below(40))).map { _ in String(rng.below(10)) }.joined()
            return .bigNumber((rng.oneIn(2) ? "-" : "") + digits)
        case 8:
            let format = String((0..<3).map { _ in Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(rng.below(26)))) })
            return .verbatimString(format: format, text: text(&rng, allowingNewlines: true))
        case 9, 11:
            return .array((0..<rng.below(5)).map { _ in value(&rng, depth: depth + 1, maxDepth: maxDepth) })
        default:
            return .map(
                (0..<rng.below(4)).map { _ in (value(&rng, depth: depth + 1, maxDepth: maxDepth), value(&rng, depth: depth + 1, maxDepth: maxDepth)) }
            )
        }
    }
}

extension Array where Element == UInt8 {
    init(resp text: String) { self = Array(text.utf8) }
}

/// Parses every complete value in `buffer`. Checks the consumption contract: the parser only
/// reads (the reader index never moves back, the writer index never moves), a value consumes
/// bytes, and a `nil` is final until more bytes arrive (a second call consumes nothing).
func drain(_ parser: inout RESPParser, _ buffer: inout ByteBuffer, sourceLocation: SourceLocation = #_sourceLocation) throws(RESPClientError)
    -> [RESPReply]
{
    var values: [RESPReply] = []
    let writerIndex = buffer.writerIndex
    while true {
        let before = buffer.readerIndex
        guard let value = try parser.parse(&buffer) else {
            #expect(
                buffer.readerIndex >= before && buffer.readerIndex <= writerIndex && buffer.writerIndex == writerIndex,
                "parse returned nil and moved the buffer backwards or past its end",
                sourceLocation: sourceLocation
            )
            let afterNil = buffer.readerIndex
            let again = try parser.parse(&buffer)
            #expect(again == nil, "a second call without new bytes returned a value", sourceLocation: sourceLocation)
            #expect(buffer.readerIndex == afterNil, "a second call without new bytes consumed some", sourceLocation: sourceLocation)
            return values
        }
        #expect(buffer.readerIndex > before, "parse returned a value without consuming bytes", sourceLocation: sourceLocation)
        values.append(value)
    }
}

/// Parses one value from `bytes`, which must hold exactly one.
func parseOne(_ bytes: [UInt8], limits: RESPParser.Limits = .init(), sourceLocation: SourceLocation = #_sourceLocation) throws -> RESPReply {
    var buffer = ByteBuffer(bytes: bytes)
    var parser = RESPParser(limits: limits)
    let value = try #require(try parser.parse(&buffer), "incomplete", sourceLocation: sourceLocation)
    #expect(buffer.readableBytes == 0, "\(buffer.readableBytes) bytes left over", sourceLocation: sourceLocation)
    return value
}

func parseOne(_ text: String, limits: RESPParser.Limits = .init(), sourceLocation: SourceLocation = #_sourceLocation) throws -> RESPReply {
    try parseOne(Array(text.utf8), limits: limits, sourceLocation: sourceLocation)
}

/// Expects `bytes` to be rejected with ``RESPClientError/protocolViolation(reason:)``, at once.
func expectViolation(
    _ bytes: [UInt8],
    limits: RESPParser.Limits = .init(),
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var buffer = ByteBuffer(bytes: bytes)
    var parser = RESPParser(limits: limits)
    do {
        let value = try parser.parse(&buffer)
        Issue.record(
            "expected a protocol violation, got \(value.map { "\($0)" } ?? "nil (waiting for more bytes)"). \(comment.map { "\($0)" } ?? "")",
            sourceLocation: sourceLocation
        )
    } catch {
        guard error.code == .protocolViolation else {
            Issue.record("expected protocolViolation, got \(error)", sourceLocation: sourceLocation)
            return
        }
    }
}

func expectViolation(
    _ text: String,
    limits: RESPParser.Limits = .init(),
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectViolation(Array(text.utf8), limits: limits, comment, sourceLocation: sourceLocation)
}

// MARK: - Types

/// One complete RESP value and what it parses to.
struct ValidReply: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: RESPReply

    init(_ name: String, _ text: String, _ expected: RESPReply) { self.init(name, bytes: Array(text.utf8), expected) }

    init(_ name: String, bytes: [UInt8], _ expected: RESPReply) {
        self.name = name
        self.bytes = bytes
        self.expected = expected
    }

    var testDescription: String { name }
}

@Suite("RESP parser: types")
struct RESPParserTypeTests {
    static let validReplies: [ValidReply] = [
        // RESP2 scalars
        ValidReply("simple string", "+OK\r\n", .simpleString("OK")),
        ValidReply("empty simple string", "+\r\n", .simpleString("")),
        ValidReply("UTF-8 simple string", "+héllo wörld\r\n", .simpleString("héllo wörld")),
        ValidReply("error", "-ERR unknown command 'FOO'\r\n", .error("ERR unknown command 'FOO'")),
        ValidReply("error with a kind", "-WRONGTYPE Operation against a key\r\n", .error("WRONGTYPE Operation against a key")),
        ValidReply(":0", ":0\r\n", .integer(0)),
        ValidReply(":-42", ":-42\r\n", .integer(-42)),
        ValidReply(":1000", ":1000\r\n", .integer(1000)),
        ValidReply("Int64.max", ":9223372036854775807\r\n", .integer(.max)),
        ValidReply("Int64.min", ":-9223372036854775808\r\n", .integer(.min)),
        // Bulk strings
        ValidReply("bulk string", "$5\r\nhello\r\n", .bulkString(Array("hello".utf8))),
        ValidReply("empty bulk string", "$0\r\n\r\n", .bulkString([])),
        ValidReply("bulk string of CRLFs", "$4\r\n\r\n\r\n\r\n", .bulkString([0x0D, 0x0A, 0x0D, 0x0A])),
        ValidReply(
            "binary bulk string",
            bytes: [UInt8](resp: "$6\r\n") + [0x00, 0xFF, 0x0D, 0x0A, 0x80, 0x24] + [0x0D, 0x0A],
            .bulkString([0x00, 0xFF, 0x0D, 0x0A, 0x80, 0x24])
        ),
        ValidReply("$-1 is null", "$-1\r\n", .null),
        // Arrays
        ValidReply("empty array", "*0\r\n", .array([])),
        ValidReply("*-1 is null", "*-1\r\n", .null),
        ValidReply("mixed array", "*3\r\n:1\r\n$1\r\na\r\n$-1\r\n", .array([.integer(1), .bulkString([0x61]), .null])),
        ValidReply(
            "nested arrays",
            "*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
            .array([.array([.integer(1), .integer(2), .integer(3)]), .array([.simpleString("Hello"), .error("World")])])
        ),
        ValidReply("5-deep array", "*1\r\n*1\r\n*1\r\n*1\r\n*0\r\n", .array([.array([.array([.array([.array([])])])])])),
        // RESP3 scalars
        ValidReply("_ null", "_\r\n", .null),
        ValidReply("#t", "#t\r\n", .boolean(true)),
        ValidReply("#f", "#f\r\n", .boolean(false)),
        ValidReply(",1.23", ",1.23\r\n", .double(1.23)),
        ValidReply(",-0.5", ",-0.5\r\n", .double(-0.5)),
        ValidReply(",10", ",10\r\n", .double(10)),
        ValidReply(",1.5e3", ",1.5e3\r\n", .double(1500)),
        ValidReply(",inf", ",inf\r\n", .double(.infinity)),
        ValidReply(",-inf", ",-inf\r\n", .double(-.infinity)),
        ValidReply(",nan (RESPReply's == treats NaN as equal to NaN)", ",nan\r\n", .double(.nan)),
        ValidReply(
            "big number",
            "(3492890328409238509324850943850943825024385\r\n",
            .bigNumber("3492890328409238509324850943850943825024385")
        ),
        ValidReply(
            "negative big number",
            "(-3492890328409238509324850943850943825024385\r\n",
            .bigNumber("-3492890328409238509324850943850943825024385")
        ),
        // RESP3 blobs: length-prefixed, CRLF allowed inside
        ValidReply("blob error", "!21\r\nSYNTAX invalid syntax\r\n", .error("SYNTAX invalid syntax")),
        ValidReply("blob error with CRLF inside", "!8\r\nERR a\r\nb\r\n", .error("ERR a\r\nb")),
        ValidReply("verbatim string", "=15\r\ntxt:Some string\r\n", .verbatimString(format: "txt", text: "Some string")),
        ValidReply("empty verbatim string", "=4\r\nmkd:\r\n", .verbatimString(format: "mkd", text: "")),
        ValidReply("verbatim string with CRLF inside", "=8\r\ntxt:a\r\nb\r\n", .verbatimString(format: "txt", text: "a\r\nb")),
        // RESP3 aggregates
        ValidReply(
            "map",
            "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#t\r\n",
            .map([(.simpleString("first"), .integer(1)), (.bulkString(Array("second".utf8)), .boolean(true))])
        ),
        ValidReply("empty map", "%0\r\n", .map([])),
        ValidReply("set", "~3\r\n+orange\r\n+apple\r\n#t\r\n", .array([.simpleString("orange"), .simpleString("apple"), .boolean(true)])),
        ValidReply("empty set", "~0\r\n", .array([])),
        ValidReply(
            "push",
            ">3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$5\r\nhello\r\n",
            .push([.bulkString(Array("message".utf8)), .bulkString(Array("channel".utf8)), .bulkString(Array("hello".utf8))])
        ),
        ValidReply(
            "map of aggregates",
            "%1\r\n*2\r\n:1\r\n:2\r\n%1\r\n+k\r\n~1\r\n,2.5\r\n",
            .map([(.array([.integer(1), .integer(2)]), .map([(.simpleString("k"), .array([.double(2.5)]))]))])
        ),
        // Attributes are skipped: the annotated reply is what is returned
        ValidReply(
            "attribute before a reply is skipped",
            "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
            .array([.integer(2_039_123), .integer(9_543_892)])
        ),
        ValidReply(
            "attribute inside an aggregate is not an element",
            "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n",
            .array([.integer(1), .integer(2)])
        ),
        ValidReply("empty attribute, then two in a row", "|0\r\n|1\r\n+a\r\n+b\r\n+OK\r\n", .simpleString("OK")),
    ]

    @Test("every RESP2/RESP3 type parses to its value", arguments: RESPParserTypeTests.validReplies)
    func parsesOneReply(_ row: ValidReply) throws {
        #expect(try parseOne(row.bytes) == row.expected)
    }

    @Test("reply accessors: serverError splits kind and message; string, int and array views")
    func replyAccessors() throws {
        #expect(try parseOne("-WRONGTYPE Operation against a key\r\n").serverError == .server(kind: "WRONGTYPE", message: "Operation against a key"))
        #expect(try parseOne("!21\r\nSYNTAX invalid syntax\r\n").serverError == .server(kind: "SYNTAX", message: "invalid syntax"))
        let number = try parseOne("$3\r\n123\r\n")
        #expect(number.string == "123" && number.int == 123)
        #expect(try parseOne("=15\r\ntxt:Some string\r\n").string == "Some string")
        #expect(try parseOne("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n").array?.count == 2)
    }
}

// MARK: - Incremental parsing

@Suite("RESP parser: incremental")
struct RESPParserIncrementalTests {
    /// Streams of several values, with the byte offset at which each value ends.
    static func streams() -> [(name: String, bytes: [UInt8], values: [RESPReply], ends: [Int])] {
        var result: [(String, [UInt8], [RESPReply], [Int])] = []
        func add(_ name: String, _ pieces: [(String, RESPReply)]) {
            var bytes: [UInt8] = []
            var ends: [Int] = []
            for (text, _) in pieces {
                bytes += Array(text.utf8)
                ends.append(bytes.count)
            }
            result.append((name, bytes, pieces.map(\.1), ends))
        }
        add(
            "RESP2 mix",
            [
                ("+OK\r\n", .simpleString("OK")),
                (":42\r\n", .integer(42)),
                ("$5\r\nhello\r\n", .bulkString(Array("hello".utf8))),
                ("$-1\r\n", .null),
                ("*2\r\n:1\r\n$4\r\na\r\nb\r\n", .array([.integer(1), .bulkString(Array("a\r\nb".utf8))])),
                ("-ERR bad\r\n", .error("ERR bad")),
                ("$0\r\n\r\n", .bulkString([])),
                ("*-1\r\n", .null),
                ("*0\r\n", .array([])),
            ]
        )
        add(
            "RESP3 mix",
            [
                (
                    "%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n#t\r\n#f\r\n",
                    .map([(.simpleString("a"), .integer(1)), (.simpleString("b"), .array([.boolean(true), .boolean(false)]))])
                ),
                ("~2\r\n:1\r\n:2\r\n", .array([.integer(1), .integer(2)])),
                (">2\r\n+pubsub\r\n$2\r\nhi\r\n", .push([.simpleString("pubsub"), .bulkString(Array("hi".utf8))])),
                (",inf\r\n", .double(.infinity)),
                (",-inf\r\n", .double(-.infinity)),
                (",nan\r\n", .double(.nan)),
                (",3.25\r\n", .double(3.25)),
                ("(12345678901234567890\r\n", .bigNumber("12345678901234567890")),
                ("=8\r\ntxt:a\r\nb\r\n", .verbatimString(format: "txt", text: "a\r\nb")),
                ("!5\r\nERR x\r\n", .error("ERR x")),
                ("_\r\n", .null),
                ("|1\r\n+ttl\r\n:10\r\n*1\r\n:5\r\n", .array([.integer(5)])),
            ]
        )
        add(
            "nested and binary",
            [
                (
                    "*2\r\n*2\r\n*1\r\n$2\r\n\r\n\r\n*0\r\n%1\r\n$1\r\nk\r\n*1\r\n$-1\r\n",
                    .array([.array([.array([.bulkString([0x0D, 0x0A])]), .array([])]), .map([(.bulkString([0x6B]), .array([.null]))])])
                ),
                ("$3\r\n\r\n$\r\n", .bulkString([0x0D, 0x0A, 0x24])),
                ("*1\r\n*1\r\n*1\r\n*1\r\n:-1\r\n", .array([.array([.array([.array([.integer(-1)])])])])),
            ]
        )
        // Random multi-value streams from the generator, with varied encodings.
        var rng = SplitMix64(seed: 0x5EED_1234)
        for index in 0..<25 {
            var encoder = TestRESPEncoder(variants: rng.next())
            var bytes: [UInt8] = []
            var values: [RESPReply] = []
            var ends: [Int] = []
            for _ in 0..<(2 + rng.below(4)) {
                let value = RandomRESP.value(&rng, maxDepth: 3)
                encoder.encode(value, into: &bytes)
                values.append(value)
                ends.append(bytes.count)
            }
            result.append(("random stream \(index)", bytes, values, ends))
        }
        return result
    }

    @Test("split at every byte boundary: same values, each returned as soon as its last byte arrives")
    func everySplit() throws {
        for stream in Self.streams() {
            for split in 0...stream.bytes.count {
                var parser = RESPParser()
                var buffer = ByteBuffer(bytes: stream.bytes[0..<split])
                var values = try drain(&parser, &buffer)
                let completeBeforeSplit = stream.ends.filter { $0 <= split }.count
                #expect(values.count == completeBeforeSplit, "\(stream.name) split at \(split)")
                buffer.writeBytes(stream.bytes[split...])
                values += try drain(&parser, &buffer)
                #expect(values == stream.values, "\(stream.name) split at \(split)")
                #expect(buffer.readableBytes == 0, "\(stream.name) split at \(split)")
            }
        }
    }
}

// MARK: - Limits and malformed input

/// Bytes the parser must reject at once, with the kind of malformation they show.
struct MalformedReply: Sendable, CustomTestStringConvertible {
    let kind: String
    let bytes: [UInt8]

    init(_ kind: String, _ text: String) { self.init(kind, bytes: Array(text.utf8)) }

    init(_ kind: String, bytes: [UInt8]) {
        self.kind = kind
        self.bytes = bytes
    }

    var testDescription: String { "\(kind): \(String(decoding: bytes, as: UTF8.self).debugDescription)" }
}

@Suite("RESP parser: limits and malformed input")
struct RESPParserLimitTests {
    @Test("a bulk string longer than maxBulkLength is rejected from its header, before the bytes arrive")
    func bulkLength() throws {
        let limits = RESPParser.Limits(maxBulkLength: 10)
        #expect(try parseOne("$10\r\n0123456789\r\n", limits: limits) == .bulkString(Array("0123456789".utf8)))
        expectViolation("$11\r\n", limits: limits)
        expectViolation("$11\r\n01234567890\r\n", limits: limits)
        expectViolation("!11\r\n", limits: limits)
        expectViolation("=11\r\n", limits: limits)
        expectViolation("*1\r\n$9999999999\r\n", limits: limits)
        // The default limit is 64 MiB.
        expectViolation("$\(64 * 1024 * 1024 + 1)\r\n")
        var buffer = ByteBuffer(string: "$\(64 * 1024 * 1024)\r\n")
        var parser = RESPParser()
        #expect(try parser.parse(&buffer) == nil)
    }

    @Test("an aggregate with more than maxAggregateCount elements is rejected from its header")
    func aggregateCount() throws {
        let limits = RESPParser.Limits(maxAggregateCount: 3)
        #expect(try parseOne("*3\r\n:1\r\n:2\r\n:3\r\n", limits: limits) == .array([.integer(1), .integer(2), .integer(3)]))
        for type in ["*", "~", ">", "%", "|"] {
            expectViolation("\(type)4\r\n", limits: limits, "type \(type)")
        }
        expectViolation("*1\r\n*4\r\n", limits: limits)
        expectViolation("*\(1_048_577)\r\n")
        expectViolation("*9223372036854775807\r\n")
    }

    @Test("nesting deeper than maxDepth is rejected")
    func depth() throws {
        let limits = RESPParser.Limits(maxDepth: 3)
        let fits = String(repeating: "*1\r\n", count: 3) + ":1\r\n"
        #expect(try parseOne(fits, limits: limits) == .array([.array([.array([.integer(1)])])]))
        expectViolation(String(repeating: "*1\r\n", count: 4) + ":1\r\n", limits: limits)
        expectViolation(String(repeating: "%1\r\n+k\r\n", count: 4) + ":1\r\n", limits: limits)
        // Rejected as soon as the depth is exceeded, even with the rest still to come.
        expectViolation(String(repeating: "*1\r\n", count: 4), limits: limits)
        // The default depth (32) stops a 10,000-deep nesting without exhausting the stack.
        expectViolation(String(repeating: "*1\r\n", count: 10_000) + ":1\r\n")
    }

    @Test("a header line longer than maxLineLength without CRLF throws instead of waiting forever")
    func unterminatedLongLine() throws {
        let limits = RESPParser.Limits(maxLineLength: 16)
        for type in ["+", "-", ":", "$", "*", ",", "(", "%", "#"] {
            expectViolation(type + String(repeating: "1", count: 100), limits: limits, "type \(type)")
        }
        // With the default limit (64 KiB) too.
        expectViolation("+" + String(repeating: "a", count: 70_000))
        // A short unterminated line is just incomplete.
        var buffer = ByteBuffer(string: "+" + String(repeating: "a", count: 10))
        var parser = RESPParser(limits: limits)
        #expect(try parser.parse(&buffer) == nil)
    }

    @Test("the line limit is exact: maxLineLength bytes pass, one more is rejected")
    func lineLengthBoundary() throws {
        let limits = RESPParser.Limits(maxLineLength: 16)
        let atLimit = String(repeating: "a", count: 16)
        #expect(try parseOne("+\(atLimit)\r\n", limits: limits) == .simpleString(atLimit))
        // Regression test: RESPParser.readLine once searched for the CR in the first
        // maxLineLength + 2 bytes, so a line of maxLineLength + 1 bytes was accepted; it now
        // searches only prefix(maxLineLength + 1).
        expectViolation("+\(atLimit)a\r\n", limits: limits, "a 17-byte line passed a 16-byte limit")
    }

    static let negativeLengths: [MalformedReply] = [
        "$-2\r\n", "*-2\r\n", "$-100\r\n", "*-9223372036854775808\r\n", "%-1\r\n", "~-1\r\n", ">-1\r\n", "|-1\r\n", "!-1\r\n", "=-1\r\n", "%-2\r\n",
    ].map { MalformedReply("negative length other than -1 for $ and *", $0) }
    static let nonNumeric: [MalformedReply] = [
        "$abc\r\n", "$\r\n", "$ 3\r\n", "$3 \r\n", "$0x10\r\n", "$1.5\r\n", "*x\r\n", "*\r\n", "%one\r\n", "~-\r\n",
        ":\r\n", ":12a\r\n", ":1.0\r\n", ":9223372036854775808\r\n", ":-9223372036854775809\r\n", ":--1\r\n",
        "$99999999999999999999999\r\n",
    ].map { MalformedReply("non-numeric, empty or overflowing number", $0) }
    static let missingCRLFAfterBulk: [MalformedReply] = [
        "$3\r\nabcXY", "$3\r\nabc\rX", "$3\r\nabc\n\r", "$0\r\nXX", "!3\r\nERRXY", "=5\r\ntxt:aXY", "*2\r\n$1\r\naXY:1\r\n",
    ].map { MalformedReply("bulk payload not followed by CRLF", $0) }
    static let bareCR: [MalformedReply] = ["+OK\rX", ":1\r:2\r\n", "*1\rX\n"].map { MalformedReply("CR not followed by LF in a header", $0) }
    static let unknownType: [MalformedReply] =
        ["?foo\r\n", "X\r\n", "@1\r\n", "HTTP/1.1 400 Bad Request\r\n", "0\r\n", " +OK\r\n", "\r\n\r\n"].map {
            MalformedReply("unknown type byte", $0)
        }
        + [MalformedReply("unknown type byte", bytes: [0x00, 0x0D, 0x0A]), MalformedReply("unknown type byte", bytes: [0xFF, 0x0D, 0x0A])]
    static let malformedRESP3: [MalformedReply] = [
        "#x\r\n", "#\r\n", "#tt\r\n", "#T\r\n", "_x\r\n", "_ \r\n", ",abc\r\n", ",\r\n", ",1.2.3\r\n", "(\r\n", "(12a\r\n", "(1-2\r\n", "( 1\r\n",
        "=3\r\ntxt\r\n", "=4\r\ntxt-\r\n", "=0\r\n\r\n",
    ].map { MalformedReply("malformed RESP3 scalar", $0) }
    /// Regression row: the `(` case once accepted a lone "-" and parsed "(-" as .bigNumber("-").
    static let bigNumberSignOnly = [MalformedReply("big number that is only a minus sign (regression)", "(-\r\n")]
    static let malformed: [MalformedReply] =
        negativeLengths + nonNumeric + missingCRLFAfterBulk + bareCR + unknownType + malformedRESP3 + bigNumberSignOnly

    @Test("malformed input is rejected at once with protocolViolation", arguments: RESPParserLimitTests.malformed)
    func rejectsMalformed(_ row: MalformedReply) {
        expectViolation(row.bytes)
    }

    @Test("a long chain of attributes does not overflow the stack", .timeLimit(.minutes(1)))
    func attributeChain() async {
        // Regression test: the parser once parsed the reply after an attribute at the same
        // depth, so maxDepth did not bound a chain of attributes and each one cost a stack
        // frame; a few MB of "|0\r\n" from a server (or anything in between) crashed the client
        // process. Each attribute now counts as a level of nesting (a frame on the stack of
        // RESPParser.resume, `|`), and the parser no longer recurses.
        // Run in a child process so a crash fails this test instead of the whole run.
        await #expect(processExitsWith: .success, "a chain of 1,000,000 empty attributes crashed the parser") {
            await Task.yield()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(4_000_010)
            for _ in 0..<1_000_000 { bytes += [UInt8(ascii: "|"), UInt8(ascii: "0"), 0x0D, 0x0A] }
            bytes += Array("+OK\r\n".utf8)
            var buffer = ByteBuffer(bytes: bytes)
            var parser = RESPParser()
            do {
                let value = try parser.parse(&buffer)
                precondition(value == .simpleString("OK") || value == nil)
            } catch {
                // Rejecting it as a protocol violation is fine too.
                guard (error as? RESPClientError)?.code == .protocolViolation else { fatalError("\(error)") }
            }
        }
    }
}

// MARK: - Fuzzing and round trips

@Suite("RESP parser: fuzz and round trip")
struct RESPParserFuzzTests {
    static let alphabet: [UInt8] = Array("+-:$*_#,(!=%~>|0123456789-1tfnainf\r\n\r\n\r\nab".utf8) + [0x00, 0xFF]

    /// One fuzz input: random bytes (biased towards RESP syntax) or a mutated valid encoding.
    static func input(_ rng: inout SplitMix64) -> [UInt8] {
        if rng.oneIn(4) {
            return (0..<rng.below(64)).map { _ in rng.oneIn(5) ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[rng.below(alphabet.count)] }
        }
        var encoder = TestRESPEncoder(variants: rng.next())
        var bytes: [UInt8] = []
        for _ in 0..<(1 + rng.below(3)) { encoder.encode(RandomRESP.value(&rng, maxDepth: 4), into: &bytes) }
        for _ in 0..<(1 + rng.below(3)) {
            guard !bytes.isEmpty else { break }
            let position = rng.below(bytes.count)
            switch rng.below(7) {
            case 0: bytes[position] ^= UInt8(1) << UInt8(rng.below(8))  // flip a bit
            case 1: bytes[position] = alphabet[rng.below(alphabet.count)]  // replace a byte
            case 2: bytes.removeSubrange(position...)  // truncate
            case 3: bytes.insert(alphabet[rng.below(alphabet.count)], at: position)  // insert
            case 4: bytes.remove(at: position)  // delete
            case 5:  // duplicate a slice
                let end = min(bytes.count, position + 1 + rng.below(16))
                bytes.insert(contentsOf: bytes[position..<end], at: rng.below(bytes.count))
            default:  // put a huge or negative number where a digit was
                if let digit = bytes.indices.first(where: { $0 >= position && (0x30...0x39).contains(bytes[$0]) }) {
                    bytes.replaceSubrange(digit...digit, with: Array(["99999999999", "-7", "-1", "0", "4294967296"][rng.below(5)].utf8))
                }
            }
        }
        return bytes
    }

    enum Outcome: Equatable {
        case incomplete
        case failed
    }

    /// Parses until nil or a throw with a fresh copy of `parser`, checking the parser's
    /// invariants on every call.
    static func parseAll(_ bytes: [UInt8], parser: RESPParser, label: String) -> (values: [RESPReply], end: Outcome)? {
        var parser = parser
        var buffer = ByteBuffer(bytes: bytes)
        let writerIndex = buffer.writerIndex
        var values: [RESPReply] = []
        // Each value takes at least 3 bytes, so more iterations than bytes means a loop.
        for _ in 0...bytes.count {
            let before = buffer.readerIndex
            do {
                guard let value = try parser.parse(&buffer) else {
                    // A nil may consume the elements parsed so far, never more than it was given,
                    // and is final until more bytes arrive.
                    let afterNil = buffer.readerIndex
                    guard afterNil >= before, afterNil <= writerIndex, buffer.writerIndex == writerIndex,
                        try parser.parse(&buffer) == nil, buffer.readerIndex == afterNil
                    else {
                        Issue.record("\(label): nil, but the buffer moved back or past its end, or a second call moved it")
                        return nil
                    }
                    return (values, .incomplete)
                }
                guard buffer.readerIndex > before, buffer.readerIndex <= writerIndex, buffer.writerIndex == writerIndex else {
                    Issue.record(
                        "\(label): a value consumed \(buffer.readerIndex - before) bytes; reader \(buffer.readerIndex), writer \(writerIndex)"
                    )
                    return nil
                }
                values.append(value)
            } catch {
                guard error.code == .protocolViolation else {
                    Issue.record("\(label): threw \(error), not a protocol violation")
                    return nil
                }
                return (values, .failed)
            }
        }
        Issue.record("\(label): more parse calls than bytes without reaching the end")
        return nil
    }

    @Test("20,000 random and mutated inputs: no crash, no endless loop, no over-consumption")
    func fuzz() {
        var rng = SplitMix64(seed: 0xF00D_CAFE_2024)
        let parsers = [
            RESPParser(),
            RESPParser(limits: .init(maxLineLength: 24, maxBulkLength: 64, maxAggregateCount: 8, maxDepth: 3)),
        ]
        var failures = 0
        var outcomes: [Outcome: Int] = [:]
        for index in 0..<20_000 {
            let bytes = Self.input(&rng)
            let parser = parsers[index % 2]
            guard let whole = Self.parseAll(bytes, parser: parser, label: "input \(index)") else {
                failures += 1
                if failures > 10 { return }
                continue
            }
            outcomes[whole.end, default: 0] += 1
            // The outcome must not depend on how the bytes arrive: feed every 10th input one
            // byte at a time and compare.
            if index % 10 == 0 {
                var parser = parser
                var buffer = ByteBuffer()
                var values: [RESPReply] = []
                var end = Outcome.incomplete
                feeding: for byte in bytes {
                    buffer.writeInteger(byte)
                    while true {
                        do {
                            guard let value = try parser.parse(&buffer) else { break }
                            values.append(value)
                        } catch {
                            end = .failed
                            break feeding
                        }
                    }
                }
                #expect(
                    values == whole.values && end == whole.end,
                    "input \(index) \(bytes): streamed \(values) \(end), whole \(whole.values) \(whole.end)"
                )
            }
        }
        // The generator must reach both outcomes often, or the fuzzing is not testing much.
        #expect(outcomes[.failed, default: 0] > 2000)
        #expect(outcomes[.incomplete, default: 0] > 2000)
    }

    @Test("random value trees (depth ≤ 5) encoded by a test-local encoder parse back equal")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 42)
        for index in 0..<3000 {
            let value = RandomRESP.value(&rng)
            // Canonical encoding, and one with random equivalent encodings and attributes.
            for seed in [nil, rng.next()] as [UInt64?] {
                var encoder = TestRESPEncoder(variants: seed)
                var buffer = ByteBuffer(bytes: encoder.encode(value))
                var parser = RESPParser()
                let parsed = try parser.parse(&buffer)
                guard parsed == value, buffer.readableBytes == 0 else {
                    Issue.record(
                        "tree \(index) (variants \(String(describing: seed))): \(value) came back as \(String(describing: parsed)), \(buffer.readableBytes) bytes left"
                    )
                    return
                }
            }
        }
    }
}

// MARK: - Resuming

/// Bytes holding one or more complete replies, and the replies they parse to.
struct ReplyStream: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: [RESPReply]

    init(_ name: String, _ text: String, _ expected: [RESPReply]) {
        self.name = name
        self.bytes = Array(text.utf8)
        self.expected = expected
    }

    var testDescription: String { name }
}

/// A large reply, for counting the parser's work.
struct LargeReply: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: RESPReply

    var testDescription: String { name }
}

@Suite("RESP parser: resuming")
struct RESPParserResumeTests {
    /// Every leaf in these streams is shorter than this, so after a `nil` no more bytes than
    /// this may be left in the buffer: the elements already parsed are consumed.
    static let longestLeaf = 24

    static let streams: [ReplyStream] = [
        ReplyStream(
            "nested map of arrays, sets and maps",
            "%2\r\n+a\r\n*2\r\n:1\r\n~1\r\n#t\r\n$3\r\nkey\r\n%1\r\n,nan\r\n_\r\n",
            [
                .map([
                    (.simpleString("a"), .array([.integer(1), .array([.boolean(true)])])),
                    (.bulkString(Array("key".utf8)), .map([(.double(.nan), .null)])),
                ])
            ]
        ),
        ReplyStream(
            "attributes at the top and inside an array",
            "|1\r\n+ttl\r\n:10\r\n*3\r\n:1\r\n|1\r\n+k\r\n*1\r\n:2\r\n$5\r\nhello\r\n|0\r\n(123\r\n",
            [.array([.integer(1), .bulkString(Array("hello".utf8)), .bigNumber("123")])]
        ),
        ReplyStream(
            "a push between replies",
            "+OK\r\n>3\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n$-1\r\n:7\r\n",
            [
                .simpleString("OK"),
                .push([.bulkString(Array("invalidate".utf8)), .array([.bulkString(Array("key".utf8))]), .null]),
                .integer(7),
            ]
        ),
        ReplyStream(
            "null forms and blobs with CRLF inside",
            "*5\r\n$-1\r\n*-1\r\n_\r\n=8\r\ntxt:a\r\nb\r\n!5\r\nERR x\r\n",
            [.array([.null, .null, .null, .verbatimString(format: "txt", text: "a\r\nb"), .error("ERR x")])]
        ),
        ReplyStream(
            "every aggregate nested, an attribute innermost, and empty aggregates",
            "*2\r\n%1\r\n>1\r\n~1\r\n|1\r\n:1\r\n:2\r\n*0\r\n:3\r\n%0\r\n*0\r\n",
            [.array([.map([(.push([.array([.array([])])]), .integer(3))]), .map([])]), .array([])]
        ),
        ReplyStream(
            "RESP2 pipeline with errors",
            "-ERR one\r\n*2\r\n$1\r\na\r\n-ERR two\r\n$0\r\n\r\n",
            [.error("ERR one"), .array([.bulkString([0x61]), .error("ERR two")]), .bulkString([])]
        ),
    ]

    /// Feeds `bytes` in `pieces`, draining after each, to one parser; checks after every `nil`
    /// that only part of one leaf was left in the buffer.
    static func feed(_ bytes: [UInt8], in pieces: [Range<Int>], label: String) throws -> [RESPReply] {
        var parser = RESPParser()
        var buffer = ByteBuffer()
        var values: [RESPReply] = []
        for piece in pieces {
            buffer.writeBytes(bytes[piece])
            values += try drain(&parser, &buffer)
            #expect(buffer.readableBytes < longestLeaf, "\(label): \(buffer.readableBytes) bytes left after nil; parsed elements not consumed")
        }
        #expect(buffer.readableBytes == 0, "\(label): bytes left over")
        return values
    }

    @Test("every split point and every chunk size 1...n give the one-shot replies", arguments: RESPParserResumeTests.streams)
    func chunkedEqualsOneShot(_ row: ReplyStream) throws {
        var parser = RESPParser()
        var whole = ByteBuffer(bytes: row.bytes)
        let oneShot = try drain(&parser, &whole)
        #expect(oneShot == row.expected)
        let count = row.bytes.count
        for split in 0...count {
            let values = try Self.feed(row.bytes, in: [0..<split, split..<count], label: "split at \(split)")
            #expect(values == oneShot, "split at \(split)")
        }
        for size in 1...count {
            let pieces = stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
            let values = try Self.feed(row.bytes, in: pieces, label: "chunks of \(size)")
            #expect(values == oneShot, "chunks of \(size)")
        }
    }

    @Test("after a throw the parser drops the partial reply and parses the next bytes afresh")
    func resetsAfterThrow() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "*3\r\n:1\r\n")
        #expect(try parser.parse(&buffer) == nil)
        #expect(buffer.readableBytes == 0, "the header and the first element are consumed")
        buffer.writeString("?bad\r\n")
        #expect(throws: RESPClientError.self) { try parser.parse(&buffer) }
        #expect(buffer.readableBytes == 6, "the malformed element is not consumed")
        var next = ByteBuffer(string: "+OK\r\n")
        #expect(try parser.parse(&next) == .simpleString("OK"))
    }

    static let largeReplies: [LargeReply] = {
        let hello = RESPReply.bulkString(Array("hello".utf8))
        let array = LargeReply(
            name: "a 5,000-element array of $5 hello",
            bytes: Array("*5000\r\n".utf8) + Array(String(repeating: "$5\r\nhello\r\n", count: 5000).utf8),
            expected: .array(Array(repeating: hello, count: 5000))
        )
        var hash = Array("%5000\r\n".utf8)
        var pairs: [(RESPReply, RESPReply)] = []
        for index in 0..<5000 {
            let field = "f" + String(repeating: "0", count: 4 - String(index).count) + String(index)
            hash += Array("$5\r\n\(field)\r\n:\(index)\r\n".utf8)
            pairs.append((.bulkString(Array(field.utf8)), .integer(Int64(index))))
        }
        let map = LargeReply(name: "an HGETALL of 5,000 fields (RESP3 map)", bytes: hash, expected: .map(pairs))
        let text = String(repeating: "a", count: 60_000)
        let line = LargeReply(name: "a 60,000-byte simple string", bytes: Array("+\(text)\r\n".utf8), expected: .simpleString(text))
        let payload = [UInt8](repeating: 0x62, count: 100_000)
        let bulk = LargeReply(
            name: "a 100,000-byte bulk string",
            bytes: Array("$100000\r\n".utf8) + payload + [0x0D, 0x0A],
            expected: .bulkString(payload)
        )
        return [array, map, line, bulk]
    }()

    @Test("a large reply fed in 64-byte reads is examined once: fewer than 2x its bytes", arguments: RESPParserResumeTests.largeReplies)
    func linearWork(_ row: LargeReply) throws {
        // Regression test: the parser once re-parsed the reply from its first byte on every
        // read, so a reply of n bytes arriving in reads of 64 cost about n² / 128 bytes of work
        // on the event loop (23.7 million bytes examined for the 5,000-element array).
        var parser = RESPParser()
        var buffer = ByteBuffer()
        var replies: [RESPReply] = []
        for start in stride(from: 0, to: row.bytes.count, by: 64) {
            buffer.writeBytes(row.bytes[start..<min(start + 64, row.bytes.count)])
            // As RESPReplyDecoder is called by ByteToMessageHandler: until nil.
            while let reply = try parser.parse(&buffer) { replies.append(reply) }
        }
        #expect(replies == [row.expected])
        #expect(parser.bytesExamined >= row.bytes.count, "the counter must see every byte at least once")
        #expect(
            parser.bytesExamined < 2 * row.bytes.count,
            "examined \(parser.bytesExamined) bytes for a reply of \(row.bytes.count)"
        )
    }
}
