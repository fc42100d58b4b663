import Foundation
import Hummingbird
import Mustache
import PacerClient
import PacerModel
import PacerServerKit

/// Where the console reads from: the framework's own API (as a client, with the viewer's
/// credentials), the masters (cluster state, roles, allocation) and the load balancers' admin
/// ports (traffic).
public struct ConsoleSources: Sendable {
    /// The framework API as this process reaches itself (`http://127.0.0.1:8080`).
    public var framework: String
    public var masters: [String]
    /// Load balancers' admin addresses (`--console-lb`), credentials in the address if they want some.
    public var loadBalancers: [String]

    public init(framework: String, masters: [String], loadBalancers: [String]) {
        self.framework = framework
        self.masters = masters
        self.loadBalancers = loadBalancers
    }
}

/// The web console at `/ui/`: server-rendered pages (readable without JavaScript), one small
/// script for live updates and actions, one style sheet — all embedded in the binary.
///
/// Every page is made from the framework's own `/v2` API, called with the request's
/// `Authorization`: a deployer sees its apps only, a viewer gets no action that would be refused,
/// and the console can show nothing the API would not.
public enum Console {
    public static func register<Context: RequestContext>(on router: Router<Context>, sources: ConsoleSources) {
        let pages = Pages(sources: sources)
        router.get("/ui/") { request, _ in try await pages.respond(request) { try await $0.apps(request) } }
        router.get("/ui/app") { request, _ in try await pages.respond(request) { try await $0.app(request) } }
        router.get("/ui/deployments") { request, _ in try await pages.respond(request) { try await $0.deployments(request) } }
        router.get("/ui/logs") { request, _ in try await pages.respond(request) { try await $0.logs(request) } }
        router.get("/ui/traffic") { request, _ in try await pages.respond(request) { try await $0.traffic(request) } }
        router.get("/ui/cluster") { request, _ in try await pages.respond(request) { try await $0.cluster(request) } }
        router.get("/ui/events") { request, _ in try await pages.respond(request) { try await $0.events(request) } }
        router.get("/ui/console.css") { _, _ in asset(PackageResources.console_css, type: "text/css; charset=utf-8") }
        router.get("/ui/console.js") { _, _ in asset(PackageResources.console_js, type: "text/javascript; charset=utf-8") }
    }

    private static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        let templates: [(String, [UInt8])] = [
            ("layout", PackageResources.layout_mustache), ("apps", PackageResources.apps_mustache),
            ("app", PackageResources.app_mustache), ("deployments", PackageResources.deployments_mustache),
            ("logs", PackageResources.logs_mustache), ("traffic", PackageResources.traffic_mustache),
            ("cluster", PackageResources.cluster_mustache), ("events", PackageResources.events_mustache)
        ]
        for (name, bytes) in templates {
            // A template that does not parse is a build mistake, caught by the first test that renders it.
            library.register(try! MustacheTemplate(string: String(decoding: bytes, as: UTF8.self)), named: name)
        }
        return library
    }()
}

/// One page: its template, title, navigation entry and what the template reads.
struct Page {
    var template: String
    var title: String
    var nav: String
    var context: [String: Any]
}

/// The pages, each an API client of the framework with the caller's credentials.
struct Pages: Sendable {
    let sources: ConsoleSources
    let rates = TrafficRates()

    func respond<Request: RequestReader>(_ request: Request, _ make: (Pages) async throws -> Page) async throws -> Response {
        let page: Page
        do { page = try await make(self) } catch let error as ConsoleError {
            return html(
                status: error.status, Self.render(Page(template: "", title: "Error", nav: "", context: [:]), body: error.html))
        }
        guard let body = Console.library.render(page.context, withTemplate: page.template) else {
            throw APIError(status: 500, message: "console template \(page.template) did not render")
        }
        // `fragment=1`: the live part only, for the script's refresh (one request per change burst).
        if request.fragment { return html(status: .ok, body) }
        return html(status: .ok, Self.render(page, body: body))
    }

    private func html(status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                // Nothing but this origin's own script and style; no framing by other sites.
                .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
            ], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func render(_ page: Page, body: String) -> String {
        let navigation = [
            ("apps", "/ui/", "Apps"), ("deployments", "/ui/deployments", "Deployments"),
            ("traffic", "/ui/traffic", "Traffic"), ("cluster", "/ui/cluster", "Cluster"), ("events", "/ui/events", "Events")
        ]
        let context: [String: Any] = [
            "title": page.title, "body": body,
            "nav": navigation.map { ["href": $0.1, "label": $0.2, "current": $0.0 == page.nav] }
        ]
        return Console.library.render(context, withTemplate: "layout") ?? body
    }

