import Hummingbird
import PacerModel
import Synchronization

/// When the caller of the request being handled gives up, from the `CallerTimeout` header
/// Pacer's own clients send.
///
/// An overloaded process that keeps working on requests whose callers gave up does work nobody
/// reads while the callers' retries queue behind it (issue 12: registrations decoded and applied
/// long after their agents had timed out and sent the next). Where waiting is possible — an actor's
/// queue, a large read — handlers ask `check()` before the expensive part and answer 504 instead.
/// Requests without the header (Marathon's clients, curl) are never cut short.
public enum CallerDeadline {
    /// When the caller of the request this task handles gives up; nil: not said.
    @TaskLocal public static var current: ContinuousClock.Instant?

    /// Whether the caller has given up by now.
    public static var passed: Bool { current.map { ContinuousClock.now >= $0 } ?? false }

    private static let expiredCount = Atomic<Int>(0)
    /// Requests answered 504 unprocessed since the process started (`pacer_http_requests_expired_total`).
    public static var expired: Int { expiredCount.load(ordering: .relaxed) }

    /// Whether the caller has given up; counted when it has, as the request is then not processed.
    public static func gaveUp() -> Bool {
        guard passed else { return false }
        expiredCount.add(1, ordering: .relaxed)
        return true
    }

    /// Throws 504 when the caller has given up: what follows would be done for nobody.
    public static func check() throws(APIError) {
        if gaveUp() { throw expiredError }
    }

    public static var expiredError: APIError {
        APIError(
            status: 504,
            message:
                "the caller's \(CallerTimeout.header) passed before this request's turn; it was not processed (the server is overloaded)"
        )
    }
}

/// Sets `CallerDeadline.current` from the request's header for everything that handles it, and
/// refuses at once a request whose caller gave up while it waited to be read. Goes after
/// `APIErrorMiddleware`, which writes the 504.
public struct CallerDeadlineMiddleware<Context: RequestContext>: RouterMiddleware {
    /// An hour: longer budgets (or nonsense) are taken as no deadline at all.
    private static var longest: Int { 3_600_000 }

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let value = request.headers[.init(CallerTimeout.header)!], let ms = Int(value), ms >= 0,
            ms <= Self.longest
        else { return try await next(request, context) }
        return try await CallerDeadline.$current.withValue(ContinuousClock.now + .milliseconds(ms)) {
            try CallerDeadline.check()
            return try await next(request, context)
        }
    }
}
