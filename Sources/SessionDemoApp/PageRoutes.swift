import Foundation
import Hummingbird
import NIOCore
import SessionKit
import SessionDemoCore
import SessionKitHummingbird

/// The HTML pages a person uses in a browser. Every form carries the session's CSRF token.
enum PageRoutes {
    struct LoginForm: Decodable {
        let user: String
        let password: String
        let remember: String?
        let _csrf: String?
    }

    struct ThemeForm: Decodable {
        let theme: String
        let _csrf: String?
    }

    struct TokenForm: Decodable {
        let _csrf: String?
    }

    struct EndSessionForm: Decodable {
        let id: String
        let _csrf: String?
    }

    static func add(to router: Router<DemoContext>) {
        router.get("/") { _, context in try await home(context) }
        router.get("/login") { _, context in try await loginPage(context) }
        router.post("/login") { request, context in try await login(request, context) }
        router.post("/logout") { request, context in try await logout(request, context) }
        router.post("/theme") { request, context in try await setTheme(request, context) }
        router.get("/sessions") { _, context in try await sessionsPage(context) }
        router.post("/sessions/end") { request, context in try await endSession(request, context) }
        router.post("/sessions/others") { request, context in try await endOtherSessions(request, context) }
    }

    // MARK: Pages

    static func home(_ context: DemoContext) async throws -> Response {
        let session = context.session
        let visits = (try await session.get(DemoAPI.visits) ?? 0) + 1
        try await session.set(DemoAPI.visits, visits)
        let user = try await session.userID
        let theme = try await session.get(DemoAPI.theme) ?? "light"
        let csrf = try await session.csrfToken()
        let flashes = try await session.consumeFlashes()
        let signOut =
            user == nil
            ? "<p><a href=\"/login\">Sign in</a> (any user name, password <code>demo</code>).</p>"
            : "<form method=\"post\" action=\"/logout\" class=\"inline\">\(HTML.csrfField(csrf))<button id=\"signout\">Sign out</button></form>"
        let body = """
            <p>Visits in this session: <strong id="visits">\(visits)</strong></p>
            <form method="post" action="/theme">\(HTML.csrfField(csrf))
            <label>Theme <select name="theme" id="theme">
            <option value="light"\(theme == "light" ? " selected" : "")>Light</option>
            <option value="dark"\(theme == "dark" ? " selected" : "")>Dark</option>
            </select></label> <button id="save-theme">Save</button></form>
            \(signOut)
            """
        return HTML.page(title: user.map { "Hello, \($0)" } ?? "Welcome", theme: theme, user: user, flashes: flashes, body: body)
    }

    static func loginPage(_ context: DemoContext) async throws -> Response {
        let session = context.session
        if try await session.userID != nil { return HTML.redirect(to: "/") }
        let csrf = try await session.csrfToken()
        let body = """
            <form method="post" action="/login">\(HTML.csrfField(csrf))
            <p><label>User name <input name="user" id="user-name" autocomplete="username" required maxlength="64"></label></p>
            <p><label>Password <input type="password" name="password" id="password" autocomplete="current-password" required></label></p>
            <p><label><input type="checkbox" name="remember" value="1" id="remember"> Remember me</label></p>
            <p><button id="signin">Sign in</button></p>
            </form>
            """
        return HTML.page(
            title: "Sign in",
            theme: try await session.get(DemoAPI.theme) ?? "light",
            user: nil,
            flashes: try await session.consumeFlashes(),
            body: body
        )
    }

    static func sessionsPage(_ context: DemoContext) async throws -> Response {
        let session = context.session
        guard let user = try await session.userID else { return HTML.redirect(to: "/login") }
        let csrf = try await session.csrfToken()
        let current = try await session.storageID
        let rows = try await session.sessionsOfUser().map { summary in
            let isCurrent = summary.id == current
            let action =
                isCurrent
                ? "this browser"
                : "<form method=\"post\" action=\"/sessions/end\" class=\"inline\">\(HTML.csrfField(csrf))<input type=\"hidden\" name=\"id\" value=\"\(summary.id.hex)\"><button>Sign out</button></form>"
            return """
                <tr class="session\(isCurrent ? " current" : "")"><td><code>\(summary.id.hex.prefix(12))</code></td>
                <td>\(timestamp(summary.createdAt))</td><td>\(timestamp(summary.lastSeenAt))</td>
                <td>\(HTML.escape(summary.userAgent ?? "unknown"))</td><td>\(action)</td></tr>
                """
        }.joined()
        let body = """
            <table id="sessions"><tr><th>Session</th><th>Created</th><th>Last seen</th><th>Browser</th><th></th></tr>\(rows)</table>
            <form method="post" action="/sessions/others">\(HTML.csrfField(csrf))<p><button id="signout-others">Sign out all other sessions</button></p></form>
            """
        return HTML.page(
            title: "Your sessions",
            theme: try await session.get(DemoAPI.theme) ?? "light",
            user: user,
            flashes: try await session.consumeFlashes(),
            body: body
        )
    }

