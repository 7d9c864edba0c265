import Logging
import SessionKit

/// Every log line a test's loggers emit, rendered as text, for asserting what was (and was
/// never) logged: label, level, message, all metadata (handler and event), error and source.
public final class LogCapture: Sendable {
    private let lines = LockedValue<[String]>([])

    /// Creates an empty capture.
    public init() {}

    /// The lines captured so far, oldest first.
    public var all: [String] { lines.withLock { $0 } }

    /// Adds one rendered line.
    public func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// A logger at `.trace` whose every event lands here.
    public func logger(label: String = "SessionKitTests") -> Logger {
        var logger = Logger(label: label) { label in CapturingLogHandler(label: label, capture: self) }
        logger.logLevel = .trace
        return logger
    }
}

/// A swift-log handler that renders each event completely into a ``LogCapture``.
public struct CapturingLogHandler: LogHandler {
    /// The logger's label, first on every line.
    public let label: String
    /// Where the lines go.
    public let capture: LogCapture
    /// The handler's own metadata, merged into every line.
    public var metadata: Logger.Metadata = [:]
    /// The lowest level captured.
    public var logLevel: Logger.Level = .trace

    /// Creates a handler writing into `capture`.
    public init(label: String, capture: LogCapture) {
        self.label = label
        self.capture = capture
    }

    /// The handler's metadata value for `key`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Renders the event as `label [level] message {key=value …} source=… error=…`.
    public func log(event: LogEvent) {
        var merged = metadata
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var line = "\(label) [\(event.level)] \(event.message) {\(rendered)} source=\(event.source)"
        if let error = event.error { line += " error=\(String(reflecting: error))" }
        capture.append(line)
    }
}
