import Foundation
import Hummingbird
import PacerModel

/// What a browser may do to the API (A13). A page on another site can make a browser send a
/// form — with the credentials it has cached — but only with a "simple" content type, so changes
/// sent as forms or plain text are refused (415): the API takes JSON. Cross-origin reads stay
/// closed (no CORS headers) unless the operator names origins (`--cors-origin`, Marathon's
/// `--access_control_allow_origin`); those get CORS answers, preflights included.
public struct BrowserSafetyMiddleware<Context: RequestContext>: RouterMiddleware {
    private let origins: Set<String>

    public init(corsOrigins: [String] = []) { origins = Set(corsOrigins) }

    static var formTypes: [String] { ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"] }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let origin = request.headers[.origin].flatMap { origins.contains($0) || origins.contains("*") ? $0 : nil }
        if request.method == .options, let origin {
            var preflight = Response(status: .noContent)
            cors(&preflight, origin)
            preflight.headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE"
            preflight.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Last-Event-ID"
            preflight.headers[.accessControlMaxAge] = "600"
            return preflight
        }
        if request.method != .get, request.method != .head,
            let type = request.headers[.contentType]?.lowercased(), Self.formTypes.contains(where: type.hasPrefix)
        {
            return JSONResponse.error(
                APIError(status: 415, message: "changes take application/json, not \(type.prefix(60)) (forms are refused: A13)"))
        }
        var response = try await next(request, context)
        if let origin { cors(&response, origin) }
        return response
    }

    private func cors(_ response: inout Response, _ origin: String) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlAllowCredentials] = "true"
        response.headers[.vary] = "Origin"
    }
}
