import Foundation

/// Marathon's timestamps: ISO-8601, UTC, milliseconds (`2015-08-26T20:23:39.463Z`).
/// Also the app `version` format, so ordering strings orders versions.
public enum Timestamp {
    /// Written by hand for the years 1970–9999 (the same text `Date.ISO8601FormatStyle` writes:
    /// `TimestampTests` compares them): `/v2/tasks` writes two per task, and the format style's
    /// ~2 µs each was a large part of answering for 50,000 tasks (issue 12).
    public static func string(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        guard t >= 0, t < 253_402_300_800 else { return date.formatted(style) }
        // Truncated to the millisecond, from the seconds since 2001 as the format style counts
        // (from 1970 the last digit differs one time in seven).
        let r = date.timeIntervalSinceReferenceDate
        let whole = r.rounded(.down)
        let ms = (Int(whole) + 978_307_200) * 1000 + Int(((r - whole) * 1000).rounded(.down))
        let (days, inDay) = (ms / 86_400_000, ms % 86_400_000)
        let (y, m, d) = civil(days)
        let (hh, mm, ss, fff) = (inDay / 3_600_000, inDay / 60_000 % 60, inDay / 1000 % 60, inDay % 1000)
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ value: Int, _ width: Int, at i: Int) {
                var v = value
                for k in stride(from: i + width - 1, through: i, by: -1) {
                    out[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(y, 4, at: 0)
            out[4] = UInt8(ascii: "-")
            put(m, 2, at: 5)
            out[7] = UInt8(ascii: "-")
            put(d, 2, at: 8)
            out[10] = UInt8(ascii: "T")
            put(hh, 2, at: 11)
            out[13] = UInt8(ascii: ":")
            put(mm, 2, at: 14)
            out[16] = UInt8(ascii: ":")
            put(ss, 2, at: 17)
            out[19] = UInt8(ascii: ".")
            put(fff, 3, at: 20)
            out[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civil(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The formatter truncates to the millisecond, and 1700000000.001 s is stored a hair below
    /// .001: half a microsecond on top makes an instant print as the millisecond it names.
    public static func string(_ instant: Instant) -> String { string(instant.addingTimeInterval(0.000_000_5).date) }
    public static func parse(_ s: String) -> Date? {
        (try? Date(s, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(s, strategy: Date.ISO8601FormatStyle()))
    }
}
