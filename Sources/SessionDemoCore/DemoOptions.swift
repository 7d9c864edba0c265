/// Command-line options of `session-demo`.
public struct DemoOptions: Sendable, Equatable {
    /// Where sessions are stored.
    public enum StoreSpec: Sendable, Equatable {
        /// The in-process memory store.
        case memory
        /// Sealed client-side cookies (keys from `SESSIONKIT_KEYS`, or a generated one).
        case cookie
        /// An SQLite file.
        case sqlite(path: String)
        /// A PostgreSQL server, or a primary and its standbys
        /// (`postgres://user:pass@host:port[,host:port…]/db?sslmode=disable|prefer|require`).
        case postgres(url: String)
        /// A Redis or Valkey server (`redis://[user[:pass]@]host[:port][/db]`, `rediss://` for TLS),
        /// a cluster (`redis-cluster://[user[:pass]@]host:port[,host:port…]`, `rediss-cluster://`),
        /// or a primary that Sentinels fail over (`redis-sentinel://host:port[,host:port…][/db]#NAME`).
        case redis(url: String)
    }

    /// The store `session-demo` uses when `--store` is not given: a file next to it, so
    /// sessions survive restarts.
    public static let defaultCommandLineStore = StoreSpec.sqlite(path: "./session-demo.sqlite")

    /// The address to listen on (default 127.0.0.1).
    public var host: String
    /// The port to listen on (default 8080; 0 picks a free one).
    public var port: Int
    /// The session store.
    public var store: StoreSpec
    /// Whether the cookie is `Secure` with the `__Host-` prefix (needs HTTPS).
    public var secureCookies: Bool
    /// Serve the engine's metrics at `GET /metrics` in Prometheus' text format (`--metrics`).
    public var metrics = false
    /// How many sessions the memory store keeps (`--store memory`); when full it evicts
    /// anonymous sessions first.
    public var memoryCapacity: Int = 100_000
    /// How long after its last write a session that is only read is touched again
    /// (`--touch-interval SECONDS`; `nil` keeps the engine's default of 60 s).
    public var touchInterval: Duration?

    /// Creates options; the defaults serve http://127.0.0.1:8080 from memory (the command line
    /// defaults to ``defaultCommandLineStore`` instead).
    public init(host: String = "127.0.0.1", port: Int = 8080, store: StoreSpec = .memory, secureCookies: Bool = false) {
        self.host = host
        self.port = port
        self.store = store
        self.secureCookies = secureCookies
    }

    /// The usage text.
    public static let usage = """
        usage: session-demo [--host ADDRESS] [--port PORT] [--store STORE] [--secure-cookies]
          --host ADDRESS     address to listen on (default 127.0.0.1)
          --port PORT        port to listen on (default 8080)
          --store STORE      session store (default sqlite:./session-demo.sqlite):
                               memory
                               sqlite:PATH
                               postgres://USER:PASS@HOST:PORT[,HOST:PORT…]/DB[?sslmode=disable|prefer|require]
                                        (several hosts: a primary and its standbys; the
                                        demo follows whichever takes writes; add
                                        &touch_commit=asynchronous so touches do not wait
                                        for a synchronous standby)
                               redis://[USER[:PASS]@]HOST[:PORT][/DB]  (rediss:// for TLS)
                               redis-cluster://[USER[:PASS]@]HOST:PORT[,HOST:PORT…]
                                        (a Redis/Valkey Cluster; rediss-cluster:// for TLS)
                               redis-sentinel://HOST:PORT[,HOST:PORT…][/DB]#PRIMARY_NAME
                                        (a primary that Redis Sentinel fails over; add
                                        ?acknowledge=none|critical|all to any Redis URL to
                                        choose which writes wait for a replica; add
                                        ?client_cache=on to a redis:// or redis-sentinel:// URL to serve repeated
                                        loads from memory, kept consistent by CLIENT TRACKING)
                               cookie   (sealed cookies; keys from SESSIONKIT_KEYS,
                                         else a throwaway key)
          --secure-cookies   send the cookie as `__Host-id; Secure` (only works over HTTPS)
          --memory-capacity N  sessions the memory store keeps (default 100000)
          --touch-interval SECONDS  touch a session that is only read at most this often
                             (default 60; 0 touches on every request)
          --metrics          serve the engine's metrics at GET /metrics (Prometheus text format)
        """

    /// Parses command-line arguments (without the program name).
    public static func parse(_ arguments: [String]) throws(DemoOptionsError) -> DemoOptions {
        var options = DemoOptions(store: defaultCommandLineStore)
        var remaining = arguments[...]
        func value(for flag: String) throws(DemoOptionsError) -> String {
            guard let value = remaining.popFirst() else { throw DemoOptionsError("\(flag) needs a value") }
            return value
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "--host":
                options.host = try value(for: argument)
            case "--port":
                let text = try value(for: argument)
                guard let port = Int(text), (0...65_535).contains(port) else { throw DemoOptionsError("--port must be 0...65535, got \(text)") }
                options.port = port
            case "--store":
                options.store = try parseStore(try value(for: argument))
            case "--secure-cookies":
                options.secureCookies = true
            case "--metrics":
                options.metrics = true
            case "--memory-capacity":
                let text = try value(for: argument)
                guard let capacity = Int(text), capacity > 0 else {
                    throw DemoOptionsError("--memory-capacity must be a positive number, got \(text)")
                }
                options.memoryCapacity = capacity
            case "--touch-interval":
                let text = try value(for: argument)
                guard let seconds = Int(text), seconds >= 0 else {
                    throw DemoOptionsError("--touch-interval must be a number of seconds (0 or more), got \(text)")
                }
                options.touchInterval = .seconds(seconds)
            case "--help", "-h":
                throw DemoOptionsError(usage)
            default:
                throw DemoOptionsError("unknown argument \(argument)\n\(usage)")
            }
        }
        return options
    }

    /// The URL schemes the Redis store takes: one server, a cluster, a Sentinel-watched primary.
    private static let redisSchemes = ["redis://", "rediss://", "redis-cluster://", "rediss-cluster://", "redis-sentinel://", "rediss-sentinel://"]

    static func parseStore(_ text: String) throws(DemoOptionsError) -> StoreSpec {
        switch text {
        case "memory": return .memory
        case "cookie": return .cookie
        case _ where text.hasPrefix("sqlite:"):
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw DemoOptionsError("--store sqlite:PATH needs a path") }
            return .sqlite(path: path)
        case _ where text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"):
            return .postgres(url: text)
        case _ where redisSchemes.contains(where: text.hasPrefix):
            return .redis(url: text)
        default:
            throw DemoOptionsError(
                "unsupported --store \(text): use memory, cookie, sqlite:PATH, postgres://…, redis://…, redis-cluster://… or redis-sentinel://…"
            )
        }
    }
}

/// A command-line mistake, with the message to print.
public struct DemoOptionsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
