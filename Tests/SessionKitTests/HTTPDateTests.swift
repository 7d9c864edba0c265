import Foundation
@testable import SessionKit
import SessionKitTesting
import Testing

@Suite("HTTP date formatting")
struct HTTPDateTests {
    // Expected values from `date -u -d @SECONDS '+%a, %d %b %Y %H:%M:%S GMT'`.
    static let known: [(TimeInterval, String)] = [
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),  // RFC 9110's example
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (1_709_078_400, "Wed, 28 Feb 2024 00:00:00 GMT"),
        (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),  // leap day
        (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),  // leap day of a 400-year century
        (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),  // 2100 is not a leap year…
        (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),  // …so March follows February 28
        (1_740_787_199, "Fri, 28 Feb 2025 23:59:59 GMT"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (1_701_209_600, "Tue, 28 Nov 2023 22:13:20 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (-2_208_988_800, "Mon, 01 Jan 1900 00:00:00 GMT"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ]

    @Test(arguments: known.map(\.0))
    func knownDates(seconds: TimeInterval) throws {
        let expected = try #require(Self.known.first { $0.0 == seconds }?.1)
        #expect(HTTPDate.format(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func fractionalSecondsAreTruncated() {
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 784_111_777.999)) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 0.5)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: -0.5)) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    @Test func matchesDateFormatterOnManyInstants() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var generator = SplitMix64(seed: 2024)
        // 1901 … 2199, whole seconds.
        for _ in 0..<2000 {
            let seconds = TimeInterval(Int64.random(in: -2_147_483_648...7_258_118_399, using: &generator))
            let date = Date(timeIntervalSince1970: seconds)
            #expect(HTTPDate.format(date) == formatter.string(from: date), "at \(Int64(seconds))")
        }
    }

    @Test func everyDayOfALeapYearIsConsecutive() {
        // Walk 2024 day by day: the day of the month must count up and wrap correctly.
        let start: TimeInterval = 1_704_067_200  // Mon, 01 Jan 2024
        let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        let monthLengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var dayIndex = 0
        for (month, length) in monthLengths.enumerated() {
            for day in 1...length {
                let date = Date(timeIntervalSince1970: start + TimeInterval(dayIndex) * 86_400 + 43_200)
                let dayText = day < 10 ? "0\(day)" : "\(day)"
                #expect(HTTPDate.format(date) == "\(weekdays[dayIndex % 7]), \(dayText) \(months[month]) 2024 12:00:00 GMT")
                dayIndex += 1
            }
        }
        #expect(dayIndex == 366)
        #expect(HTTPDate.format(Date(timeIntervalSince1970: start + 366 * 86_400)) == "Wed, 01 Jan 2025 00:00:00 GMT")
    }
}
