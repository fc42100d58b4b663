import Foundation
import Hummingbird
import PacerModel

/// The cluster's own links, authenticated with shared secrets as HTTP Basic `name:secret`: agents
/// join a master with the cluster's agent secret (a stray or hostile process cannot register
/// and be sent tasks), frameworks subscribe with their own credentials, operators change
/// reservations, weights and quota with theirs, and an agent takes LAUNCH, KILL and file reads
/// only from holders of the agent secret. A guarded path without matching credentials is 401;
/// paths no guard names stay as they are (health, state, metrics).
public struct ClusterSecretsMiddleware<Context: RequestContext>: RouterMiddleware {
    public struct Guard: Sendable {
        /// What the guard covers: a path prefix and, if given, only these methods.
        public var pathPrefix: String
        public var methods: Set<String>?
        /// Accepted `name:secret` pairs.
        public var credentials: [[UInt8]]
        public var realm: String

        public init(pathPrefix: String, methods: Set<String>? = nil, credentials: [String], realm: String) {
            self.pathPrefix = pathPrefix
            self.methods = methods
            self.credentials = credentials.map { Array($0.utf8) }
            self.realm = realm
        }

        func covers(_ request: Request) -> Bool {
            request.uri.path.hasPrefix(pathPrefix) && (methods.map { $0.contains(request.method.rawValue) } ?? true)
        }
    }

    private let guards: [Guard]

    public init(_ guards: [Guard]) { self.guards = guards.filter { !$0.credentials.isEmpty } }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let g = guards.first(where: { $0.covers(request) }) else { return try await next(request, context) }
        let given = Self.basic(request.headers[.authorization])
        // Every accepted pair is compared: the time says nothing about which matched.
        var matched = false
        for c in g.credentials where ConstantTime.equal(given, c) { matched = true }
        if matched { return try await next(request, context) }
        var refused = JSONResponse.error(APIError(status: 401, message: "\(g.realm): credentials required"))
        refused.headers[.wwwAuthenticate] = "Basic realm=\"\(g.realm)\""
        return refused
    }

    static func basic(_ header: String?) -> [UInt8] {
        guard let header, header.utf8.count < 4096, header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: header.dropFirst(6).trimmingCharacters(in: .whitespaces))
        else { return [] }
        return Array(decoded)
    }
}

/// The agent side of the agent secret: messages (`/api/v1`) and file reads (`/files/`) come only
/// from holders of it — the master (`master:SECRET`) and the framework reading logs
/// (`framework:SECRET`).
public enum AgentSecret {
    /// `messages`: where messages arrive (`/api/v1`; simulated agents: `/agents/`, POST only).
    public static func guards<Context: RequestContext>(
        _ secret: String?, messages: String = "/api/v1", methods: Set<String>? = nil
    ) -> [ClusterSecretsMiddleware<Context>.Guard] {
        guard let secret else { return [] }
        let holders = ["master:" + secret, "framework:" + secret]
        return [
            .init(pathPrefix: messages, methods: methods, credentials: holders, realm: "Pacer agent"),
            .init(pathPrefix: "/files/", credentials: holders, realm: "Pacer agent")
        ]
    }
}
