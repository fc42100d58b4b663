import ArgumentParser
import Foundation
import PacerClient
import PacerModel

/// Flags of every client command.
struct ClientOptions: ParsableArguments {
    @Option(
        help:
            "Framework API URL (or PACER_URL); default https://127.0.0.1:8080 when --state-dir holds a `pacer up --secure` cluster, else http://."
    )
    var url: String?
    @Flag(help: "Machine-readable JSON output.") var json = false
    @Option(help: "PEM CA to trust (besides the system's) for an https:// URL (or PACER_CA).")
    var ca = ProcessInfo.processInfo.environment["PACER_CA"]
    @Option(help: "State directory of a local `pacer up --secure` cluster (or PACER_STATE_DIR): its CA and admin token are used.")
    var stateDir = LocalCluster.defaultStateDir

    func validate() throws { try ClientOptions.trust(ca, LocalCluster(stateDir: stateDir).ca) }

    var client: MarathonClient {
        MarathonClient(
            baseURL: LocalCluster(stateDir: stateDir).url(url ?? ProcessInfo.processInfo.environment["PACER_URL"], port: 8080))
    }

    /// Before the first request: the shared HTTPS client trusts these CAs (`--ca` or `PACER_CA`,
    /// and a local secure cluster's) besides the system's.
    static func trust(_ cas: String?...) throws {
        let files = cas.compactMap { $0 }
        guard let first = files.first else { return }
        do { try ClientTLS.configure(ca: first, certificate: nil, key: nil, alsoTrust: Array(files.dropFirst())) } catch {
            throw ValidationError("--ca \(files.joined(separator: ", ")): \(error)")
        }
    }

    fileprivate func emit<T: Encodable>(_ value: T, table: () -> String) throws {
        if json {
            print(String(decoding: try WireJSON.marathonEncoder(pretty: true).encode(value), as: UTF8.self))
        } else {
            print(table(), terminator: "")
        }
    }
}

/// What a `pacer up --secure` cluster leaves in its state directory for clients on the same
/// machine: the CA its parts' certificate chains to, and the admin token. The token goes only to
/// loopback addresses without credentials of their own — never to a server named elsewhere.
struct LocalCluster {
    static var defaultStateDir: String { ProcessInfo.processInfo.environment["PACER_STATE_DIR"] ?? ".pacer" }
    let ca: String?
    let token: String?

