import Foundation

/// The command line every benchmark server takes: `--config NAME --port N`.
///
/// The routes are the same in every server: `GET /plain` never touches the session,
/// `GET /read` reads the integer `n`, `GET /counter` increments it (creating a session when
/// the request has none).
public struct BenchOptions: Sendable {
    /// Which session setup to serve, e.g. `bare`, `sessionkit-memory`, `hb-auth-memory`.
    public var config: String
    /// The loopback port to listen on.
    public var port: Int

    /// Parses `--config NAME --port N`; exits with a usage message on anything else.
    public static func parse(_ arguments: [String] = Array(CommandLine.arguments.dropFirst()), configs: [String]) -> BenchOptions {
        var config: String?
        var port = 8080
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch (argument, value) {
            case ("--config", let value?): config = value
            case ("--port", let value?) where Int(value) != nil: port = Int(value) ?? port
            default: usage("unexpected argument \(argument)", configs: configs)
            }
            index += 2
        }
        guard let config, configs.contains(config) else { usage("--config is required", configs: configs) }
        return BenchOptions(config: config, port: port)
    }

    private static func usage(_ problem: String, configs: [String]) -> Never {
        FileHandle.standardError.write(Data("\(problem)\nusage: --config {\(configs.joined(separator: "|"))} [--port N]\n".utf8))
        exit(2)
    }
}
