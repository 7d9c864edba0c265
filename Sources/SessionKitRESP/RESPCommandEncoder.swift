import NIOCore

/// One command: its name and arguments, each sent as a binary-safe bulk string.
public struct RESPCommand: Sendable, Equatable {
    /// The command name and arguments, in order.
    public var arguments: [[UInt8]]

    /// Creates a command from text arguments.
    public init(_ name: String, _ arguments: [String] = []) {
        self.arguments = [Array(name.utf8)] + arguments.map { Array($0.utf8) }
    }

    /// Creates a command from raw arguments.
    public init(raw arguments: [[UInt8]]) {
        self.arguments = arguments
    }

    /// Appends the command in RESP form: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per argument.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        buffer.writeString(String(arguments.count))
        buffer.writeBytes([0x0D, 0x0A])
        for argument in arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            buffer.writeString(String(argument.count))
            buffer.writeBytes([0x0D, 0x0A])
            buffer.writeBytes(argument)
            buffer.writeBytes([0x0D, 0x0A])
        }
    }
}
