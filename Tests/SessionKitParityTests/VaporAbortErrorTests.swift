import HTTPTypes
import SessionKit
import SessionKitVapor
import Testing
import Vapor

/// The Vapor adapter keeps a handler's own `AbortError`: it commits the changes the handler
/// made first and adds the session's headers, but an outer middleware still sees the original
/// error (type, identifier, source). Before, it was re-created as a plain `Abort`.
@Suite struct VaporAbortErrorTests {
    private struct OutOfStock: AbortError, DebuggableError {
        var status: HTTPResponseStatus { .conflict }
        var reason: String { "out of stock" }
        var identifier: String { "out-of-stock" }
        var headers: HTTPHeaders { ["X-Shop": "1"] }
        let source: ErrorSource? = .capture()
    }

    private struct Thrower: AsyncResponder {
        func respond(to request: Request) async throws -> Response {
            try await request.sessionHandle.set(SessionKey<String>("flash"), "Sorry, sold out")
            throw OutOfStock()
        }
    }

    @Test func handlerAbortErrorKeepsItsTypeAndGetsTheSessionHeaders() async throws {
        let app = try await Application.make(.testing)
        let engine = try SessionEngine(store: MemorySessionStore(), configuration: SessionConfiguration())
        let request = Request(application: app, on: app.eventLoopGroup.any())
        do {
            _ = try await SessionKitMiddleware(engine: engine).respond(to: request, chainingTo: Thrower())
            Issue.record("the handler's error was swallowed")
        } catch let error as SessionKitAbortError {
            let original = try #require(error.underlying as? OutOfStock)
            #expect(error.status == .conflict && error.reason == "out of stock" && error.identifier == "out-of-stock")
            #expect(error.source?.line == original.source?.line)
            #expect(error.headers.first(name: "X-Shop") == "1")
            let cookie = try #require(error.headers.first(name: .setCookie))
            #expect(cookie.hasPrefix(SessionCookieOptions().name + "="))
            #expect(error.headers.first(name: .cacheControl)?.contains("no-store") == true)
        } catch {
            Issue.record("expected SessionKitAbortError, got \(type(of: error)): \(error)")
        }
        try await app.asyncShutdown()
    }
}