    init(stateDir: String) {
        let caPath = stateDir + "/tls/ca.pem"
        ca = FileManager.default.fileExists(atPath: caPath) ? caPath : nil
        token = (try? String(contentsOfFile: stateDir + "/admin-token", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `given` (a flag or the environment) or this machine's part on `port`, with the admin token
    /// as its credentials when it is a local address without any.
    func url(_ given: String?, port: Int) -> String {
        let url = given ?? "\(ca == nil ? "http" : "https")://127.0.0.1:\(port)"
        guard let token, !token.isEmpty, URLCredentials.split(url).authorization == nil, Self.isLocal(url) else { return url }
        return URLCredentials.embed("admin:" + token, in: url)
    }

    private static func isLocal(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }
}

func appId(_ raw: String) throws -> PathId {
    do { return try PathId(validating: raw) } catch { throw ValidationError(error.message) }
}

struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app", abstract: "Deploy and manage apps.",
        subcommands: [Deploy.self, List.self, Show.self, Scale.self, Restart.self, Remove.self])

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update an app from a JSON spec and wait for its deployment.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Path to the app's JSON spec.") var file: String
        @Flag(help: "Override a deployment in progress.") var force = false
        @Option(help: "Seconds to wait for the deployment.") var timeout = 300.0

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            struct IdOnly: Decodable { var id: String }
            let id = try appId(try JSONDecoder().decode(IdOnly.self, from: data).id)
            let client = options.client
            let result = try await client.deploy(json: data, id: id, force: force)
            if !options.json { print("deploying \(id) (deployment \(result?.deploymentId ?? "-"))") }
            try await DeploymentWait.wait(
                client, app: id, deploymentId: result?.deploymentId, timeout: timeout, quiet: options.json)
            let status = try await client.app(id)
            try options.emit(status) { Tables.apps([status]) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List apps with their task counts.")
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let apps = try await options.client.apps()
            try options.emit(apps) { Tables.apps(apps) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one app and its tasks.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            let status = try await options.client.app(try appId(id))
            try options.emit(status) { Tables.apps([status]) + "\n" + Tables.tasks(status.tasks ?? []) }
        }
    }

    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an app's instance count and wait.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Argument var instances: Int
        @Flag var force = false
        @Option var timeout = 300.0
        func run() async throws {
            try await options.change(try appId(id), timeout: timeout, done: "scaled \(id) to \(instances)") { client, id in
                try await client.scale(id, instances: instances, force: force)
            }
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace every task of an app and wait.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Flag var force = false
        @Option var timeout = 300.0
        func run() async throws {
            try await options.change(try appId(id), timeout: timeout, done: "restarted \(id)") { client, id in
                try await client.restart(id, force: force)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an app and kill its tasks.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        @Flag var force = false
        func run() async throws {
            let r = try await options.client.remove(try appId(id), force: force)
            try options.emit(r) { "removed \(id) (deployment \(r.deploymentId))\n" }
        }
    }
}

struct TaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Inspect tasks.", subcommands: [List.self, Logs.self])

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what a task wrote to stdout (or stderr), from its sandbox through the framework.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The task id (pacer task list).") var task: String
        @Flag(help: "stderr instead of stdout.") var stderr = false
        @Option(help: "Only the last N lines.") var tail: Int?
        @Flag(help: "Keep printing what the task writes, as tail -f.") var follow = false

        /// One read of the file: its text from `offset` and where that was.
        private func read(offset: Int, length: Int? = nil) async throws -> (data: String, offset: Int) {
            struct Chunk: Decodable {
                var data: String
                var offset: Int
            }
            let file = stderr ? "stderr" : "stdout"
            let query = "path=\(file)&offset=\(offset)" + (length.map { "&length=\($0)" } ?? "")
            let r = try await options.client.raw("GET", "/v2/tasks/\(task)/files/read?\(query)")
            guard r.status == 200 else { throw ValidationError("\(task): \(r.status) \(r.text)") }
            let chunk = try JSONDecoder().decode(Chunk.self, from: r.body)
            return (chunk.data, chunk.offset)
        }

        func run() async throws {
            let size = try await read(offset: -1).offset
            var offset = 0
            if let tail {
                // The last lines are in the last 64 KiB unless they are very long.
                let start = max(0, size - 65536)
                let text = try await read(offset: start, length: size - start).data
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                print((text.hasSuffix("\n") ? lines.dropLast() : lines[...]).suffix(tail).joined(separator: "\n"))
                offset = size
            }
            repeat {
                while true {
                    let chunk = try await read(offset: offset)
                    guard !chunk.data.isEmpty else { break }
                    print(chunk.data, terminator: "")
                    offset += chunk.data.utf8.count
                }
                if follow { try await Task.sleep(for: .milliseconds(500)) }
            } while follow
        }
    }
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks, of one app or all.")
        @OptionGroup var options: ClientOptions
        @Argument var app: String?
        func run() async throws {
            let tasks = try await options.client.tasks(app: try app.map(appId))
            try options.emit(tasks) { Tables.tasks(tasks) }
        }
    }
}

extension ClientOptions {
    /// Submits a change to an app, waits for the deployment it started, then reports.
    func change(
        _ id: PathId, timeout: Double, done: String,
        _ submit: (MarathonClient, PathId) async throws -> DeploymentResult
    ) async throws {
        let result = try await submit(client, id)
        try await DeploymentWait.wait(client, app: id, deploymentId: result.deploymentId, timeout: timeout, quiet: json)
        try emit(result) { done + "\n" }
    }
}

enum DeploymentWait {
    /// Polls until the deployment is gone from `/v2/deployments`, showing the app's progress.
    static func wait(_ client: MarathonClient, app: PathId, deploymentId: String?, timeout: Double, quiet: Bool) async throws {
        guard let deploymentId else { return }
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            let active = try await client.deployments().contains { $0.id == deploymentId }
            if let s = try? await client.app(app) {
                let line = "  \(app): \(s.tasksRunning)/\(s.app.instances) running, \(s.tasksStaged) staging"
                if line != last && !quiet {
                    print(line)
                    last = line
                }
            }
            if !active { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw ValidationError("deployment \(deploymentId) still running after \(Int(timeout)) s (see /v2/deployments)")
    }
}

enum Tables {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    static func apps(_ apps: [AppStatus]) -> String {
        render(
            ["ID", "INSTANCES", "RUNNING", "STAGED", "HEALTHY", "CPUS", "MEM", "SERVICE PORTS", "DEPLOYMENTS", "CMD"],
            apps.map { s in
                [
                    s.app.id.description, "\(s.app.instances)", "\(s.tasksRunning)", "\(s.tasksStaged)",
                    "\(s.tasksHealthy)", "\(s.app.cpus)", "\(s.app.mem)",
                    s.app.portDefinitions.map { String($0.port) }.joined(separator: ","),
                    "\(s.deployments.count)", String((s.app.cmd ?? s.app.args?.joined(separator: " ") ?? "").prefix(40))
                ]
            })
    }

    static func tasks(_ tasks: [MarathonTask]) -> String {
        render(
            ["ID", "APP", "STATE", "HOST", "PORTS", "STARTED"],
            tasks.map {
                [$0.id, $0.appId, $0.state, $0.host, $0.ports.map(String.init).joined(separator: ","), $0.startedAt ?? "-"]
            })
    }
}
