import Foundation
import InMemoryTracing
import SessionKit
import SessionKitTesting
import Testing
import Tracing

/// A span per store call, with OpenTelemetry database attributes, under the request's span.
@Suite("Tracing")
struct TracingTests {
    @Test func everyStoreCallIsASpanUnderTheRequestsSpanWithoutTokens() async throws {
        let tracer = InMemoryTracer()
        var configuration = SessionConfiguration()
        configuration.tracer = tracer
        let engine = try SessionEngine(store: MemorySessionStore(), configuration: configuration)
        let client = EngineTestClient(engine: engine)
        try await tracer.withAnySpan("GET /counter") { _ in
            try await client.send { try await $0.set(Keys.count, 1) }
        }
        try await tracer.withAnySpan("GET /read") { _ in
            _ = try await client.request { try await $0.get(Keys.count) }
        }
        let spans = tracer.finishedSpans
        let requests = spans.filter { $0.operationName.hasPrefix("GET ") }
        let storeSpans = spans.filter { $0.operationName.hasPrefix("session.store.") }
        #expect(storeSpans.map(\.operationName) == ["session.store.create", "session.store.load"])  // the read is within the touch interval
        for span in storeSpans {
            #expect(span.kind == .client)
            #expect(span.attributes.get("db.system.name") == .string("memory"))
            #expect(span.attributes.get("db.operation.name") == .string(String(span.operationName.dropFirst("session.store.".count))))
            #expect(requests.contains { $0.spanID == span.parentSpanID && $0.traceID == span.traceID }, "\(span.operationName) has no request parent")
        }
        let token = try #require(client.cookie)
        let storageID = try #require(SessionToken(validating: token)).storageID.hex
        for span in storeSpans {
            span.attributes.forEach { name, value in
                let text = "\(value)"
                #expect(!text.contains(token) && !text.contains(storageID), "\(span.operationName).\(name) carries the token or its ID")
            }
        }
    }

    @Test func aFailedStoreCallIsAnErrorSpan() async throws {
        let tracer = InMemoryTracer()
        var configuration = SessionConfiguration()
        configuration.tracer = tracer
        let faults = FaultInjectingSessionStore(MemorySessionStore())
        let engine = try SessionEngine(store: faults, configuration: configuration)
        faults.fault = .unavailable
        await #expect(throws: SessionError.storeUnavailable(.unavailable(reason: "injected outage"))) { try await engine.checkReadiness() }
        let span = try #require(tracer.finishedSpans.first)
        #expect(span.operationName == "session.store.ping" && span.status?.code == .error && span.errors.count == 1)
        #expect(span.attributes.get("db.system.name") == nil, "a wrapper that names no database got one")
    }
}
