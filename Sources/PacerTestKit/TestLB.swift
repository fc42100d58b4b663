import Foundation
import PacerClient

/// A `pacer lb` process following a test cluster's framework, with its own config file.
public final class TestLB: @unchecked Sendable {
    // @unchecked: the process is only touched by the owning test.
    public let adminPort: Int
    public let httpPort: Int
    public private(set) var process: PacerProcess
    let configPath: String
    let logDir: String

    /// `timeouts` and `limits` override entries of those config sections (seconds, counts).
    public init(
        cluster: TestCluster, group: String? = nil, workers: Int = 2, timeouts: [String: Double] = [:],
        limits: [String: Int] = [:], frameworks: [String]? = nil, extra: String = ""
    ) throws {
        adminPort = FreePorts.block(2)
        httpPort = adminPort + 1
        let allTimeouts = ["connect": 1, "idle": 30].merging(timeouts) { $1 }
        let config = """
            bind: 127.0.0.1
            frameworks: [\((frameworks ?? [cluster.frameworkURL]).joined(separator: ", "))]
            \(group.map { "group: \($0)" } ?? "")
            admin_port: \(adminPort)
            http_port: \(httpPort)
            workers: \(workers)
            timeouts:
            \(allTimeouts.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n"))
            \(limits.isEmpty ? "" : "limits:\n" + limits.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n"))
            \(cluster.usesTestPKI && !extra.contains("framework_ca") ? "framework_ca: \(TestPKI.files.caPath)" : "")
            \(extra)
            """
        configPath = cluster.dir + "/lb-\(adminPort).yaml"
        logDir = cluster.dir
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process = try PacerProcess(name: "lb-\(adminPort)", arguments: ["lb", "--config", configPath], logDir: cluster.dir)
    }

    /// A `pacer lb` the test started itself (its own configuration file).
    public init(adopting process: PacerProcess, adminPort: Int) {
        self.process = process
        self.adminPort = adminPort
        httpPort = 0
        configPath = ""
        logDir = ""
    }

    /// Starts a second `pacer lb` with the same configuration beside the running one (which
    /// hands over its sockets and exits); returns the old process. `executable`: another build.
    @discardableResult
    public func restart(executable: String = PacerProcess.binary) throws -> PacerProcess {
        let old = process
        process = try PacerProcess(
            name: "lb-\(adminPort)-\(Int(Date().timeIntervalSince1970 * 1000) % 100_000)",
            arguments: ["lb", "--config", configPath], logDir: logDir, executable: executable)
        return old
    }

    public var adminURL: String { "http://127.0.0.1:\(adminPort)" }

    /// The backends the LB routes a service port to now, as `host:port`, from its `/stats`.
    public func backends(_ port: Int) async throws -> [String] {
        let r = try await HTTPTransport().expectOK(.GET, adminURL + "/stats")
        struct Stats: Decodable {
            struct Service: Decodable {
                var port: Int
                var backends: [String]
            }
            var services: [Service]
        }
        return try JSONDecoder().decode(Stats.self, from: r.body).services.first { $0.port == port }?.backends ?? []
    }

    /// Descriptors the LB process holds now.
    public var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count) ?? -1
    }
}
