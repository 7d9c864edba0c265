extension String {
    /// The longest prefix of at most `maxBytes` UTF-8 bytes that ends on a scalar boundary.
    ///
    /// Limits in SessionKit count bytes, never `Character`s: one grapheme cluster can hold
    /// thousands of combining scalars, so a cap in `Character`s bounds nothing.
    package func prefix(utf8Bytes maxBytes: Int) -> String {
        let bytes = utf8
        guard bytes.count > maxBytes else { return self }
        var end = bytes.index(bytes.startIndex, offsetBy: max(0, maxBytes))
        while end > bytes.startIndex, UTF8.isContinuation(bytes[end]) {
            end = bytes.index(before: end)
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// The most UTF-8 bytes of a client's `User-Agent` kept with a session, for listings.
package let maxRecordedUserAgentBytes = 256
