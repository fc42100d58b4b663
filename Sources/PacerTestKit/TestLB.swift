import Foundation

/// A `pacer lb` process following a test cluster's framework, with its own config file.
public final class TestLB: @unchecked Sendable {
    // @unchecked: the process is only touched by the owning test.
    public let adminPort: Int
    public let process: PacerProcess

    public init(cluster: TestCluster, group: String? = nil) throws {
        adminPort = FreePorts.block(1)
        let config = """
        bind: 127.0.0.1
        frameworks: [\(cluster.frameworkURL)]
        \(group.map { "group: \($0)" } ?? "")
        admin_port: \(adminPort)
        workers: 2
        timeouts:
          connect: 1
          idle: 30
        """
        let path = cluster.dir + "/lb.yaml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        process = try PacerProcess(name: "lb", arguments: ["lb", "--config", path], logDir: cluster.dir)
    }

    public var adminURL: String { "http://127.0.0.1:\(adminPort)" }

    /// Descriptors the LB process holds now.
    public var openDescriptors: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count) ?? -1 }
}
