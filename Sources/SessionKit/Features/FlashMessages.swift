/// A one-time message shown on the next page (e.g. "Signed out").
public struct FlashMessage: Codable, Sendable, Equatable {
    /// The kind of message, for styling (`info`, `success`, `error`…).
    public var kind: String
    /// The text to show.
    public var text: String

    /// Creates a message.
    public init(_ text: String, kind: String = "info") {
        self.kind = kind
        self.text = text
    }
}

extension SessionHandle {
    private static let flashKey = SessionKey<[FlashMessage]>(reserved: ReservedKeys.flash)

    /// Queues a message for the next request that reads flashes.
    public func flash(_ message: FlashMessage) async throws {
        var messages = try await get(Self.flashKey) ?? []
        messages.append(message)
        try await set(Self.flashKey, messages)
    }

    /// Returns the queued messages and removes them: each message survives exactly one read.
    public func consumeFlashes() async throws -> [FlashMessage] {
        guard let messages = try await get(Self.flashKey) else { return [] }
        try await remove(Self.flashKey)
        return messages
    }
}
