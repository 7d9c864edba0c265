/// Random bytes from the operating system's CSPRNG (`SystemRandomNumberGenerator`), drawn
/// eight at a time.
///
/// Each draw from the system generator is a system call on Linux (`getrandom`): filling a
/// 16-byte salt byte by byte took sixteen of them, eight-byte words take two.
enum SecureRandom {
    /// Returns `count` random bytes.
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<min(8, count - index) {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return bytes
    }
}
