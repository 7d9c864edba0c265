import Hummingbird
import NIOCore
import SessionKit

/// Tiny HTML helpers: escaping and the shared page layout.
enum HTML {
    /// Escapes text for HTML element content and quoted attributes, scalar by scalar: a
    /// `Character` can hold a `<` behind a Prepend scalar (U+0D4E), so comparing whole
    /// `Character`s would let markup through.
    static func escape(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result.append(contentsOf: "&amp;".unicodeScalars)
            case "<": result.append(contentsOf: "&lt;".unicodeScalars)
            case ">": result.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": result.append(contentsOf: "&quot;".unicodeScalars)
            case "'": result.append(contentsOf: "&#39;".unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// A full page. Pages are never cached (`no-store`), so the back button after signing out
    /// fetches the page again and shows the signed-out state.
    static func page(title: String, theme: String, user: String?, flashes: [FlashMessage], body: String, status: HTTPResponse.Status = .ok)
        -> Response
    {
        let flashHTML = flashes.map { "<p class=\"flash \(escape($0.kind))\" role=\"status\">\(escape($0.text))</p>" }.joined()
        let nav =
            user.map { "Signed in as <strong id=\"user\">\(escape($0))</strong> · <a href=\"/sessions\">Your sessions</a>" }
            ?? "<span id=\"user\">Not signed in</span> · <a href=\"/login\">Sign in</a>"
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · SessionKit demo</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
            body.dark{background:#1d1f21;color:#e0e0e0} body.dark a{color:#8ab4f8}
            .flash{padding:.5rem 1rem;border-radius:.3rem;background:#e7f3fe} .flash.error{background:#fde8e8} .flash.success{background:#e6f6ea}
            body.dark .flash{color:#111} table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left}
            form.inline{display:inline} nav{margin-bottom:1rem}
            </style></head>
            <body class="\(theme == "dark" ? "dark" : "light")">
            <nav><a href="/">Home</a> · \(nav)</nav>
            \(flashHTML)
            <h1>\(escape(title))</h1>
            \(body)
            </body></html>
            """
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func csrfField(_ token: String) -> String {
        "<input type=\"hidden\" name=\"_csrf\" value=\"\(escape(token))\">"
    }

    static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }
}
