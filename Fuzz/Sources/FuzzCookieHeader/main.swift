import FuzzDriver
import Foundation
import HTTPTypes
import SessionKitTesting
@testable import SessionKit

/// Fuzzes the Cookie header parser and token validation through the engine's public entry
/// point: any bytes in any number of Cookie fields must never crash, and a request that reads
/// its session costs at most one store call, a load, and only for a well-formed token.
let store = CountingSessionStore(MemorySessionStore())
let engine: SessionEngine = {
    do {
        return try SessionEngine(store: store)
    } catch {
        fatalError("fuzz engine configuration is valid: \(error)")
    }
}()
let parser = CookieHeaderParser(name: "__Host-id", maxValueLength: 4096)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    switch parser.lookup(in: text) {
    case .found(let value):
        precondition(value.utf8.count <= 4096, "the parser returned an oversized value")
    case .absent, .ambiguous, .oversized:
        break
    }
    // Split the input into several Cookie fields at 0x00 bytes.
    var fields = HTTPFields()
    for part in bytes.split(separator: 0, omittingEmptySubsequences: false) {
        fields.append(HTTPField(name: .cookie, lenientValue: Array(part)))
    }
    let handle = engine.begin(fields)
    if case .valid(let token, _) = handle.incoming {
        precondition(SessionToken(validating: token.text) == token, "a validated token does not re-validate")
        precondition(token.text.utf8.count == 43)
    }
    precondition(store.total == 0, "beginning a request made a store call")
    let wellFormed: Bool
    if case .valid = handle.incoming { wellFormed = true } else { wellFormed = false }
    // Read the session and commit, as a read-only handler would.
    runBlocking {
        _ = try? await handle.get(SessionKey<String>("k"))
        _ = try? await engine.finish(handle, after: .returned)
    }
    let calls = store.calls
    store.reset()
    precondition(calls.keys.allSatisfy { $0 == .load }, "a read-only request made a write: \(calls)")
    precondition((calls[.load] ?? 0) <= (wellFormed ? 1 : 0), "\(calls[.load] ?? 0) loads for a \(wellFormed ? "well-formed" : "malformed") cookie")
    return 0
}

/// Runs `body` on the concurrency pool and waits for it: libFuzzer calls the target
/// synchronously.
func runBlocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

runLibFuzzer { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
}
