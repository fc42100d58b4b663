import Foundation

/// Marathon's timestamps: ISO-8601, UTC, milliseconds (`2015-08-26T20:23:39.463Z`).
/// Also the app `version` format, so ordering strings orders versions.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
    /// The formatter truncates to the millisecond, and 1700000000.001 s is stored a hair below
    /// .001: half a microsecond on top makes an instant print as the millisecond it names.
    public static func string(_ instant: Instant) -> String { string(instant.addingTimeInterval(0.000_000_5).date) }
    public static func parse(_ s: String) -> Date? {
        (try? Date(s, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(s, strategy: Date.ISO8601FormatStyle()))
    }
}
