import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `pacer` process started by a test, logging to a file that is printed when a test fails.
public final class PacerProcess: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; each instance is only touched by the test that owns it.
    public let name: String
    public let arguments: [String]
    public let logPath: String
    let process = Process()

    /// The built `pacer` executable: `PACER_BIN`, or the one beside the test bundle.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["PACER_BIN"] { return path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("pacer").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/pacer"
    }

    /// The rehearsal build of the next release (store schema one higher, see Package.swift),
    /// which `make test` (or `make rehearsal`) puts beside `pacer`.
    public static var rehearsalBinary: String {
        URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("pacer-schema-rehearsal").path
    }

    /// `executable`: another program than `pacer` (etcd, for instance).
    public init(
        name: String, arguments: [String], logDir: String, environment: [String: String] = [:],
        executable: String = PacerProcess.binary, directory: String? = nil
    ) throws {
        self.name = name
        self.arguments = arguments
        logPath = "\(logDir)/\(name).log"
        // A restarted process gets a fresh log; the previous run's is kept beside it for a report.
        if (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0 > 0 {
            try? FileManager.default.removeItem(atPath: logPath + ".previous")
            try? FileManager.default.moveItem(atPath: logPath, toPath: logPath + ".previous")
        }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = log
        process.standardError = log
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Resident memory now, from /proc/PID/statm.
    public var residentBytes: Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
        let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: TimeInterval = 10) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    public func kill9() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    /// What the previous process under this name logged, if this one replaced it.
    public var previousLog: String { (try? String(contentsOfFile: logPath + ".previous", encoding: .utf8)) ?? "" }
}

/// Free loopback ports: a block of consecutive ports nobody listens on, and that no earlier block
/// of this test process covers. Blocks are handed out in turn from a random start: random blocks
/// once put a test's service ports inside its agent's task-port range (free until the LB bound
/// them, then a launch failed with "port in use"). The range wraps after 12,700 ports, long after
/// the tests that held the first blocks have ended.
public enum FreePorts {
    static let lowest = 20_000, highest = 32_700
    static let cursor = Mutex(Int.random(in: lowest...highest))

    /// Below Linux's ephemeral range (32768+), as real agents' port ranges are: a port there can be
    /// taken at any moment by some outgoing connection, and an agent then refuses to launch on it.
    public static func block(_ count: Int) -> Int {
        cursor.withLock { next in
            for _ in 0..<400 {
                if next + count > highest { next = lowest }
                let base = next
                next += count
                if (base..<base + count).allSatisfy(isFree) { return base }
            }
            fatalError("no free block of \(count) ports")
        }
    }

    public static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return Loopback.withAddress(port) { bind(fd, $0, $1) == 0 }
    }
}

/// 127.0.0.1 sockets for tests that speak raw TCP.
public enum Loopback {
    public static func withAddress<T>(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// A connected socket with a receive timeout, or nil when nothing listens.
    public static func connect(_ port: Int, receiveTimeout seconds: Int = 5) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard withAddress(port, { Glibc.connect(fd, $0, $1) == 0 }) else {
            close(fd)
            return nil
        }
        return fd
    }
}

extension PacerProcess {
    /// Runs `pacer` (or `executable`) to its end: its exit status and everything it wrote.
    public static func runToEnd(
        _ arguments: [String], environment: [String: String] = [:], executable: String = PacerProcess.binary
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // The CLI trusts the test clusters' CA as their user would (`PACER_CA`), unless told otherwise.
        process.environment = ProcessInfo.processInfo.environment.merging(["PACER_CA": TestPKI.files.caPath]) { old, _ in old }
            .merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
