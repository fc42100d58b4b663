import Foundation

/// A point in time as the cores see it: seconds since 1970 on the steady clock (`SteadyClock`:
/// the wall clock read once, advanced since by the monotonic clock), so deadlines never jump with
/// the wall clock (F14) while timestamps stay readable and comparable across restarts. Every
/// core's `now` and deadlines are `Instant`s; every time setting is a `Duration`.
///
/// Encodes as a bare number of seconds, as the `Double`s it replaced did (checkpoints and
/// `/state` keep their shape).
public struct Instant: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var secondsSince1970: Double

    public init(secondsSince1970: Double) { self.secondsSince1970 = secondsSince1970 }
    /// Before anything: "never happened" for last-done times.
    public static let distantPast = Instant(secondsSince1970: -.infinity)
    /// After everything: "nothing due" for next-due times.
    public static let distantFuture = Instant(secondsSince1970: .infinity)
    public init(_ date: Date) { secondsSince1970 = date.timeIntervalSince1970 }

    /// For API timestamps (Marathon's ISO 8601 strings, `Date` fields of the model).
    public var date: Date { Date(timeIntervalSince1970: secondsSince1970) }

    public static func < (a: Instant, b: Instant) -> Bool { a.secondsSince1970 < b.secondsSince1970 }
    public static func + (a: Instant, d: Duration) -> Instant { Instant(secondsSince1970: a.secondsSince1970 + d.seconds) }
    public static func - (a: Instant, d: Duration) -> Instant { Instant(secondsSince1970: a.secondsSince1970 - d.seconds) }
    /// Saturates: from `distantPast` (never) to now is a very long time, not a crash.
    public static func - (a: Instant, b: Instant) -> Duration {
        let seconds = a.secondsSince1970 - b.secondsSince1970
        // About 30 billion years: longer than any timeout, well inside what `Duration` holds.
        let longest = 1e18
        return .seconds(seconds.isNaN ? 0 : min(max(seconds, -longest), longest))
    }
    public static func += (a: inout Instant, d: Duration) { a = a + d }

    /// As `Date.addingTimeInterval`: seconds given as a number (tests, configured seconds).
    public func addingTimeInterval(_ seconds: Double) -> Instant { Instant(secondsSince1970: secondsSince1970 + seconds) }
    /// Seconds from `other` to this instant, as `Date.timeIntervalSince`.
    public func timeIntervalSince(_ other: Instant) -> Double { secondsSince1970 - other.secondsSince1970 }

    public init(from decoder: any Decoder) throws {
        secondsSince1970 = try decoder.singleValueContainer().decode(Double.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(secondsSince1970)
    }

    public var description: String { "\(secondsSince1970)" }
}

/// Literal seconds since 1970: a test's clock starts at `0` or `1_000`.
extension Instant: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    public init(floatLiteral value: Double) { secondsSince1970 = value }
    public init(integerLiteral value: Int) { secondsSince1970 = Double(value) }
}

extension Duration {
    /// This duration in seconds, for arithmetic with rates and for display.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
