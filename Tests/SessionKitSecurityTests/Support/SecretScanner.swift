import HTTPTestSupport
import Foundation

/// Finds secrets (tokens of at least 43 base64url characters) inside arbitrary text without
/// comparing every secret against every line: runs of base64url characters are cut into
/// 43-character windows and looked up by the secrets' first 43 characters.
struct SecretScanner {
    static let window = 43
    private var byPrefix: [Substring: [String]] = [:]

    init(_ secrets: some Sequence<String>) {
        for secret in secrets where secret.utf8.count >= Self.window {
            byPrefix[Substring(secret.prefix(Self.window)), default: []].append(secret)
        }
    }

    var isEmpty: Bool { byPrefix.isEmpty }

    /// The secrets that occur in `text`.
    func secrets(in text: String) -> Set<String> {
        guard !byPrefix.isEmpty else { return [] }
        var found: Set<String> = []
        let characters = Array(text.utf8)
        var runStart = 0
        var index = 0
        func scanRun(_ start: Int, _ end: Int) {
            guard end - start >= Self.window else { return }
            for offset in start...(end - Self.window) {
                let candidate = Substring(decoding: characters[offset..<(offset + Self.window)], as: UTF8.self)
                guard let secrets = byPrefix[candidate] else { continue }
                for secret in secrets where text.contains(secret) { found.insert(secret) }
            }
        }
        while index <= characters.count {
            if index == characters.count || !Self.isBase64URL(characters[index]) {
                scanRun(runStart, index)
                runStart = index + 1
            }
            index += 1
        }
        return found
    }

    static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
