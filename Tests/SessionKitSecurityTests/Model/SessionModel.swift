import Foundation
import SessionKitTesting

/// One step of a model-based program: a request from one browser, a clock jump, a replay of
/// cookies a browser held before, or requests sent at the same time.
indirect enum ModelStep: Sendable, Equatable, CustomStringConvertible {
    case visit(browser: Int)
    case write(browser: Int, key: Int, value: Int)
    /// `increment` of one key: concurrent increments of one key commute.
    case increment(browser: Int, key: Int)
    case remove(browser: Int, key: Int)
    case signIn(browser: Int, user: Int)
    case regenerate(browser: Int)
    case signOut(browser: Int)
    case signOutEverywhere(browser: Int)
    /// Sends every cookie the browser held that the model says is dead; each must be anonymous.
    case replay(browser: Int)
    case advance(seconds: Int)
    /// Requests in flight at once (run one after another when the model says their effects
    /// would depend on the order).
    case together([ModelStep])

    var browser: Int? {
        switch self {
        case .visit(let browser), .write(let browser, _, _), .increment(let browser, _), .remove(let browser, _), .signIn(let browser, _),
            .regenerate(let browser),
            .signOut(let browser), .signOutEverywhere(let browser), .replay(let browser):
            return browser
        case .advance, .together: return nil
        }
    }

    /// The key a write or remove changes.
    var changedKey: Int? {
        switch self {
        case .write(_, let key, _), .increment(_, let key), .remove(_, let key): return key
        default: return nil
        }
    }

    var isIncrement: Bool {
        if case .increment = self { return true }
        return false
    }

    var isLifecycleChange: Bool {
        switch self {
        case .signIn, .regenerate, .signOut, .signOutEverywhere: return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case .visit(let b): return "visit(b\(b))"
        case .write(let b, let key, let value): return "write(b\(b), k\(key)=\(value))"
        case .increment(let b, let key): return "increment(b\(b), k\(key))"
        case .remove(let b, let key): return "remove(b\(b), k\(key))"
        case .signIn(let b, let user): return "signIn(b\(b), \(ModelWorld.users[user]))"
        case .regenerate(let b): return "regenerate(b\(b))"
        case .signOut(let b): return "signOut(b\(b))"
        case .signOutEverywhere(let b): return "signOutEverywhere(b\(b))"
        case .replay(let b): return "replay(b\(b))"
        case .advance(let seconds): return "advance(\(seconds)s)"
        case .together(let steps): return "together[" + steps.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// The fixed cast and timeouts of every program.
enum ModelWorld {
    static let users = ["alice", "bob"]
    static let browsers = 4
    static let keys = 3
    /// Half-second and quarter-second offsets: requests happen on whole seconds, so no request
    /// ever lands exactly on an expiry instant (stores differ on `<` versus `<=` there).
    static let idleTimeout = 100.5
    static let absoluteTimeout = 300.25
    static let sessionCap = 2
}

enum ModelProgram {
    /// A random program of `count` steps.
    static func generate(seed: UInt64, count: Int) -> [ModelStep] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in step(&random, allowGroups: true) }
    }

    private static func step(_ random: inout SplitMix64, allowGroups: Bool) -> ModelStep {
        let browser = Int.random(in: 0..<ModelWorld.browsers, using: &random)
        let key = Int.random(in: 0..<ModelWorld.keys, using: &random)
        let user = Int.random(in: 0..<ModelWorld.users.count, using: &random)
        let roll = Int.random(in: 0..<(allowGroups ? 100 : 82), using: &random)
        switch roll {
        case 0..<14: return .visit(browser: browser)
        case 14..<24: return .increment(browser: browser, key: key)
        case 24..<38: return .write(browser: browser, key: key, value: Int.random(in: 0..<1000, using: &random))
        case 38..<46: return .remove(browser: browser, key: key)
        case 46..<58: return .signIn(browser: browser, user: user)
        case 58..<63: return .regenerate(browser: browser)
        case 63..<70: return .signOut(browser: browser)
        case 70..<74: return .signOutEverywhere(browser: browser)
        case 74..<82: return .replay(browser: browser)
        case 82..<90: return .advance(seconds: [1, 5, 30, 60, 99, 150].randomElement(using: &random) ?? 1)
        default:
            let size = Int.random(in: 2...3, using: &random)
            // One group in four: one browser's concurrent increments of one key.
            if Int.random(in: 0..<4, using: &random) == 0 {
                return .together(Array(repeating: .increment(browser: browser, key: key), count: size))
            }
            return .together((0..<size).map { _ in requestStep(&random) })
        }
    }

    /// A step that is one request (what a group holds).
    private static func requestStep(_ random: inout SplitMix64) -> ModelStep {
        while true {
            let step = step(&random, allowGroups: false)
            if step.browser != nil, !isReplay(step) { return step }
        }
    }

    private static func isReplay(_ step: ModelStep) -> Bool {
        if case .replay = step { return true }
        return false
    }
}

/// What a request saw of its session before it acted.
struct ModelObservation: Sendable, Equatable, CustomStringConvertible {
    var user: Int?
    var values: [Int: Int]

    static let anonymous = ModelObservation(user: nil, values: [:])

    var description: String {
        let user = self.user.map { ModelWorld.users[$0] } ?? "nobody"
        let values = self.values.sorted { $0.key < $1.key }.map { "k\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(user){\(values)}"
    }
}

/// How a request ended.
enum ModelOutcome: Sendable, Equatable {
    case ok
    case tooManySessions
}

/// The reference model: what every browser's session must be after each step, on a
/// server-side store (every ended session is dead at once) or on sealed cookies (a signed-in
/// user's sessions end together through the revocation epoch; an old anonymous cookie cannot
/// be recalled, so the model never replays one).
struct SessionModel: Sendable {
    struct Session: Sendable, Equatable {
        /// Changes on every new token (create, rotate); touches keep it.
        var serial: Int
        var user: Int?
        var values: [Int: Int]
        var idleDeadline: Double
        var absoluteDeadline: Double
    }

    let sealed: Bool
    /// ``ModelWorld/idleTimeout``, unless a self-test breaks the model on purpose.
    let idleTimeout: Double
    /// Seconds since the start.
    var now: Double = 0
    var browsers: [Session?] = Array(repeating: nil, count: ModelWorld.browsers)
    /// Sealed cookies: each user's revocation epoch.
    var epochs = Array(repeating: 0, count: ModelWorld.users.count)
    private var nextSerial = 1
    /// How many sessions the model saw expire (for the coverage report).
    private(set) var expiries = 0

    init(sealed: Bool, idleTimeout: Double = ModelWorld.idleTimeout) {
        self.sealed = sealed
        self.idleTimeout = idleTimeout
    }

    /// The browser's session if it is live now; drops it once expired.
    mutating func live(_ browser: Int) -> Session? {
        guard let session = browsers[browser] else { return nil }
        guard now < min(session.idleDeadline, session.absoluteDeadline) else {
            browsers[browser] = nil
            expiries += 1
            return nil
        }
        return session
    }

    /// Live sessions of `user` held by browsers other than `excluded`.
    mutating func liveSessions(of user: Int, excluding excluded: Int? = nil) -> Int {
        (0..<ModelWorld.browsers).filter { $0 != excluded && live($0)?.user == user }.count
    }

    /// Applies one request step; returns what it must observe and how it must end.
    mutating func apply(_ step: ModelStep) -> (ModelObservation, ModelOutcome) {
        guard let browser = step.browser else { return (.anonymous, .ok) }
        let session = live(browser)
        let observed = session.map { ModelObservation(user: $0.user, values: $0.values) } ?? .anonymous
        switch step {
        case .visit:
            touch(browser)
        case .write(_, let key, let value):
            if session == nil {
                browsers[browser] = newSession(user: nil, values: [key: value])
            } else {
                browsers[browser]?.values[key] = value
                touch(browser)
            }
        case .increment(_, let key):
            if session == nil {
                browsers[browser] = newSession(user: nil, values: [key: 1])
            } else {
                browsers[browser]?.values[key, default: 0] += 1
                touch(browser)
            }
        case .remove(_, let key):
            guard var current = session else { break }
            current.values[key] = nil
            browsers[browser] = current
            // A sealed cookie left empty is deleted; a server-side record stays until it expires.
            if sealed, current.values.isEmpty, current.user == nil { browsers[browser] = nil } else { touch(browser) }
        case .signIn(_, let user):
            if !sealed, liveSessions(of: user, excluding: browser) >= ModelWorld.sessionCap { return (observed, .tooManySessions) }
            let carried = session?.user == nil || session?.user == user ? session?.values ?? [:] : [:]
            browsers[browser] = newSession(user: user, values: carried)
        case .regenerate:
            guard var current = session else { break }
            if current.values.isEmpty, current.user == nil {
                browsers[browser] = nil
            } else {
                current.serial = takeSerial()
                current.idleDeadline = min(now + idleTimeout, current.absoluteDeadline)
                browsers[browser] = current
            }
        case .signOut:
            guard let current = session else { break }
            if sealed, let user = current.user {
                endSessions(of: user, except: nil)
            } else {
                browsers[browser] = nil
            }
        case .signOutEverywhere:
            guard let current = session else { break }
            if let user = current.user { endSessions(of: user, except: browser) }
            touch(browser)
        case .replay, .advance, .together:
            break
        }
        return (observed, .ok)
    }

    mutating func advance(by seconds: Int) { now += Double(seconds) }

    private mutating func endSessions(of user: Int, except kept: Int?) {
        if sealed { epochs[user] += 1 }
        for other in 0..<ModelWorld.browsers where other != kept && browsers[other]?.user == user {
            browsers[other] = nil
        }
    }

    private mutating func touch(_ browser: Int) {
        guard var session = browsers[browser] else { return }
        session.idleDeadline = min(now + idleTimeout, session.absoluteDeadline)
        browsers[browser] = session
    }

    private mutating func newSession(user: Int?, values: [Int: Int]) -> Session {
        Session(
            serial: takeSerial(),
            user: user,
            values: values,
            idleDeadline: now + idleTimeout,
            absoluteDeadline: now + ModelWorld.absoluteTimeout
        )
    }

    private mutating func takeSerial() -> Int {
        defer { nextSerial += 1 }
        return nextSerial
    }

    /// Whether the requests of a group have effects and observations that do not depend on
    /// their order, so they can run at once and still be checked exactly: different browsers
    /// whose users no request of the group signs in or out; on a server-side store also several
    /// writes of different keys to one live session, and increments of one key (they add up in
    /// any order: the atomic increment must lose none).
    mutating func commute(_ steps: [ModelStep]) -> Bool {
        var usersChanged: [Set<Int>] = []
        var usersRead: [Set<Int>] = []
        for step in steps {
            guard let browser = step.browser else { return false }
            let user = live(browser)?.user
            var changed = Set<Int>()
            if step.isLifecycleChange, let user { changed.insert(user) }
            if case .signIn(_, let target) = step { changed.insert(target) }
            usersChanged.append(changed)
            usersRead.append(user.map { [$0] } ?? [])
        }
        for first in steps.indices {
            for second in steps.indices where second > first {
                let a = steps[first]
                let b = steps[second]
                if !usersChanged[first].isDisjoint(with: usersChanged[second].union(usersRead[second])) { return false }
                if !usersChanged[second].isDisjoint(with: usersRead[first]) { return false }
                guard a.browser == b.browser else { continue }
                // One browser: only plain requests on a live server-side session, each write to its own key.
                guard let browser = a.browser, !sealed, live(browser) != nil, !a.isLifecycleChange, !b.isLifecycleChange else { return false }
                if let key = a.changedKey, key == b.changedKey, !(a.isIncrement && b.isIncrement) { return false }
            }
        }
        return true
    }
}
