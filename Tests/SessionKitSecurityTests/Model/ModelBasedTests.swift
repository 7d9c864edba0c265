import Foundation
import HTTPTestSupport
import SessionKit
import SessionKitTesting
import Testing

/// Issue 13's model-based test: random programs of requests from two users on four browsers
/// (visit, write, remove, sign in, regenerate, sign out, sign out everywhere, replay of old
/// cookies, clock jumps, and requests in flight at once) run through the engine on every
/// backend, and after every step the engine must agree with ``SessionModel``:
/// - every request sees exactly the user and values the model predicts (no lost acknowledged
///   write, no other user's data, idle and absolute timeouts honoured, signing in as another
///   user starts empty);
/// - every cookie the browser held whose session ended (destroy, rotation, expiry, sign-out
///   everywhere; on sealed cookies, the revoked and the expired) is anonymous when replayed;
/// - on server-side stores, each user's live sessions in the store are the model's, never
///   more than the cap.
///
/// `swift test` runs a fixed seed and a bounded count. A longer hunt:
/// `SESSIONKIT_MODEL_RUNS=150 SESSIONKIT_MODEL_STEPS=80 SESSIONKIT_MODEL_SEED=7 swift test --filter ModelBased`
/// (`SESSIONKIT_MODEL_REPORT=1` prints what the programs exercised per backend).
/// A failure is shrunk (steps removed while it still fails) and printed as a minimal program.
@Suite("Model-based: random request interleavings against a reference model")
struct ModelBasedTests {
    static let environment = ProcessInfo.processInfo.environment
    static let runs = environment["SESSIONKIT_MODEL_RUNS"].flatMap(Int.init) ?? 6
    static let steps = environment["SESSIONKIT_MODEL_STEPS"].flatMap(Int.init) ?? 60
    static let seed = environment["SESSIONKIT_MODEL_SEED"].flatMap(UInt64.init) ?? 0x5E55_1017

    @Test(arguments: Backend.all)
    func engineAgreesWithTheModel(_ backend: Backend) async throws {
        var covered = ModelCoverage()
        for run in 0..<Self.runs {
            let seed = Self.seed &+ UInt64(run) &* 0x9E37_79B9
            let program = ModelProgram.generate(seed: seed, count: Self.steps)
            let (found, coverage) = try await ModelRunner.execute(program, on: backend)
            covered.add(coverage)
            guard let violation = found else { continue }
            let (minimal, reason) = try await ModelRunner.shrink(program, violation, on: backend)
            Issue.record(
                """
                \(backend.testDescription), seed \(seed): \(violation)
                minimal reproduction (\(minimal.count) of \(program.count) steps), failing with \(reason):
                \(minimal.enumerated().map { "  \($0.offset): \($0.element)" }.joined(separator: "\n"))
                """
            )
            return
        }
        if Self.environment["SESSIONKIT_MODEL_REPORT"] != nil {
            print("model-based \(backend.testDescription): \(Self.runs) programs of \(Self.steps) steps, seed \(Self.seed): \(covered)")
        }
        // The programs reached what the checks are about, so a pass means something.
        #expect(covered.groupsAtOnce > 0 && covered.deadCookiesReplayed > 0 && covered.expired > 0, "\(covered)")
        #expect(covered.refusedByTheCap > 0 || backend.isSealed, "\(covered)")
        #expect(covered.concurrentIncrementsOfOneKey > 0 || backend.isSealed, "\(covered)")
        #expect(covered.endedByAnotherBrowser > 0 && covered.signInsAsAnotherUser > 0, "\(covered)")
    }

    /// The checks can fail: a model that gets the idle timeout wrong is caught, and shrinking
    /// brings the program down to the few steps that show it.
    @Test func aWrongModelIsCaughtAndShrunk() async throws {
        let program: [ModelStep] = [
            .write(browser: 0, key: 0, value: 1), .visit(browser: 1), .signIn(browser: 2, user: 0), .write(browser: 1, key: 2, value: 5),
            .advance(seconds: 60), .visit(browser: 0), .advance(seconds: 99), .visit(browser: 1), .advance(seconds: 150), .visit(browser: 0),
        ]
        let wrong = ModelRunner.Options(modelIdleTimeoutOffset: 200)
        let violation = try #require(try await ModelRunner.firstViolation(program, on: .memory, options: wrong))
        let (minimal, _) = try await ModelRunner.shrink(program, violation, on: .memory, options: wrong)
        // The shortest failing program: a session, two clock jumps past the real idle timeout, a request.
        #expect(minimal.count <= 4, "not shrunk: \(minimal)")
        #expect(try await ModelRunner.firstViolation(program, on: .memory) == nil, "the right model fails the same program")
    }
}

