import SessionKitRESP

extension RedisSessionCache.Configuration {
    /// Reads the cache settings of a store URL: `client_cache=on` turns the cache on (`off`, or
    /// no item: `nil`); `cache_max_staleness_ms=N` and `cache_bytes=N` set its limits.
    init?(url: String) throws(RESPClientError) {
        var text = Substring(url)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        guard let mark = text.firstIndex(of: "?") else { return nil }
        var enabled = false
        var configuration = RedisSessionCache.Configuration()
        for item in text[text.index(after: mark)...].split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "client_cache":
                guard pair[1] == "on" || pair[1] == "off" else { throw .invalidURL("client_cache must be on or off") }
                enabled = pair[1] == "on"
            case "cache_max_staleness_ms":
                guard let milliseconds = Int(pair[1]), milliseconds > 0 else {
                    throw .invalidURL("cache_max_staleness_ms must be a positive number of milliseconds")
                }
                configuration.maxStaleness = .milliseconds(milliseconds)
            case "cache_bytes":
                guard let bytes = Int(pair[1]), bytes > 0 else { throw .invalidURL("cache_bytes must be a positive number of bytes") }
                configuration.byteBudget = bytes
            default:
                continue
            }
        }
        guard enabled else { return nil }
        self = configuration
    }
}
