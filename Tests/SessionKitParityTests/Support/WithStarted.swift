/// Starts a test server, runs `body` with it and stops it afterwards, also when `body` throws:
/// the shape every over-the-wire test here shares.
func withStarted<Server>(
    _ start: () async throws -> Server,
    stop: (Server) async -> Void,
    _ body: (Server) async throws -> Void
) async throws {
    let server = try await start()
    do {
        try await body(server)
    } catch {
        await stop(server)
        throw error
    }
    await stop(server)
}
