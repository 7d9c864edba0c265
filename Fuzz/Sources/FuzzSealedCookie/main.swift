import FuzzDriver
import Foundation
@testable import SessionKit

/// Fuzzes sealed-cookie opening: arbitrary values must be rejected (never crash, never
/// decode), and a session built from the input must seal and open back unchanged.
let ring = KeyRing.ephemeral(name: "fuzz")
let codec = SealedCookieCodec(keyRing: ring, cookieName: "__Host-id")
let now = Date(timeIntervalSince1970: 1_800_000_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    if case .success = codec.open(Substring(text), now: now) { preconditionFailure("random input opened as a sealed cookie") }
    // Whatever the binary decoder accepts must encode back to the same payload.
    if let decoded = SealedPayload(decoding: bytes) {
        precondition(SealedPayload(decoding: decoded.encoded()) == decoded, "a decoded payload does not survive re-encoding")
    }

    // Round trip: the input becomes one session value (JSON-escaped: a control character
    // takes six bytes, so the size that matters is the encoded value's, not the input's).
    let value = Data(SessionDataJSON.encodeString(text))
    let record = SessionRecord(
        data: ["v": value],
        userID: bytes.first.map { String($0) },
        createdAt: now,
        idleExpiresAt: now + 600,
        absoluteExpiresAt: now + 3600
    )
    do {
        let sealed = try codec.seal(SealedPayload(record: record, epoch: UInt64(size)))
        guard case .success(let opened) = codec.open(Substring(sealed), now: now) else { preconditionFailure("a sealed value did not open") }
        precondition(opened.payload.record.data == record.data && opened.payload.epoch == UInt64(size), "round trip changed the session")
    } catch let error as SessionError where error.code == .cookieTooLarge {
        precondition((error.size ?? 0) > (error.limit ?? .max), "cookieTooLarge with a size under its limit")
        precondition(value.count > 2000, "a session with a \(value.count)-byte value was reported too large")
    } catch {
        preconditionFailure("sealing failed: \(error)")
    }
    return 0
}

runLibFuzzer { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
}
