import Hummingbird
import SessionKit
import SessionKitHummingbird

/// The demo's request context: Hummingbird's core storage plus the session.
struct DemoContext: SessionRequestContext {
    var coreContext: CoreRequestContextStorage
    var session: SessionHandle = .inactive

    init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

/// The values the demo keeps in a session.
enum DemoKeys {
    static let visits = SessionKey<Int>("visits")
    static let theme = SessionKey<String>("theme")
}