/// A disagreement between the engine and the model.
struct ModelViolation: Error, Equatable, CustomStringConvertible {
    var step: Int
    var message: String
    var description: String { "step \(step): \(message)" }
}

/// Runs programs against a real engine and store and compares every step with the model.
enum ModelRunner {
    struct Options: Sendable {
        /// Added to the model's idle timeout: lets the self-test break the model on purpose.
        var modelIdleTimeoutOffset: Double = 0
    }

    /// A cookie a browser was given, with what the model said about its session then.
    struct IssuedCookie {
        var value: String
        var serial: Int
        var user: Int?
        var epoch: Int
        var expiresAt: Double
    }

    static func configuration() throws -> SessionConfiguration {
        var configuration = SessionConfiguration(
            cookie: .insecureLocalDevelopment,
            idleTimeout: .milliseconds(Int64(ModelWorld.idleTimeout * 1000)),
            absoluteTimeout: .milliseconds(Int64(ModelWorld.absoluteTimeout * 1000)),
            touchInterval: .zero
        )
        configuration.concurrentSessionLimit = .init(maxSessions: ModelWorld.sessionCap, policy: .refuse)
        return configuration
    }

    /// The first step at which engine and model disagree, on a fresh store; `nil` when none.
    static func firstViolation(_ program: [ModelStep], on backend: Backend, options: Options = Options()) async throws -> ModelViolation? {
        try await execute(program, on: backend, options: options).violation
    }

    /// Runs a program on a fresh store: the first disagreement, and what the run exercised.
    static func execute(_ program: [ModelStep], on backend: Backend, options: Options = Options()) async throws
        -> (violation: ModelViolation?, coverage: ModelCoverage)
    {
        let clock = TestClock()
        let logs = LogCapture()
        var violation: ModelViolation?
        var coverage = ModelCoverage()
        try await SecurityHarness.withBackend(backend, clock: clock, logs: logs) { store, _ in
            let engine =
                if backend.isSealed {
                    try SessionEngine(
                        sealedCookies: SealedCookieBackend(keyRing: .ephemeral(), revocationStore: store),
                        configuration: configuration(),
                        clock: clock,
                        logger: logs.logger(label: "SessionKit")
                    )
                } else {
                    try SessionEngine(store: store, configuration: configuration(), clock: clock, logger: logs.logger(label: "SessionKit"))
                }
            var execution = Execution(
                engine: engine,
                clock: clock,
                userIndex: backend.isSealed ? nil : store as any SessionUserIndexing,
                model: SessionModel(sealed: backend.isSealed, idleTimeout: ModelWorld.idleTimeout + options.modelIdleTimeoutOffset)
            )
            defer { coverage = execution.coverage }
            for (index, step) in program.enumerated() {
                do {
                    try await execution.run(step)
                    try await execution.checkStore()
                } catch let failure as ModelCheckFailure {
                    violation = ModelViolation(step: index, message: failure.message)
                    return
                }
            }
        }
        return (violation, coverage)
    }

    /// Removes steps while the program still fails (at most `budget` reruns); returns the
    /// smallest failing program found and its failure.
    static func shrink(_ program: [ModelStep], _ violation: ModelViolation, on backend: Backend, options: Options = Options(), budget: Int = 400)
        async throws -> ([ModelStep], ModelViolation)
    {
        // Nothing after the failing step matters.
        var current = Array(program.prefix(violation.step + 1))
        var failure = violation
        var reruns = 0
        var shrunk = true
        while shrunk, reruns < budget {
            shrunk = false
            for index in current.indices.reversed() where reruns < budget {
                var candidate = current
                candidate.remove(at: index)
                reruns += 1
                if let found = try await firstViolation(candidate, on: backend, options: options) {
                    current = Array(candidate.prefix(found.step + 1))
                    failure = found
                    shrunk = true
                    break
                }
            }
        }
        return (current, failure)
    }
}

/// What runs exercised, so a passing run is known to have reached the checks.
struct ModelCoverage: CustomStringConvertible {
    var groupsAtOnce = 0
    var deadCookiesReplayed = 0
    var refusedByTheCap = 0
    var expired = 0
    var endedByAnotherBrowser = 0
    var signInsAsAnotherUser = 0
    /// Groups that ran increments of one key of one session at once.
    var concurrentIncrementsOfOneKey = 0

    mutating func add(_ other: ModelCoverage) {
        groupsAtOnce += other.groupsAtOnce
        deadCookiesReplayed += other.deadCookiesReplayed
        refusedByTheCap += other.refusedByTheCap
        expired += other.expired
        endedByAnotherBrowser += other.endedByAnotherBrowser
        signInsAsAnotherUser += other.signInsAsAnotherUser
        concurrentIncrementsOfOneKey += other.concurrentIncrementsOfOneKey
    }

