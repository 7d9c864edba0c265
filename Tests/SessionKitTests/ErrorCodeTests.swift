import SessionKit
import Testing

/// The public errors are structs with a code: `catch` clauses match a code (any details) or an
/// exact error, and the details travel in optional properties.
@Suite struct ErrorCodeTests {
    private static func kind(of error: any Error) -> String {
        do { throw error } catch SessionError.conflict {
            return "exact conflict"
        } catch SessionError.Code.storeUnavailable {
            return "store unavailable"
        } catch SessionStoreError.Code.corrupt {
            return "corrupt"
        } catch SessionStoreError.collision {
            return "exact collision"
        } catch {
            return "other"
        }
    }

    @Test func catchClausesMatchCodesAndExactErrors() {
        #expect(Self.kind(of: SessionError.conflict) == "exact conflict")
        #expect(Self.kind(of: SessionError.storeUnavailable(.timedOut)) == "store unavailable")
        #expect(Self.kind(of: SessionError.storeUnavailable(.unavailable(reason: "x"))) == "store unavailable")
        #expect(Self.kind(of: SessionStoreError.corrupt(reason: "bad row")) == "corrupt")
        #expect(Self.kind(of: SessionStoreError.collision) == "exact collision")
        #expect(Self.kind(of: SessionStoreError.timedOut) == "other")
        #expect(Self.kind(of: SessionError.tooManySessions(limit: 3)) == "other")
    }

    @Test func detailsAreInPropertiesAndTakePartInEquality() {
        let error = SessionError.cookieTooLarge(size: 5000, limit: 4096)
        #expect(error.code == .cookieTooLarge && error.size == 5000 && error.limit == 4096)
        #expect(error != SessionError.cookieTooLarge(size: 5001, limit: 4096))
        #expect(SessionError.storeUnavailable(.timedOut).storeError == .timedOut)
        #expect(SessionError.typeMismatch(key: "cart", expected: "Int").description == "SessionError.typeMismatch, key: cart, expected: Int")
        #expect(SessionStoreError.unavailable(reason: "down").description == "unavailable: down")
    }
}