    // MARK: the API, with the caller's credentials

    private func get<Request: RequestReader>(_ request: Request, _ url: String) async throws -> Any {
        var headers: [(String, String)] = []
        if let authorization = request.authorization { headers.append(("Authorization", authorization)) }
        let r: HTTPResult
        do { r = try await HTTPTransport(timeout: .seconds(5)).send(.GET, url, headers: headers) } catch {
            throw ConsoleError(status: .badGateway, message: "\(error)")
        }
        guard (200..<300).contains(r.status) else {
            throw ConsoleError(
                status: .init(code: r.status),
                message: "\(url.split(separator: "?")[0]) answered \(r.status): \(r.text.prefix(300))")
        }
        do { return try JSONSerialization.jsonObject(with: r.body, options: [.fragmentsAllowed]) } catch {
            throw ConsoleError(status: .badGateway, message: "\(url) did not answer JSON")
        }
    }

    private func api<Request: RequestReader>(_ request: Request, _ path: String) async throws -> Any {
        try await get(request, sources.framework + path)
    }

    /// From the first master that answers (a follower redirects to its leader).
    private func master<Request: RequestReader>(_ request: Request, _ path: String) async -> Any? {
        for url in sources.masters {
            if let value = try? await get(request, url + path) { return value }
        }
        return nil
    }

    // MARK: pages

    func apps<Request: RequestReader>(_ request: Request) async throws -> Page {
        let json = try await api(request, "/v2/apps")
        let path = request.query("path") ?? ""
        let state = request.query("state") ?? ""
        let context = ConsoleViews.apps(json, pathFilter: path, stateFilter: state)
        return Page(template: "apps", title: "Apps", nav: "apps", context: context)
    }

    func app<Request: RequestReader>(_ request: Request) async throws -> Page {
        if request.query("new") == "1" {
            let example = #"{"id": "/my-app", "cmd": "python3 -m http.server $PORT0", "instances": 1, "cpus": 0.1, "mem": 64}"#
            return Page(
                template: "app", title: "Deploy an app", nav: "apps",
                context: ["new": true, "id": "", "spec": example, "noTasks": true, "noDeployments": true, "state": "new"])
        }
        guard let raw = request.query("id"), let id = try? PathId(validating: raw) else {
            throw ConsoleError(status: .badRequest, message: "?id=/app/path names the app")
        }
        let app = try await api(request, "/v2/apps\(id)?embed=app.tasks&embed=app.deployments&embed=app.lastTaskFailure")
        let versions = (try? await api(request, "/v2/apps\(id)/versions")) ?? [:]
        let deployments = (try? await api(request, "/v2/deployments?embed=pacer")) ?? []
        var diff: [[String: Any]]?
        if let from = request.query("from"), let to = request.query("to") {
            let a = try await api(request, "/v2/apps\(id)/versions/\(ConsoleViews.pathSafe(from))")
            let b = try await api(request, "/v2/apps\(id)/versions/\(ConsoleViews.pathSafe(to))")
            diff = ConsoleViews.lineDiff(ConsoleViews.pretty(a), ConsoleViews.pretty(b))
        }
        let context = ConsoleViews.app(app, versions: versions, deployments: deployments, diff: diff)
        return Page(template: "app", title: "App \(id)", nav: "apps", context: context)
    }

    func deployments<Request: RequestReader>(_ request: Request) async throws -> Page {
        let json = try await api(request, "/v2/deployments?embed=pacer")
        return Page(
            template: "deployments", title: "Deployments", nav: "deployments",
            context: ConsoleViews.deployments(json, now: Date()))
    }

    func logs<Request: RequestReader>(_ request: Request) async throws -> Page {
        guard let task = request.query("task"), !task.isEmpty, !task.contains("/") else {
            throw ConsoleError(status: .badRequest, message: "?task=TASK_ID names the task")
        }
        let file = request.query("file") == "stderr" ? "stderr" : "stdout"
        let base = "/v2/tasks/\(ConsoleViews.pathSafe(task))/files/read?path=\(file)"
        let size = ((try await api(request, base + "&offset=-1")) as? [String: Any])?["offset"] as? Int ?? 0
        let window = 64 * 1024
        let start = max(0, size - window)
        let chunk = (try await api(request, base + "&offset=\(start)&length=\(window)")) as? [String: Any]
        let context: [String: Any] = [
            "task": task, "file": file, "other": file == "stdout" ? "stderr" : "stdout",
            "text": chunk?["data"] as? String ?? "", "start": start, "end": size, "earlier": start > 0
        ]
        return Page(template: "logs", title: "\(file) of \(task)", nav: "apps", context: context)
    }

