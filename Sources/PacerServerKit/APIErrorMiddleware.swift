import Foundation
import Hummingbird
import Logging
import PacerModel

/// Turns every error escaping a handler into a Marathon-shaped JSON body with the right status,
/// so clients see `{"message", "details"}` and never an HTML page or a bare 500.
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return JSONResponse.error(error)
        } catch let error as HTTPError {
            return JSONResponse.error(APIError(status: Int(error.status.code), message: error.body ?? error.status.reasonPhrase))
        } catch let error as any HTTPStatusError {
            return JSONResponse.error(APIError(status: error.httpStatus, message: "\(error)"))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return JSONResponse.error(APIError(status: 500, message: "internal error: \(error)"))
        }
    }
}

/// An error that stands for an HTTP status of its own (a store that does not answer: 503), so a
/// client retries instead of reading a 500 as a bug.
public protocol HTTPStatusError: Error {
    var httpStatus: Int { get }
}

public enum JSONResponse {
    public static func make<T: Encodable>(
        _ value: T, status: HTTPResponse.Status = .ok,
        encoder: JSONEncoder = MarathonShape.encoder(pacer: false),
        headers: HTTPFields = [:]
    ) throws -> Response {
        encoded(ByteBuffer(bytes: try encoder.encode(value)), status: status, headers: headers)
    }

    /// A JSON body already encoded (a cached answer).
    public static func encoded(_ body: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: body))
    }

    public static func error(_ e: APIError) -> Response {
        (try? make(e, status: .init(code: e.status))) ?? Response(status: .internalServerError)
    }

    public static func text(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }
}

public enum BodyReader {
    /// Marathon's default and RELIABILITY A5: larger bodies get 413 without being buffered.
    public static let defaultLimit = 1 << 20

    /// The body of a state-changing request: JSON only (a CSRF form post is `text/plain`), bounded.
    public static func json(_ request: Request, limit: Int = defaultLimit) async throws(APIError) -> Data {
        if let type = request.headers[.contentType], !type.lowercased().contains("json") {
            throw APIError(status: 415, message: "Content-Type must be application/json, got '\(type.prefix(100))'")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(status: 413, message: "request body of \(length) bytes exceeds the limit of \(limit)")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch {
            throw APIError(status: 413, message: "request body exceeds the limit of \(limit) bytes")
        }
    }
}
