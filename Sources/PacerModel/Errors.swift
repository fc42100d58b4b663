/// One invalid field: where (a JSON pointer such as `/cpus`) and what to do about it.
public struct FieldError: Error, Sendable, Equatable {
    public var path: String
    public var message: String
    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }
}

/// An error the API turns into a Marathon-shaped body: `{"message": …, "details": [{"path", "errors"}]}`.
public struct APIError: Error, Sendable, Equatable, Codable {
    public var status: Int
    public var message: String
    public var details: [Detail]
    public var deploymentId: String?

    public struct Detail: Codable, Sendable, Equatable {
        public var path: String
        public var errors: [String]
        public init(path: String, errors: [String]) {
            self.path = path
            self.errors = errors
        }
    }

    public init(status: Int, message: String, details: [Detail] = [], deploymentId: String? = nil) {
        self.status = status
        self.message = message
        self.details = details
        self.deploymentId = deploymentId
    }

    public static func invalid(_ errors: [FieldError]) -> APIError {
        let grouped = Dictionary(grouping: errors, by: \.path)
        let details = grouped.keys.sorted().map { Detail(path: $0, errors: grouped[$0]!.map(\.message)) }
        return APIError(status: 422, message: "Object is not valid", details: details)
    }
    public static func notFound(_ what: String) -> APIError { APIError(status: 404, message: what) }
    public static func badRequest(_ what: String, path: String = "/") -> APIError {
        APIError(status: 400, message: what, details: [Detail(path: path, errors: [what])])
    }
    public static func locked(appId: PathId, deploymentId: String) -> APIError {
        APIError(
            status: 409,
            message: "App is locked by one or more deployments. Override with the option '?force=true'. "
                + "View details at '/v2/deployments/<DEPLOYMENT_ID>'.", deploymentId: deploymentId)
    }
    enum CodingKeys: String, CodingKey { case message, details, deploymentId }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = 0
        message = try c.decode(String.self, forKey: .message)
        details = try c.value(.details, or: [])
        deploymentId = try c.optional(.deploymentId)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(message, forKey: .message)
        if !details.isEmpty { try c.encode(details, forKey: .details) }
        try c.encodeIfPresent(deploymentId, forKey: .deploymentId)
    }
}
