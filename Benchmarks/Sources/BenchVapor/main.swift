import BenchSupport
import Fluent
import FluentPostgresDriver
import Foundation
import Logging
import ServiceLifecycle
import SessionKit
import SessionKitVapor
import Vapor

// One Vapor server per benchmark configuration, all with the same three routes:
// `/plain` (no session use), `/read` (reads `n`), `/counter` (increments `n` with get + set);
// SessionKit configurations also serve `/counter-modify` and `/counter-increment` (the same
// through `modify` and `increment`, for scripts/bench_counter.py).
//
//   bare                 no session middleware
//   sessionkit-STORE     SessionKit with STORE = memory, postgres, redis
//   vapor-memory         Vapor's SessionsMiddleware with its `.memory` driver
//   vapor-fluent         Vapor's SessionsMiddleware with `.fluent` on PostgreSQL

let configs = ["bare", "vapor-memory", "vapor-fluent"] + ["memory", "postgres", "redis"].map { "sessionkit-\($0)" }
let options = BenchOptions.parse(configs: configs)
var logger = Logger(label: "bench-vapor")
logger.logLevel = .warning

let app = try await Application.make(Environment(name: "production", arguments: ["bench-vapor"]), logger: logger)
app.logger.logLevel = .warning
app.http.server.configuration.hostname = "127.0.0.1"
app.http.server.configuration.port = options.port
var background: Task<Void, any Error>?

switch options.config {
case "bare":
    app.get("plain") { _ in "ok" }
    app.get("read") { _ in "0" }
    app.get("counter") { _ in "1" }

case "vapor-memory", "vapor-fluent":
    if options.config == "vapor-fluent" {
        let url = try BenchSessions.required("SESSIONKIT_POSTGRES_URL", ProcessInfo.processInfo.environment)
        app.databases.use(try .postgres(url: url), as: .psql)
        app.sessions.use(.fluent)
        app.migrations.add(SessionRecord.migration)
        try await app.autoMigrate()
    } else {
        app.sessions.use(.memory)
    }
    app.middleware.use(app.sessions.middleware)
    app.get("plain") { _ in "ok" }
    app.get("read") { req in req.session.data["n"] ?? "0" }
    app.get("counter") { req -> String in
        let value = (req.session.data["n"].flatMap(Int.init) ?? 0) + 1
        req.session.data["n"] = String(value)
        return String(value)
    }

default:
    let store = String(options.config.dropFirst("sessionkit-".count))
    let sessions = try await BenchSessions.make(store: store, logger: logger)
    let group = ServiceGroup(services: sessions.services, gracefulShutdownSignals: [], logger: logger)
    background = Task { try await group.run() }
    try await sessions.prepare()
    app.middleware.use(SessionKitMiddleware(engine: sessions.engine))
    app.get("plain") { _ in "ok" }
    app.get("read") { req in String(try await req.sessionHandle.get(BenchSessions.counter) ?? 0) }
    app.get("counter") { req -> String in
        let value = (try await req.sessionHandle.get(BenchSessions.counter) ?? 0) + 1
        try await req.sessionHandle.set(BenchSessions.counter, value)
        return String(value)
    }
    app.get("counter-modify") { req -> String in
        String(try await req.sessionHandle.modify(BenchSessions.counter, default: 0) { $0 += 1 })
    }
    app.get("counter-increment") { req -> String in
        String(try await req.sessionHandle.increment(BenchSessions.counter))
    }
}

// Serves until SIGTERM/SIGINT (Vapor's own signal handling ends `execute`).
try await app.execute()
try await app.asyncShutdown()
background?.cancel()
