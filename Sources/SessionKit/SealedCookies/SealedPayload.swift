import Foundation

/// What a sealed cookie carries: the session record and the user's revocation epoch.
///
/// Encoded as a fixed binary layout (all integers big-endian):
/// `format (1) | createdAt, lastSeenAt, idleExpiresAt, absoluteExpiresAt (ms, 4 × 8) |
/// epoch (8) | user length (2, 0xFFFF = none) | user | count (2) | (key length (2) | key |
/// value length (4) | JSON value)*`. Values stay JSON; nothing decodes arbitrary types. The
/// decoder checks every length and is only ever run on authenticated plaintext.
struct SealedPayload: Equatable {
    static let format: UInt8 = 1

    var record: SessionRecord
    var epoch: UInt64

    init(record: SessionRecord, epoch: UInt64) {
        self.record = record
        self.epoch = epoch
    }

    /// The largest instant the layout carries, in milliseconds either side of 1970 (2^53, where
    /// a `Double` stops holding every integer; about 285,000 years). The decoder refuses larger
    /// ones, so whatever it accepts encodes back without overflowing `Int64`.
    static let maxMillis: Int64 = 1 << 53

    /// An instant in whole milliseconds, clamped to ``maxMillis``.
    static func millis(_ date: Date) -> Int64 {
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        guard millis.isFinite else { return millis > 0 ? maxMillis : -maxMillis }
        return Int64(max(-Double(maxMillis), min(Double(maxMillis), millis)))
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.format]
        bytes.reserveCapacity(64 + record.data.reduce(0) { $0 + $1.key.utf8.count + $1.value.count + 6 })
        for date in [record.createdAt, record.lastSeenAt, record.idleExpiresAt, record.absoluteExpiresAt] {
            append(UInt64(bitPattern: Self.millis(date)), 8, to: &bytes)
        }
        append(epoch, 8, to: &bytes)
        if let user = record.userID {
            let utf8 = Array(user.utf8.prefix(0xFFFE))
            append(UInt64(utf8.count), 2, to: &bytes)
            bytes += utf8
        } else {
            append(0xFFFF, 2, to: &bytes)
        }
        let entries = record.data.sorted { $0.key < $1.key }.prefix(0xFFFF)
        append(UInt64(entries.count), 2, to: &bytes)
        for (key, value) in entries {
            let name = Array(key.utf8.prefix(0xFFFF))
            append(UInt64(name.count), 2, to: &bytes)
            bytes += name
            append(UInt64(value.count), 4, to: &bytes)
            bytes += value
        }
        return bytes
    }

    init?(decoding bytes: [UInt8]) {
        var reader = ByteReader(bytes: bytes)
        guard reader.read(1) == UInt64(Self.format) else { return nil }
        var dates: [Date] = []
        for _ in 0..<4 {
            guard let millis = reader.read(8).map({ Int64(bitPattern: $0) }), (-Self.maxMillis...Self.maxMillis).contains(millis) else {
                return nil
            }
            dates.append(Date(timeIntervalSince1970: Double(millis) / 1000))
        }
        guard let epoch = reader.read(8), let userLength = reader.read(2) else { return nil }
        var user: String?
        if userLength != 0xFFFF {
            guard let userBytes = reader.take(Int(userLength)) else { return nil }
            user = String(decoding: userBytes, as: UTF8.self)
        }
        guard let count = reader.read(2) else { return nil }
        var data: [String: Data] = [:]
        for _ in 0..<count {
            guard let nameLength = reader.read(2), let name = reader.take(Int(nameLength)),
                let valueLength = reader.read(4), let value = reader.take(Int(valueLength))
            else { return nil }
            data[String(decoding: name, as: UTF8.self)] = Data(value)
        }
        guard reader.isAtEnd else { return nil }
        self.record = SessionRecord(
            data: data,
            userID: user,
            createdAt: dates[0],
            lastSeenAt: dates[1],
            idleExpiresAt: dates[2],
            absoluteExpiresAt: dates[3]
        )
        self.epoch = epoch
    }

    private func append(_ value: UInt64, _ width: Int, to bytes: inout [UInt8]) {
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

/// A bounds-checked cursor over bytes.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func read(_ width: Int) -> UInt64? {
        guard let slice = take(width) else { return nil }
        return slice.reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }
}
