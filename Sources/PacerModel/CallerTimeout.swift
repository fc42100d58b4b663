/// The header in which Pacer's clients say how long they wait for an answer: the milliseconds
/// left of their timeout when the request goes out (relative, as gRPC's `grpc-timeout`, so the
/// clocks of caller and server need not agree). Servers use it not to work on requests whose
/// callers gave up (`CallerDeadline` in PacerServerKit).
public enum CallerTimeout {
    public static let header = "Pacer-Timeout-Ms"

    /// The header's value for a request sent with `remaining` to wait: whole milliseconds, at least 1.
    public static func value(remaining: Duration) -> String {
        "\(max(1, Int(remaining.seconds * 1_000)))"
    }
}