    var description: String {
        "groups at once \(groupsAtOnce), dead cookies replayed \(deadCookiesReplayed), refused by the cap \(refusedByTheCap), "
            + "expired \(expired), ended by another browser \(endedByAnotherBrowser), sign-ins as another user \(signInsAsAnotherUser), "
            + "concurrent increments of one key \(concurrentIncrementsOfOneKey)"
    }
}

/// A broken expectation inside one run.
struct ModelCheckFailure: Error {
    var message: String
}

/// One program's run: the browsers' cookie jars, the cookies each was given, and the model.
struct Execution {
    let engine: SessionEngine
    let clock: TestClock
    let userIndex: (any SessionUserIndexing)?
    var model: SessionModel
    let browsers: [EngineTestClient]
    var issued: [[ModelRunner.IssuedCookie]] = Array(repeating: [], count: ModelWorld.browsers)
    var coverage = ModelCoverage()

    init(engine: SessionEngine, clock: TestClock, userIndex: (any SessionUserIndexing)?, model: SessionModel) {
        self.engine = engine
        self.clock = clock
        self.userIndex = userIndex
        self.model = model
        browsers = (0..<ModelWorld.browsers).map { _ in EngineTestClient(engine: engine) }
    }

    static let keys = (0..<ModelWorld.keys).map { SessionKey<Int>("k\($0)") }

    mutating func run(_ step: ModelStep) async throws {
        switch step {
        case .advance(let seconds):
            clock.advance(by: .seconds(seconds))
            model.advance(by: seconds)
        case .replay(let browser):
            try await replayDeadCookies(of: browser)
        case .together(let steps):
            if model.commute(steps) {
                coverage.groupsAtOnce += 1
                let increments = steps.filter(\.isIncrement)
                if Set(increments.map { "\($0.browser ?? -1)/\($0.changedKey ?? -1)" }).count < increments.count {
                    coverage.concurrentIncrementsOfOneKey += 1
                }
                try await runAtOnce(steps)
            } else {
                for step in steps { try await run(step) }
            }
        default:
            guard let browser = step.browser else { return }
            let before = browsers[browser].cookie
            let serialBefore = model.live(browser)?.serial
            let (observed, outcome) = try await Self.send(step, from: browsers[browser])
            note(step, observed: observed, outcome: outcome)
            let (expected, expectedOutcome) = model.apply(step)
            try check(step, observed: observed, outcome: outcome, expected: expected, expectedOutcome: expectedOutcome, ignoring: [])
            try noteCookie(of: browser, before: before, serialBefore: serialBefore, step: step)
        }
    }

    /// Sends a group's requests at once; checks each against the model applied in order (the
    /// model said the order does not matter), except keys another request of the group writes
    /// to the same session.
    private mutating func runAtOnce(_ steps: [ModelStep]) async throws {
        let before = browsers.map(\.cookie)
        let serialsBefore = (0..<ModelWorld.browsers).map { model.live($0)?.serial }
        let browsers = self.browsers
        let results = try await withThrowingTaskGroup(of: (Int, ModelObservation, ModelOutcome).self) { group in
            for (index, step) in steps.enumerated() {
                guard let browser = step.browser else { continue }
                group.addTask {
                    let (observed, outcome) = try await Self.send(step, from: browsers[browser])
                    return (index, observed, outcome)
                }
            }
            var results: [Int: (ModelObservation, ModelOutcome)] = [:]
            for try await (index, observed, outcome) in group { results[index] = (observed, outcome) }
            return results
        }
        for (index, step) in steps.enumerated() {
            guard let (observed, outcome) = results[index] else { continue }
            note(step, observed: observed, outcome: outcome)
            let (expected, expectedOutcome) = model.apply(step)
            let othersKeys = Set(
                steps.enumerated().filter { $0.offset != index && $0.element.browser == step.browser }.compactMap(\.element.changedKey)
            )
            try check(step, observed: observed, outcome: outcome, expected: expected, expectedOutcome: expectedOutcome, ignoring: othersKeys)
        }
        for browser in Set(steps.compactMap(\.browser)) {
            let changed = steps.first { $0.browser == browser && $0.isLifecycleChange } ?? steps.first { $0.browser == browser }
            if let changed { try noteCookie(of: browser, before: before[browser], serialBefore: serialsBefore[browser], step: changed) }
        }
    }

