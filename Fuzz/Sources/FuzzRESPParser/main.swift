import FuzzDriver
import Foundation
import NIOCore
import SessionKitRESP

/// Fuzzes the RESP2/RESP3 reply parser with tight limits: any byte stream must parse into
/// replies, stop for more data, or fail with `protocolViolation` — never crash, never loop,
/// never consume bytes it was not given. Every prefix of the input must also behave.
let parser = RESPParser(limits: .init(maxLineLength: 256, maxBulkLength: 4096, maxAggregateCount: 512, maxDepth: 8))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var buffer = ByteBufferAllocator().buffer(capacity: size)
    buffer.writeBytes(bytes)
    var replies = 0
    while buffer.readableBytes > 0 {
        let before = buffer.readerIndex
        do {
            guard try parser.parse(&buffer) != nil else {
                precondition(buffer.readerIndex == before, "an incomplete reply consumed bytes")
                break
            }
        } catch {
            guard error.code == .protocolViolation else { preconditionFailure("unexpected error \(error)") }
            break
        }
        precondition(buffer.readerIndex > before, "a reply consumed no bytes")
        replies += 1
        precondition(replies <= size, "more replies than bytes")
    }
    return 0
}

runLibFuzzer { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
}
