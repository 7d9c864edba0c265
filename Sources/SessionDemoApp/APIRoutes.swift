import Foundation
import Hummingbird
import SessionDemoCore
import SessionKit
import SessionKitHummingbird

/// The JSON API routes (the logic lives in ``SessionDemoCore/DemoAPI``, shared with the Vapor demo).
enum APIRoutes {
    static func add(to router: Router<DemoContext>) {
        let api = router.group("api")
        api.get("me") { _, context in try await run { try await DemoAPI.me(context.session) } }
        api.post("visit") { request, context in
            try await run {
                try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                return try await DemoAPI.visit(context.session)
            }
        }
        api.get("counter") { _, context in try await run { try await DemoAPI.counterValue(context.session) } }
        for write in DemoAPI.CounterWrite.allCases {
            let path = write == .increment ? "counter" : "counter/\(write.rawValue)"
            api.post(RouterPath(path)) { request, context in
                try await run {
                    try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                    return try await DemoAPI.count(context.session, write)
                }
            }
        }
        api.get("cart") { _, context in try await run { try await DemoAPI.cartItems(context.session) } }
        api.post("cart") { request, context in
            try await run {
                try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                let item = try await request.decode(as: DemoAPI.CartItem.self, context: context)
                return try await DemoAPI.addToCart(context.session, item)
            }
        }
        api.post("login") { request, context in
            try await run {
                try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                let login = try await request.decode(as: DemoAPI.Login.self, context: context)
                return try await DemoAPI.login(context.session, login)
            }
        }
        api.post("logout") { request, context in
            try await run {
                try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                return try DemoAPI.logout(context.session)
            }
        }
        api.get("sessions") { _, context in try await run { try await DemoAPI.sessions(context.session) } }
        api.delete("sessions/others") { request, context in
            try await run {
                try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                return try await DemoAPI.signOutOthers(context.session)
            }
        }
        // Free-form notes, one session key each: scripts use them to check that concurrent
        // writes to different keys all survive and that no client ever sees another's value.
        api.put("notes/:name") { request, context in
            try await run {
                try DemoAPI.requireJSON(contentType: request.headers[.contentType])
                let note = try await request.decode(as: DemoAPI.Note.self, context: context)
                return try await DemoAPI.setNote(context.session, name: context.parameters.get("name"), note)
            }
        }
        api.get("notes/:name") { _, context in
            try await run { try await DemoAPI.note(context.session, name: context.parameters.get("name")) }
        }
    }

    /// Runs an API call and turns its refusals into HTTP errors.
    static func run<Value: Encodable & Sendable>(_ body: () async throws -> Value) async throws -> JSONResponse<Value> {
        do {
            return JSONResponse(value: try await body())
        } catch let failure as DemoAPI.Failure {
            throw HTTPError(HTTPResponse.Status(code: failure.status), message: failure.message)
        }
    }
}

/// Encodes any value as the JSON response body.
struct JSONResponse<Value: Encodable & Sendable>: ResponseEncodable {
    let value: Value

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }
}
