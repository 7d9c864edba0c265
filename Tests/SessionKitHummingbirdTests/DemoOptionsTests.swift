import SessionDemoApp
import SessionKit
import Testing

@Suite("session-demo command line")
struct DemoOptionsTests {
    @Test("--touch-interval sets the engine's touch interval; 0 touches on every request")
    func touchInterval() throws {
        let options = try DemoOptions.parse(["--touch-interval", "0"])
        #expect(options.touchInterval == .zero)
        #expect(DemoSessions.configuration(options).touchInterval == .zero)
        #expect(DemoSessions.configuration(try DemoOptions.parse([])).touchInterval == SessionConfiguration().touchInterval)
    }

    @Test("a negative or non-numeric --touch-interval is refused with the reason", arguments: ["-1", "soon", "1.5"])
    func badTouchInterval(_ text: String) {
        #expect {
            try DemoOptions.parse(["--touch-interval", text])
        } throws: { error in
            "\(error)".contains("--touch-interval must be a number of seconds")
        }
    }
}