    /// Counts what a step reached, from the model's state before it applies the step.
    private mutating func note(_ step: ModelStep, observed: ModelObservation, outcome: ModelOutcome) {
        if outcome == .tooManySessions { coverage.refusedByTheCap += 1 }
        if case .signIn(_, let user) = step, let current = observed.user, current != user, !observed.values.isEmpty {
            coverage.signInsAsAnotherUser += 1
        }
        if case .signOutEverywhere = step, let user = observed.user, model.liveSessions(of: user, excluding: step.browser) > 0 {
            coverage.endedByAnotherBrowser += 1
        }
        coverage.expired = model.expiries
    }

    /// One request: observes the session first, then acts.
    static func send(_ step: ModelStep, from client: EngineTestClient) async throws -> (ModelObservation, ModelOutcome) {
        let seen = LockedValue<ModelObservation>(.anonymous)
        do {
            try await client.send { session in
                var observation = ModelObservation.anonymous
                if let user = try await session.userID { observation.user = ModelWorld.users.firstIndex(of: user) ?? -1 }
                for (index, key) in keys.enumerated() { observation.values[index] = try await session.get(key) }
                seen.withLock { $0 = observation }
                switch step {
                case .write(_, let key, let value): try await session.set(keys[key], value)
                case .increment(_, let key): try await session.increment(keys[key])
                case .remove(_, let key): try await session.remove(keys[key])
                case .signIn(_, let user): try await session.signIn(userID: ModelWorld.users[user])
                case .regenerate: try await session.regenerate()
                case .signOut: try session.destroy()
                case .signOutEverywhere: try await session.signOutOtherSessions()
                default: break
                }
            }
        } catch SessionError.Code.tooManySessions {
            return (seen.withLock { $0 }, .tooManySessions)
        }
        return (seen.withLock { $0 }, .ok)
    }

    private func check(
        _ step: ModelStep,
        observed: ModelObservation,
        outcome: ModelOutcome,
        expected: ModelObservation,
        expectedOutcome: ModelOutcome,
        ignoring ignored: Set<Int>
    ) throws {
        guard outcome == expectedOutcome else {
            throw ModelCheckFailure(message: "\(step) ended \(outcome), the model says \(expectedOutcome)")
        }
        var seen = observed
        var predicted = expected
        for key in ignored {
            seen.values[key] = nil
            predicted.values[key] = nil
        }
        guard seen == predicted else {
            throw ModelCheckFailure(message: "\(step) saw \(observed), the model says \(expected)")
        }
    }

    /// Records a new cookie with what the model says about its session, and checks that a
    /// step that gave the browser a new session also gave it a new cookie.
    private mutating func noteCookie(of browser: Int, before: String?, serialBefore: Int?, step: ModelStep) throws {
        let after = browsers[browser].cookie
        let session = model.live(browser)
        if let session, session.serial != serialBefore, after == before {
            throw ModelCheckFailure(message: "\(step) gave b\(browser) a new session but no new cookie")
        }
        guard let after, after != before else { return }
        guard let session else {
            throw ModelCheckFailure(message: "\(step) gave b\(browser) a cookie, but the model says it has no session")
        }
        issued[browser].append(
            ModelRunner.IssuedCookie(
                value: after,
                serial: session.serial,
                user: session.user,
                epoch: session.user.map { model.epochs[$0] } ?? 0,
                expiresAt: min(session.idleDeadline, session.absoluteDeadline)
            )
        )
    }

    /// Every cookie this browser held whose session is over must be anonymous and empty.
    private mutating func replayDeadCookies(of browser: Int) async throws {
        let current = model.live(browser)?.serial
        for cookie in issued[browser].suffix(8) {
            let dead: Bool
            if model.sealed {
                let revoked = cookie.user.map { model.epochs[$0] > cookie.epoch } ?? false
                dead = revoked || model.now >= cookie.expiresAt
            } else {
                dead = cookie.serial != current
            }
            guard dead else { continue }
            coverage.deadCookiesReplayed += 1
            let replay = EngineTestClient(engine: engine)
            replay.cookie = cookie.value
            let (observed, _) = try await Self.send(.visit(browser: browser), from: replay)
            guard observed == .anonymous else {
                throw ModelCheckFailure(message: "a dead cookie of b\(browser) (session \(cookie.serial)) came back as \(observed)")
            }
        }
    }

    /// Each user's live sessions in the store are the model's, within the cap.
    mutating func checkStore() async throws {
        guard let userIndex else { return }
        for (user, name) in ModelWorld.users.enumerated() {
            let stored = try await userIndex.sessions(forUser: name).count
            let expected = model.liveSessions(of: user)
            guard stored == expected, stored <= ModelWorld.sessionCap else {
                throw ModelCheckFailure(
                    message: "the store holds \(stored) live sessions of \(name), the model \(expected) (cap \(ModelWorld.sessionCap))"
                )
            }
        }
    }
}
