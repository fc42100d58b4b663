import Foundation

/// Decodes request bodies, mapping every failure to the Marathon error the API should return:
/// unparseable JSON → 400, a field of the wrong type or value → 422 naming the field.
public enum JSONBody {
    public static func decode<T: Decodable>(
        _ type: T.Type, from data: Data,
        decoder: JSONDecoder = WireJSON.marathonDecoder()
    ) throws(APIError) -> T {
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw apiError(error)
        } catch {
            throw APIError.badRequest("Invalid JSON: \(error)")
        }
    }

    /// A body that must be one JSON object (an app spec, an update, a group): 400 when it does not
    /// parse, 422 when it is not an object.
    public static func object(_ data: Data) throws(APIError) -> [String: Any] {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw APIError.badRequest("Invalid JSON: \(error)")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError.invalid([FieldError(path: "/", "expected a JSON object")])
        }
        return object
    }

    static func pointer(_ path: [any CodingKey]) -> String {
        "/" + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
    }

    public static func apiError(_ error: DecodingError) -> APIError {
        switch error {
        case .dataCorrupted(let ctx) where ctx.codingPath.isEmpty:
            return APIError.badRequest("Invalid JSON: \(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)")
        case .dataCorrupted(let ctx):
            return .invalid([FieldError(path: pointer(ctx.codingPath), ctx.debugDescription)])
        case .typeMismatch(let type, let ctx):
            return .invalid([FieldError(path: pointer(ctx.codingPath), "expected \(describe(type))")])
        case .valueNotFound(let type, let ctx):
            return .invalid([FieldError(path: pointer(ctx.codingPath), "expected \(describe(type)), got null")])
        case .keyNotFound(let key, let ctx):
            return .invalid([FieldError(path: pointer(ctx.codingPath + [key]), "is required")])
        @unknown default:
            return APIError.badRequest("Invalid JSON")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        default: "\(type)".contains("Array") ? "an array" : "an object"
        }
    }
}
