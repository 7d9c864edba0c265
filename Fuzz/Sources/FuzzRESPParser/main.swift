import FuzzDriver
import Foundation
import NIOCore
import SessionKitRESP

/// Fuzzes the RESP2/RESP3 reply parser with tight limits: any byte stream must parse into
/// replies, stop for more data, or fail with `protocolViolation`, never crash, never loop,
/// never consume bytes it was not given. And the parser must resume: the input parsed in one
/// piece and fed in small chunks (sizes derived from the first byte) gives the same replies,
/// the same end (more data needed, or a violation) and consumes the same bytes.
let limits = RESPParser.Limits(maxLineLength: 256, maxBulkLength: 4096, maxAggregateCount: 512, maxDepth: 8)

/// How parsing the whole input ended.
enum End: Equatable {
    case needsMoreBytes
    case violation
}

/// Parses what `buffer` holds until the parser needs more bytes or throws, checking the
/// consumption contract on every call; appends the replies to `replies`.
func drain(_ parser: inout RESPParser, _ buffer: inout ByteBuffer, into replies: inout [RESPReply], size: Int) -> End {
    let writerIndex = buffer.writerIndex
    while true {
        let before = buffer.readerIndex
        do {
            guard let reply = try parser.parse(&buffer) else {
                // A nil may consume the elements parsed so far, never more than it was given.
                precondition(buffer.readerIndex >= before && buffer.readerIndex <= writerIndex, "an incomplete reply moved the reader index badly")
                precondition(buffer.writerIndex == writerIndex, "the parser wrote to the buffer")
                // What stays in the buffer is part of one leaf: a header line, or a blob's
                // header and payload.
                let left = buffer.readableBytes
                if let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                    [UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "=")].contains(type)
                {
                    precondition(
                        left <= max(1 + limits.maxLineLength + 2, 1 + 20 + 2 + limits.maxBulkLength + 2),
                        "\(left) bytes held back for a blob"
                    )
                } else {
                    precondition(left <= 1 + limits.maxLineLength + 2, "\(left) bytes held back for a line")
                }
                // A nil is final until more bytes arrive.
                let afterNil = buffer.readerIndex
                let again = try parser.parse(&buffer)
                precondition(again == nil && buffer.readerIndex == afterNil, "a second call without new bytes made progress")
                return .needsMoreBytes
            }
            precondition(buffer.readerIndex > before, "a reply consumed no bytes")
            precondition(buffer.readerIndex <= writerIndex && buffer.writerIndex == writerIndex, "a reply over-consumed")
            replies.append(reply)
            precondition(replies.count <= size, "more replies than bytes")
        } catch {
            guard error.code == .protocolViolation else { preconditionFailure("unexpected error \(error)") }
            return .violation
        }
    }
}

/// One libFuzzer input: parses it in one piece and in chunks, and compares.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)

    // One shot.
    var parser = RESPParser(limits: limits)
    var whole = ByteBufferAllocator().buffer(capacity: size)
    whole.writeBytes(bytes)
    var wholeReplies: [RESPReply] = []
    let wholeEnd = drain(&parser, &whole, into: &wholeReplies, size: size)
    let wholeConsumed = size - whole.readableBytes

    // In chunks of 1...16 bytes, from a small generator seeded by the first byte.
    var chunked = RESPParser(limits: limits)
    var buffer = ByteBufferAllocator().buffer(capacity: 64)
    var chunkedReplies: [RESPReply] = []
    var chunkedEnd = End.needsMoreBytes
    var written = 0
    var state = UInt32(bytes.first ?? 0) &* 2_654_435_761 &+ 1
    while written < size {
        state = state &* 1_103_515_245 &+ 12_345
        let chunk = min(size - written, 1 + Int((state >> 16) % 16))
        buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[written..<(written + chunk)])))
        written += chunk
        chunkedEnd = drain(&chunked, &buffer, into: &chunkedReplies, size: size)
        if chunkedEnd == .violation { break }
    }
    let chunkedConsumed = written - buffer.readableBytes

    // RESPReply's == treats NaN as equal to NaN, so `.double(.nan)` replies compare equal.
    precondition(chunkedReplies == wholeReplies, "chunked replies \(chunkedReplies) differ from one-shot \(wholeReplies)")
    precondition(chunkedEnd == wholeEnd, "chunked parsing ended \(chunkedEnd), one-shot \(wholeEnd)")
    precondition(chunkedConsumed == wholeConsumed, "chunked parsing consumed \(chunkedConsumed) bytes, one-shot \(wholeConsumed)")

    // After a violation the parser starts afresh.
    if wholeEnd == .violation {
        var next = ByteBuffer(string: "+OK\r\n")
        precondition((try? parser.parse(&next)) == .some(.simpleString("OK")), "the parser kept state after a violation")
    }
    return 0
}

runLibFuzzer { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
}
