import Hummingbird
import SessionKit
import SessionKitHummingbird

/// The demo's request context: Hummingbird's core storage plus the session.
struct DemoContext: SessionKitRequestContext {
    var coreContext: CoreRequestContextStorage
    var session: SessionHandle = .inactive

    init(source: Source) {
        self.coreContext = .init(source: source)
    }
}
