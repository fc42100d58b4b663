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
        return ConstantTime.equal(Array(decoded), expected)
    }
}

/// `Authorization: Bearer TOKEN` on every request but the open paths (the LB's admin port with
/// `admin_token`), else 401.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    private let token: [UInt8]
    private let open: Set<String>

    public init(token: String, open: Set<String>) {
        self.token = Array(token.utf8)
        self.open = open
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let given = header.count < 4096 && header.lowercased().hasPrefix("bearer ") ? Array(header.utf8.dropFirst(7)) : []
        if open.contains(request.uri.path) || ConstantTime.equal(given, token) { return try await next(request, context) }
        var refused = JSONResponse.error(APIError(status: 401, message: "a bearer token is required"))
        refused.headers[.wwwAuthenticate] = #"Bearer realm="Pacer""#
        return refused
    }
}

/// Secrets are compared in constant time: every byte, whatever the first difference; only the
/// length shows.
public enum ConstantTime {
    public static func equal(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<max(given.count, expected.count) {
            difference |= (i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0)
        }
        return difference == 0
    }
}
