import Foundation

/// Encodes and decodes session values to and from JSON, once per change.
///
/// Values are stored as JSON text so every store (SQL `jsonb`, Redis hash fields, sealed
/// cookies) can hold them as they are and merge them per key. The common scalar types skip
/// Foundation's coders: a counter increment or a user name costs no encoder allocation.
enum SessionValueCoder {
    static func encode<Value: Encodable>(_ value: Value) throws -> Data {
        switch value {
        case let number as Int:
            return Data(String(number).utf8)
        case let flag as Bool:
            return Data((flag ? "true" : "false").utf8)
        case let text as String where text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }):
            var data = Data()
            data.reserveCapacity(text.utf8.count + 2)
            data.append(0x22)
            data.append(contentsOf: text.utf8)
            data.append(0x22)
            return data
        default:
            return try JSONEncoder().encode(value)
        }
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        if type == Int.self, let number = Int(String(decoding: data, as: UTF8.self)), let value = number as? Value {
            return value
        }
        if type == String.self, let text = plainString(data), let value = text as? Value {
            return value
        }
        if type == Bool.self, let flag = data.elementsEqual("true".utf8) ? true : data.elementsEqual("false".utf8) ? false : nil,
            let value = flag as? Value
        {
            return value
        }
        return try JSONDecoder().decode(type, from: data)
    }

    /// A JSON string without escapes decodes to its bytes: `"…"` with no `"`, `\` or control
    /// character inside and valid UTF-8. Anything else takes the full JSON decoder.
    private static func plainString(_ data: Data) -> String? {
        data.withUnsafeBytes { bytes -> String? in
            guard bytes.count >= 2, bytes[0] == 0x22, bytes[bytes.count - 1] == 0x22 else { return nil }
            let inner = UnsafeRawBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
            for byte in inner where byte == 0x22 || byte == 0x5C || byte < 0x20 { return nil }
            return String(validating: inner, as: UTF8.self)
        }
    }
}
