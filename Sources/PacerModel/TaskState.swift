/// Mesos task states, spelled as on the wire.
public enum TaskState: String, Codable, Sendable, CaseIterable {
    case staging = "TASK_STAGING", starting = "TASK_STARTING", running = "TASK_RUNNING"
    case finished = "TASK_FINISHED", failed = "TASK_FAILED", killing = "TASK_KILLING", killed = "TASK_KILLED"
    case lost = "TASK_LOST", unreachable = "TASK_UNREACHABLE", gone = "TASK_GONE", dropped = "TASK_DROPPED"
    case error = "TASK_ERROR"

    /// The process is gone for good; resources are free again.
    public var isTerminal: Bool {
        switch self {
        case .finished, .failed, .killed, .lost, .gone, .dropped, .error: true
        case .staging, .starting, .running, .killing, .unreachable: false
        }
    }
}
