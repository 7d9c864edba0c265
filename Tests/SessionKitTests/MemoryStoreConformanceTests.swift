import SessionKit
import SessionKitTesting
import Testing

@Suite("Memory store conformance")
struct MemoryStoreConformanceTests {
    @Test(arguments: SessionStoreConformance.cases + SessionStoreConformance.sweeping)
    func conformance(_ check: SessionStoreConformance.Case) async throws {
        try await check.run { clock in MemorySessionStore(clock: clock) }
    }

    @Test(arguments: SessionStoreConformance.cases + SessionStoreConformance.sweeping)
    func conformanceWithOneShard(_ check: SessionStoreConformance.Case) async throws {
        try await check.run { clock in MemorySessionStore(shardCount: 1, clock: clock) }
    }
}
