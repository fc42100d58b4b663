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
        // YYYY-MM-DDTHH:MM:SS.fffZ: each field's digits, then the character after it.
        let fields: [(value: Int, width: Int, then: Unicode.Scalar)] = [
            (y, 4, "-"), (m, 2, "-"), (d, 2, "T"), (hh, 2, ":"), (mm, 2, ":"), (ss, 2, "."), (fff, 3, "Z")
        ]
        return String(unsafeUninitializedCapacity: 24) { out in
            var i = 0
            for field in fields {
                var v = field.value
                for k in stride(from: i + field.width - 1, through: i, by: -1) {
                    out[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                i += field.width
                out[i] = UInt8(ascii: field.then)
                i += 1
            }
            return i
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
