import Foundation
import Hummingbird
import Yams

/// Pacer's HTTP surface as OpenAPI 3 (openapi.yaml beside this file, compiled into the binary).
/// Each process serves its own part at `/openapi.json`: the operations tagged with its name.
/// Kept true by schemathesis against live processes in `make test` (`OpenAPITests`).
public enum OpenAPIDocument {
    public enum Part: String, Sendable, Hashable { case framework, master, agent, lb }

    /// The whole document as parsed YAML (a bug in the embedded file fails every test at once).
    static func whole() -> [String: Any] {
        let text = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
        guard let parsed = try? Yams.load(yaml: text) as? [String: Any] else { fatalError("openapi.yaml does not parse") }
        return parsed
    }

    /// Each process's part, built once (a leader builds its router at every election).
    static let parts: [Part: Data] = {
        let document = whole()
        return Dictionary(uniqueKeysWithValues: [Part.framework, .master, .agent, .lb].map { ($0, json(for: $0, in: document)) })
    }()

    /// The operations of one process, as JSON.
    public static func json(for part: Part) -> Data { parts[part] ?? Data("{}".utf8) }

    static func json(for part: Part, in whole: [String: Any]) -> Data {
        var doc = whole
        var paths: [String: Any] = [:]
        for (path, item) in (whole["paths"] as? [String: Any] ?? [:]) {
            guard var operations = item as? [String: Any] else { continue }
            for (method, operation) in operations where method != "parameters" {
                let tags = (operation as? [String: Any])?["tags"] as? [String] ?? []
                if !tags.contains(part.rawValue) { operations[method] = nil }
            }
            if operations.keys.contains(where: { $0 != "parameters" }) { paths[path] = operations }
        }
        doc["paths"] = paths
        doc["tags"] = [["name": part.rawValue]]
        return (try? JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    /// `GET /openapi.json` on a router.
    public static func serve<Context: RequestContext>(_ part: Part, on router: Router<Context>) {
        let body = json(for: part)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }
}
