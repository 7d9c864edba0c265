import Foundation
import Hummingbird
import SessionKit
import SessionKitHummingbird

/// The JSON API: the same operations as the pages, for scripts and tests.
///
/// State-changing endpoints require `Content-Type: application/json`: a cross-site HTML form
/// cannot send that type without a CORS preflight, which is the API's CSRF defence (the pages
/// use synchronizer tokens instead).
enum APIRoutes {
    struct Me: ResponseEncodable {
        let user: String?
        let visits: Int

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(user, forKey: .user)
            try container.encode(visits, forKey: .visits)
        }

        enum CodingKeys: String, CodingKey {
            case user, visits
        }
    }

    struct Visits: ResponseEncodable {
        let visits: Int
    }

    struct Login: Decodable {
        let user: String
        let password: String
        let rememberMe: Bool?
    }

    struct SessionEntry: ResponseEncodable {
        let id: String
        let created: Date
        let lastSeen: Date
        let userAgent: String?
        let current: Bool
    }

    struct SignedOut: ResponseEncodable {
        let signedOut: Int
    }

    struct Note: ResponseEncodable, Decodable {
        let value: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(value, forKey: .value)
        }

        enum CodingKeys: String, CodingKey {
            case value
        }
    }

    /// The session key of a named note: letters, digits, `-` and `_`, at most 40 characters.
    static func noteKey(_ name: String?) throws -> SessionKey<String> {
        guard let name, (1...40).contains(name.count),
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" })
        else { throw HTTPError(.badRequest, message: "note names are 1-40 letters, digits, '-' or '_'") }
        return SessionKey("note.\(name)")
    }

    static func add(to router: Router<DemoContext>) {
        let api = router.group("api")
        api.get("me") { _, context -> Me in
            Me(user: try await context.session.userID, visits: try await context.session.get(DemoKeys.visits) ?? 0)
        }
        api.post("visit") { request, context -> Visits in
            try requireJSON(request)
            let visits = (try await context.session.get(DemoKeys.visits) ?? 0) + 1
            try await context.session.set(DemoKeys.visits, visits)
            return Visits(visits: visits)
        }
        api.post("login") { request, context -> Me in
            try requireJSON(request)
            let login = try await request.decode(as: Login.self, context: context)
            guard let user = validUserName(login.user) else {
                throw HTTPError(.badRequest, message: "user must be 1-64 printable characters")
            }
            guard constantTimeEqual(login.password, DemoApplication.password) else {
                throw HTTPError(.unauthorized, message: "wrong user name or password")
            }
            try await context.session.signIn(userID: user, rememberMe: login.rememberMe ?? false)
            return Me(user: user, visits: try await context.session.get(DemoKeys.visits) ?? 0)
        }
        api.post("logout") { request, context -> Me in
            try requireJSON(request)
            try context.session.destroy()
            return Me(user: nil, visits: 0)
        }
        api.get("sessions") { _, context -> [SessionEntry] in
            guard try await context.session.userID != nil else { throw HTTPError(.unauthorized, message: "sign in first") }
            let current = try await context.session.storageID
            return try await context.session.sessionsOfUser().map { summary in
                SessionEntry(
                    id: String(summary.id.hex.prefix(12)),
                    created: summary.createdAt,
                    lastSeen: summary.lastSeenAt,
                    userAgent: summary.userAgent,
                    current: summary.id == current
                )
            }
        }
        // Free-form notes, one session key each: scripts use them to check that concurrent
        // writes to different keys all survive and that no client ever sees another's value.
        api.put("notes/:name") { request, context -> Note in
            try requireJSON(request)
            let key = try noteKey(context.parameters.get("name"))
            let note = try await request.decode(as: Note.self, context: context)
            guard let value = note.value, value.utf8.count <= 512 else { throw HTTPError(.badRequest, message: "value must be a string of at most 512 bytes") }
            try await context.session.set(key, value)
            return Note(value: value)
        }
        api.get("notes/:name") { _, context -> Note in
            Note(value: try await context.session.get(try noteKey(context.parameters.get("name"))))
        }
        api.delete("sessions/others") { request, context -> SignedOut in
            try requireJSON(request)
            guard try await context.session.userID != nil else { throw HTTPError(.unauthorized, message: "sign in first") }
            return SignedOut(signedOut: try await context.session.signOutOtherSessions())
        }
    }

    static func requireJSON(_ request: Request) throws {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type == "application/json" || type.hasPrefix("application/json;") else {
            throw HTTPError(.unsupportedMediaType, message: "send Content-Type: application/json")
        }
    }
}


/// A user name the demo accepts: 1-64 printable characters, no leading or trailing spaces.
func validUserName(_ text: String) -> String? {
    guard (1...64).contains(text.count), text.trimmingCharacters(in: .whitespaces) == text,
        text.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
    else { return nil }
    return text
}

/// Compares secrets without an early exit.
func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let left = Array(lhs.utf8)
    let right = Array(rhs.utf8)
    guard left.count == right.count else { return false }
    return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}
