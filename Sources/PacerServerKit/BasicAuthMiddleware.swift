import Foundation
import Hummingbird
import PacerModel

/// Marathon's `--http_credentials user:password`: every request but `/ping` must carry them as
/// HTTP Basic, else 401 with `WWW-Authenticate` (Marathon's clients and marathon-lb send them).
/// Compared in constant time, so the time an answer takes says nothing about the password.
public struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    private let expected: [UInt8]
    private static var open: Set<String> { ["/ping"] }

    /// `credentials`: `user:password`.
    public init(credentials: String) {
        expected = Array(credentials.utf8)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if Self.open.contains(request.uri.path) || Self.matches(request.headers[.authorization], expected) {
            return try await next(request, context)
        }
        var refused = JSONResponse.error(APIError(status: 401, message: "credentials required (HTTP Basic)"))
        refused.headers[.wwwAuthenticate] = #"Basic realm="Pacer""#
        return refused
    }

    static func matches(_ header: String?, _ expected: [UInt8]) -> Bool {
        guard let header, header.count < 4096, header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces))
        else { return false }
        let given = Array(decoded)
        // Every byte is compared whatever the first difference; only the length shows.
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<max(given.count, expected.count) {
            difference |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
        }
        return difference == 0
    }
}