    func traffic<Request: RequestReader>(_ request: Request) async throws -> Page {
        var balancers: [[String: Any]] = []
        for url in sources.loadBalancers {
            let display = URLCredentials.split(url).url
            do {
                let stats = try await get(request, url + "/stats")
                let counts = TrafficRates.counts(stats)
                balancers.append(ConsoleViews.traffic(stats, name: display, rates: await rates.update(display, counts)))
            } catch {
                balancers.append(["name": display, "error": "\(error)"])
            }
        }
        return Page(
            template: "traffic", title: "Traffic", nav: "traffic",
            context: ["balancers": balancers, "none": sources.loadBalancers.isEmpty])
    }

    func cluster<Request: RequestReader>(_ request: Request) async throws -> Page {
        let state = await master(request, "/state")
        let roles = await master(request, "/master/roles")
        let allocation = await master(request, "/master/allocation")
        guard let state else { throw ConsoleError(status: .badGateway, message: "no master answered") }
        return Page(
            template: "cluster", title: "Cluster", nav: "cluster",
            context: ConsoleViews.cluster(state, roles: roles, allocation: allocation))
    }

    func events<Request: RequestReader>(_ request: Request) async throws -> Page {
        Page(
            template: "events", title: "Events", nav: "events",
            context: ["type": request.query("type") ?? "", "app": request.query("app") ?? ""])
    }
}

struct ConsoleError: Error {
    var status: HTTPResponse.Status
    var message: String
    var html: String {
        "<main><h1>\(status.code)</h1><p class=\"error\">\(ConsoleViews.escape(message))</p><p><a href=\"/ui/\">Apps</a></p></main>"
    }
}

/// Request rates from two successive samples of an LB's counters (per page view: no polling).
actor TrafficRates {
    private var last: [String: (at: Date, requests: [String: Int], errors: [String: Int])] = [:]

    /// Per service port ("10000") and per backend of one ("10000 10.0.0.7:31002"): requests (a
    /// backend's: its responses), and 5xx plus LB-made answers, from an LB's `/stats`.
    static func counts(_ stats: Any) -> [String: (requests: Int, errors: Int)] {
        var out: [String: (requests: Int, errors: Int)] = [:]
        for service in ((stats as? [String: Any])?["services"] as? [[String: Any]]) ?? [] {
            guard let port = service["port"] as? Int, let c = service["counters"] as? [String: Any] else { continue }
            let requests: Int = c["requests"] as? Int ?? 0
            let fivexx: Int = (c["responses"] as? [Int])?.last ?? 0
            let generated: Int = c["generated"] as? Int ?? 0
            out[String(port)] = (requests, fivexx + generated)
            let backends: [String: Any] = c["backends"] as? [String: Any] ?? [:]
            for (address, value) in backends {
                let answers: [Int] = (value as? [String: Any])?["responses"] as? [Int] ?? []
                let total: Int = answers.reduce(0, +)
                out[String(port) + " " + address] = (total, answers.last ?? 0)
            }
        }
        return out
    }

    /// Per key of `counts`: (requests/s, 5xx and LB-made answers/s) since the previous sample.
    func update(_ name: String, _ counts: [String: (requests: Int, errors: Int)]) -> [String: (Double, Double)] {
        let now = Date()
        let requests = counts.mapValues(\.requests)
        let errors = counts.mapValues(\.errors)
        defer { last[name] = (now, requests, errors) }
        guard let before = last[name] else { return [:] }
        let seconds = max(0.001, now.timeIntervalSince(before.at))
        var out: [String: (Double, Double)] = [:]
        for (port, n) in requests {
            out[port] = (
                // A key the previous sample lacked (a backend or service that appeared since) had none.
                Double(n - (before.requests[port] ?? 0)) / seconds,
                Double((errors[port] ?? 0) - (before.errors[port] ?? 0)) / seconds
            )
        }
        return out
    }
}

/// What the pages read from a request, whatever Hummingbird's request type.
protocol RequestReader {
    func query(_ name: String) -> String?
    var authorization: String? { get }
    var fragment: Bool { get }
}

extension Request: RequestReader {
    func query(_ name: String) -> String? { uri.queryParameters.get(name).map { String($0) } }
    var authorization: String? { headers[.authorization] }
    var fragment: Bool { uri.queryParameters.get("fragment") == "1" }
}
