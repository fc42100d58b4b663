/// Mesos task states, spelled as on the wire.
public enum TaskState: String, Codable, Sendable, CaseIterable {
    case staging = "TASK_STAGING"
    case starting = "TASK_STARTING"
    case running = "TASK_RUNNING"
    case finished = "TASK_FINISHED"
    case failed = "TASK_FAILED"
    case killing = "TASK_KILLING"
    case killed = "TASK_KILLED"
    case lost = "TASK_LOST"
    case unreachable = "TASK_UNREACHABLE"
    case gone = "TASK_GONE"
    case dropped = "TASK_DROPPED"
    case error = "TASK_ERROR"

    /// The process is gone for good; resources are free again.
    public var isTerminal: Bool {
        switch self {
        case .finished, .failed, .killed, .lost, .gone, .dropped, .error: true
        case .staging, .starting, .running, .killing, .unreachable: false
        }
    }
}
