import Foundation
import PacerModel

/// The framework's Marathon-compatible API, typed. Used by the CLI, the load balancer and tests.
public struct MarathonClient: Sendable {
    public let baseURL: String
    let transport: HTTPTransport

    public init(baseURL: String, transport: HTTPTransport = HTTPTransport()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.transport = transport
    }

    struct AppsBody: Decodable { var apps: [AppStatus] }
    struct AppBody: Decodable { var app: AppStatus }
    struct TasksBody: Decodable { var tasks: [MarathonTask] }

    func decode<T: Decodable>(_ t: T.Type, _ r: HTTPResult) throws(ClientError) -> T {
        do { return try WireJSON.marathonDecoder().decode(t, from: r.body) } catch {
            throw .http(status: r.status, nil, body: "unexpected answer: \(error)")
        }
    }

    func path(_ id: PathId) -> String { baseURL + "/v2/apps" + id.description }

    public func apps(embedTasks: Bool = false) async throws(ClientError) -> [AppStatus] {
        let r = try await transport.expectOK(.GET, baseURL + "/v2/apps?embed=pacer" + (embedTasks ? "&embed=apps.tasks" : ""))
        return try decode(AppsBody.self, r).apps
    }

    public func app(_ id: PathId) async throws(ClientError) -> AppStatus {
        try decode(AppBody.self, try await transport.expectOK(.GET, path(id) + "?embed=pacer")).app
    }

    /// Creates the app, or updates it when it exists (`PUT`). Returns the deployment id, if any.
    @discardableResult
    /// `force`: replaces a deployment in progress (Marathon's `?force=true`).
    public func deploy(json: Data, id: PathId, force: Bool = false) async throws(ClientError) -> DeploymentResult? {
        let r = try await transport.expectOK(.PUT, path(id) + (force ? "?force=true" : ""), body: json)
        return try? WireJSON.marathonDecoder().decode(DeploymentResult.self, from: r.body)
    }

    public func create(json: Data) async throws(ClientError) -> AppStatus {
        try decode(AppStatus.self, try await transport.expectOK(.POST, baseURL + "/v2/apps", body: json))
    }

    @discardableResult
    public func scale(_ id: PathId, instances: Int, force: Bool = false) async throws(ClientError) -> DeploymentResult {
        let r = try await transport.expectOK(
            .PUT, path(id) + (force ? "?force=true" : ""), body: Data("{\"instances\":\(instances)}".utf8))
        return try decode(DeploymentResult.self, r)
    }

    @discardableResult
    public func restart(_ id: PathId, force: Bool = false) async throws(ClientError) -> DeploymentResult {
        try decode(
            DeploymentResult.self, try await transport.expectOK(.POST, path(id) + "/restart" + (force ? "?force=true" : "")))
    }

    @discardableResult
    public func remove(_ id: PathId, force: Bool = false) async throws(ClientError) -> DeploymentResult {
        try decode(DeploymentResult.self, try await transport.expectOK(.DELETE, path(id) + (force ? "?force=true" : "")))
    }

    public func tasks(app: PathId? = nil) async throws(ClientError) -> [MarathonTask] {
        let url = app.map { path($0) + "/tasks" } ?? baseURL + "/v2/tasks"
        return try decode(TasksBody.self, try await transport.expectOK(.GET, url + "?embed=pacer")).tasks
    }

    public func killTask(_ app: PathId, taskId: String, scale: Bool = false) async throws(ClientError) {
        _ = try await transport.expectOK(.DELETE, path(app) + "/tasks/" + taskId + (scale ? "?scale=true" : ""))
    }

    public func deployments() async throws(ClientError) -> [DeploymentInfo] {
        try decode([DeploymentInfo].self, try await transport.expectOK(.GET, baseURL + "/v2/deployments"))
    }

    /// Any request, answered as it comes (no status check): for tests and tools.
    public func raw(_ method: String, _ path: String, body: Data? = nil, headers: [(String, String)] = [])
        async throws(ClientError) -> HTTPResult
    {
        try await transport.send(.init(rawValue: method), baseURL + path, body: body, headers: headers)
    }
}
