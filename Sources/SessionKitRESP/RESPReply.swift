/// One reply from a Redis or Valkey server, in RESP2 or RESP3.
///
/// RESP3-only types (maps, sets, doubles, booleans, big numbers, verbatim strings) are kept
/// as their own cases; RESP2 servers never send them. Error replies are values too: a
/// pipeline of ten commands gets ten replies, and one failed command does not hide the rest.
public enum RESPReply: Sendable, Equatable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR …` or `!<len>` (blob error): the server's error text, kind first.
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$<len>` bulk string (binary-safe).
    case bulkString([UInt8])
    /// `$-1`, `*-1` or `_`: no value.
    case null
    /// `*<n>` array (also RESP3 `~` set).
    case array([RESPReply])
    /// RESP3 `>` push: an out-of-band message (client tracking, pub/sub), never a reply.
    case push([RESPReply])
    /// RESP3 `%` map, in server order.
    case map([(RESPReply, RESPReply)])
    /// RESP3 `,` double.
    case double(Double)
    /// RESP3 `#t` / `#f`.
    case boolean(Bool)
    /// RESP3 `(` big number, as its decimal text.
    case bigNumber(String)
    /// RESP3 `=` verbatim string: format (e.g. `txt`) and text.
    case verbatimString(format: String, text: String)

    /// The value as text, for bulk, simple and verbatim strings.
    public var string: String? {
        switch self {
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .simpleString(let text): return text
        case .verbatimString(_, let text): return text
        default: return nil
        }
    }

    /// The value as an integer, for integers and numeric strings.
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulkString, .simpleString: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array, set or push.
    public var array: [RESPReply]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// The typed server error, if this reply is one.
    public var serverError: RESPClientError? {
        if case .error(let text) = self { return RESPClientError(serverReply: text) }
        return nil
    }

    /// Structural equality; maps compare pairwise in order, and NaN equals NaN.
    public static func == (lhs: RESPReply, rhs: RESPReply) -> Bool {
        switch (lhs, rhs) {
        case (.simpleString(let a), .simpleString(let b)): return a == b
        case (.error(let a), .error(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.bulkString(let a), .bulkString(let b)): return a == b
        case (.null, .null): return true
        case (.array(let a), .array(let b)): return a == b
        case (.push(let a), .push(let b)): return a == b
        case (.map(let a), .map(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.bigNumber(let a), .bigNumber(let b)): return a == b
        case (.verbatimString(let f1, let t1), .verbatimString(let f2, let t2)): return f1 == f2 && t1 == t2
        default: return false
        }
    }
}
