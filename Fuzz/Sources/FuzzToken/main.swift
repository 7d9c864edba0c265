import FuzzDriver
import Foundation
@testable import SessionKit

/// Fuzzes token validation, base64url decoding and signed-token verification: nothing may
/// crash, a token that validates must round-trip exactly, and no random input may carry a
/// valid signature.
let ring = KeyRing.ephemeral(name: "fuzz")
let signer = TokenSigner(keyRing: ring)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    if let token = SessionToken(validating: text) {
        precondition(token.text == text, "validation changed the token")
        guard let decoded = Base64URL.decode(token.text.utf8) else { preconditionFailure("a valid token does not decode") }
        precondition(decoded.count == 32 && Base64URL.encode(decoded) == token.text, "token encoding is not canonical")
    }
    if let decoded = Base64URL.decode(bytes) {
        precondition(Base64URL.encode(decoded) == text, "base64url decoding accepted a non-canonical spelling")
    }
    if case .success = signer.verify(Substring(text)) { preconditionFailure("random input verified as a signed token") }
    return 0
}

runLibFuzzer { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
}
