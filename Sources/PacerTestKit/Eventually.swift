import Foundation

/// Waits for a condition with a deadline instead of sleeping a guessed time.
public enum Eventually {
    public struct TimedOut: Error, CustomStringConvertible {
        public let what: String
        public let seconds: Double
        public var description: String { "timed out after \(seconds) s waiting for: \(what)" }
    }

    @discardableResult
    public static func value<T: Sendable>(
        _ what: String, within seconds: Double = 10, every: Duration = .milliseconds(100),
        _ probe: () async throws -> T?
    ) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let v = try? await probe() { return v }
            if Date() > deadline { throw TimedOut(what: what, seconds: seconds) }
            try await Task.sleep(for: every)
        }
    }

    public static func that(_ what: String, within seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
        try await value(what, within: seconds) { try await condition() ? true : nil }
    }
}
