import BenchSupport
import Hummingbird
import HummingbirdAuth
import Logging
import SessionKit
import SessionKitHummingbird

// One Hummingbird server per benchmark configuration, all with the same three routes:
// `/plain` (no session use), `/read` (reads `n`), `/counter` (increments `n` with get + set);
// SessionKit configurations also serve `/counter-modify` and `/counter-increment` (the same
// through `modify` and `increment`, for scripts/bench_counter.py).
//
//   bare                 no session middleware
//   sessionkit-STORE     SessionKit with STORE = memory, sqlite, postgres, redis, redis-cached, redis-cluster, cookie
//   hb-auth-memory       hummingbird-auth's SessionMiddleware over Hummingbird's MemoryPersistDriver
//   noop-middleware      one middleware that only passes the request on: the floor any
//                        session middleware starts from

let configs =
    ["bare", "hb-auth-memory", "noop-middleware"] + ["memory", "sqlite", "postgres", "redis", "redis-cached", "redis-cluster", "cookie"].map { "sessionkit-\($0)" }
let options = BenchOptions.parse(configs: configs)
var logger = Logger(label: "bench-hummingbird")
logger.logLevel = .warning
let configuration = ApplicationConfiguration(address: .hostname("127.0.0.1", port: options.port), serverName: nil)

/// The session hummingbird-auth stores: a Codable value per session.
struct CounterSession: Codable, Sendable {
    var n: Int
}

/// A middleware that does nothing but copy the context and call the next responder, as every
/// session middleware must.
struct PassThroughMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await next(request, context)
    }
}

/// The request context of the SessionKit configurations.
struct SessionKitContext: SessionKitRequestContext {
    var coreContext: CoreRequestContextStorage
    var session: SessionHandle = .inactive

    init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

switch options.config {
case "bare":
    let router = Router(context: BasicRequestContext.self)
    router.get("/plain") { _, _ in "ok" }
    router.get("/read") { _, _ in "0" }
    router.get("/counter") { _, _ in "1" }
    try await Application(router: router, configuration: configuration, logger: logger).runService()

case "noop-middleware":
    let router = Router(context: SessionKitContext.self)
    router.add(middleware: PassThroughMiddleware())
    router.get("/plain") { _, _ in "ok" }
    router.get("/read") { _, _ in "0" }
    router.get("/counter") { _, _ in "1" }
    try await Application(router: router, configuration: configuration, logger: logger).runService()

case "hb-auth-memory":
    typealias Context = HummingbirdAuth.BasicSessionRequestContext<CounterSession, String>
    let router = Router(context: Context.self)
    router.add(middleware: SessionMiddleware<Context>(storage: MemoryPersistDriver()))
    router.get("/plain") { _, _ in "ok" }
    router.get("/read") { _, context in String(context.sessions.session?.n ?? 0) }
    router.get("/counter") { _, context -> String in
        let value = context.sessions.withLockedSession { data -> Int? in
            guard var current = data else { return nil }
            current.n += 1
            data = current
            return current.n
        }
        if let value { return String(value) }
        context.sessions.createSession(CounterSession(n: 1))
        return "1"
    }
    try await Application(router: router, configuration: configuration, logger: logger).runService()

default:
    let store = String(options.config.dropFirst("sessionkit-".count))
    let sessions = try await BenchSessions.make(store: store, logger: logger)
    let router = Router(context: SessionKitContext.self)
    router.add(middleware: SessionKitMiddleware(engine: sessions.engine))
    router.get("/plain") { _, _ in "ok" }
    router.get("/read") { _, context in String(try await context.session.get(BenchSessions.counter) ?? 0) }
    router.get("/counter") { _, context -> String in
        let value = (try await context.session.get(BenchSessions.counter) ?? 0) + 1
        try await context.session.set(BenchSessions.counter, value)
        return String(value)
    }
    router.get("/counter-modify") { _, context -> String in
        String(try await context.session.modify(BenchSessions.counter, default: 0) { $0 += 1 })
    }
    router.get("/counter-increment") { _, context -> String in
        String(try await context.session.increment(BenchSessions.counter))
    }
    var app = Application(router: router, configuration: configuration, logger: logger)
    app.addServices(sessions.services)
    app.beforeServerStarts(perform: sessions.prepare)
    try await app.runService()
}
