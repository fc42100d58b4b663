import Foundation
import PacerModel

/// Marathon's launch backoff: after each failure the next launch waits `backoffSeconds`,
/// then that × `backoffFactor`, … capped at `maxLaunchDelaySeconds`. A config change resets it.
public struct LaunchDelay: Sendable, Equatable {
    public var current: Double
    public var until: Instant

    public static func afterFailure(_ previous: LaunchDelay?, app: AppDefinition, now: Instant) -> LaunchDelay {
        let next =
            previous.map { min($0.current * app.backoffFactor, app.maxLaunchDelaySeconds) }
            ?? min(app.backoffSeconds, app.maxLaunchDelaySeconds)
        return LaunchDelay(current: next, until: now.addingTimeInterval(next))
    }
}
