import Foundation
import Hummingbird
import PacerClient
import PacerModel
import PacerServerKit

/// A task's sandbox through the framework, so the console and the CLI need not reach agents:
/// `/v2/tasks/{taskId}/files/browse|read|download?path=` with paths relative to the sandbox. The
/// framework only ever asks the agent the master lists for that task, for a path under the task's
/// own id; the agent refuses anything outside a sandbox (A4).
enum TaskFileRoutes {
    static let transport = HTTPTransport(timeout: .seconds(10))

    /// `agentSecret`: sent to agents that take file reads only from its holders.
    static func register(on router: Router<PacerRequestContext>, _ scheduler: Scheduler, agentSecret: String? = nil) {
        router.get("/v2/tasks/:taskId/files/:operation") { request, context in
            let taskId = try context.parameters.require("taskId")
            let operation = try context.parameters.require("operation")
            guard ["browse", "read", "download"].contains(operation) else {
                throw APIError(status: 404, message: "files/\(operation): browse, read or download")
            }
            guard let app = await scheduler.appOf(task: taskId) else {
                throw APIError(status: 404, message: "Task '\(taskId)' does not exist")
            }
            try RequestPrincipal.requireRead([app])
            guard let address = await scheduler.agentURL(forTask: taskId) else {
                throw APIError(
                    status: 503, message: "the agent of \(taskId) is not known yet (the master's state is read every few seconds)"
                )
            }
            let agent = agentSecret.map { URLCredentials.embed("framework:" + $0, in: address) } ?? address
            let query = request.uri.queryParameters
            let relative = query.get("path") ?? ""
            var items = [URLQueryItem(name: "path", value: relative.isEmpty ? taskId : taskId + "/" + relative)]
            for name in ["offset", "length"] { if let v = query.get(name) { items.append(URLQueryItem(name: name, value: v)) } }
            guard var url = URLComponents(string: agent + "/files/" + operation) else {
                throw APIError(status: 502, message: "the agent's address \(address) is not a URL")
            }
            url.queryItems = items
            // URLComponents leaves `+` as it is, and the agent would read it as a space.
            let encoded = url.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
            url.percentEncodedQuery = encoded
            guard let target = url.string else { throw APIError(status: 400, message: "path: cannot be sent on") }
            let answer: HTTPResult
            do { answer = try await transport.send(.GET, target) } catch {
                throw APIError(status: 502, message: "the agent of \(taskId) did not answer: \(error)")
            }
            var headers: HTTPFields = [:]
            for (name, value) in answer.headers {
                switch name.lowercased() {
                case "content-type": headers[.contentType] = value
                case "content-disposition": headers[.contentDisposition] = value
                default: continue
                }
            }
            return Response(
                status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
    }
}
