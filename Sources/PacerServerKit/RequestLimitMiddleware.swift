import Hummingbird
import PacerModel
import Synchronization

/// Marathon's `--http_max_concurrent_requests`: above the bound a request is answered 503 at once
/// (with `Retry-After`), never put in an unbounded queue — 1,000 slow clients must not take the
/// API's memory and the leader's time from everyone else (RELIABILITY A9). A request counts until
/// its handler returns its response: a body being trickled in counts, an event stream already
/// answered does not.
public struct RequestLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    private final class InFlight: Sendable {
        let count = Atomic<Int>(0)
    }

    public let limit: Int
    private let inFlight = InFlight()

    public init(limit: Int) {
        precondition(limit > 0, "a request limit must let at least one request in")
        self.limit = limit
    }

    /// Requests being handled now.
    public var current: Int { inFlight.count.load(ordering: .relaxed) }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let (_, now) = inFlight.count.add(1, ordering: .relaxed)
        defer { inFlight.count.subtract(1, ordering: .relaxed) }
        guard now <= limit else {
            var refused = JSONResponse.error(
                APIError(
                    status: 503,
                    message: "more than \(limit) API requests at once (--http-max-concurrent-requests): retry in a second"))
            refused.headers[.retryAfter] = "1"
            return refused
        }
        return try await next(request, context)
    }
}