    // MARK: Form posts

    static func login(_ request: Request, _ context: DemoContext) async throws -> Response {
        let form = try await decodeForm(LoginForm.self, request)
        if let refusal = try await refuseWithoutCSRF(form._csrf, context) { return refusal }
        guard let user = DemoAPI.validUserName(form.user), DemoAPI.constantTimeEqual(form.password, DemoAPI.password) else {
            try await context.session.flash(FlashMessage("Wrong user name or password.", kind: "error"))
            return HTML.redirect(to: "/login")
        }
        try await context.session.signIn(userID: user, rememberMe: form.remember != nil)
        try await context.session.flash(FlashMessage("Welcome, \(user)!", kind: "success"))
        return HTML.redirect(to: "/")
    }

    static func logout(_ request: Request, _ context: DemoContext) async throws -> Response {
        let form = try await decodeForm(TokenForm.self, request)
        if let refusal = try await refuseWithoutCSRF(form._csrf, context) { return refusal }
        try context.session.destroy()
        return HTML.redirect(to: "/login")
    }

    static func setTheme(_ request: Request, _ context: DemoContext) async throws -> Response {
        let form = try await decodeForm(ThemeForm.self, request)
        if let refusal = try await refuseWithoutCSRF(form._csrf, context) { return refusal }
        guard ["light", "dark"].contains(form.theme) else { throw HTTPError(.badRequest, message: "theme must be light or dark") }
        try await context.session.set(DemoAPI.theme, form.theme)
        try await context.session.flash(FlashMessage("Theme saved.", kind: "success"))
        return HTML.redirect(to: "/")
    }

    static func endSession(_ request: Request, _ context: DemoContext) async throws -> Response {
        let form = try await decodeForm(EndSessionForm.self, request)
        if let refusal = try await refuseWithoutCSRF(form._csrf, context) { return refusal }
        guard try await context.session.userID != nil else { return HTML.redirect(to: "/login") }
        if let id = SessionStorageID(hex: form.id), try await context.session.signOutSession(id) {
            try await context.session.flash(FlashMessage("Signed out that session.", kind: "success"))
        } else {
            try await context.session.flash(FlashMessage("No such session.", kind: "error"))
        }
        return HTML.redirect(to: "/sessions")
    }

    static func endOtherSessions(_ request: Request, _ context: DemoContext) async throws -> Response {
        let form = try await decodeForm(TokenForm.self, request)
        if let refusal = try await refuseWithoutCSRF(form._csrf, context) { return refusal }
        guard try await context.session.userID != nil else { return HTML.redirect(to: "/login") }
        let count = try await context.session.signOutOtherSessions()
        try await context.session.flash(FlashMessage("Signed out \(count) other session\(count == 1 ? "" : "s").", kind: "success"))
        return HTML.redirect(to: "/sessions")
    }

    // MARK: Helpers

    static func refuseWithoutCSRF(_ submitted: String?, _ context: DemoContext) async throws -> Response? {
        if try await context.session.verifyCSRFToken(submitted) { return nil }
        return HTML.page(
            title: "Request refused",
            theme: "light",
            user: nil,
            flashes: [],
            body:
                "<p id=\"csrf-error\">The form was missing its CSRF token or the token did not match your session. Go <a href=\"/\">home</a> and try again.</p>",
            status: .forbidden
        )
    }

    static func decodeForm<Form: Decodable>(_ type: Form.Type, _ request: Request) async throws -> Form {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else {
            throw HTTPError(.unsupportedMediaType, message: "send a form")
        }
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        do {
            return try URLEncodedFormDecoder().decode(type, from: String(buffer: buffer))
        } catch {
            throw HTTPError(.badRequest, message: "malformed form")
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
