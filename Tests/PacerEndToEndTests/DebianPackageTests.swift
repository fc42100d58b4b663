import Foundation
import PacerTestKit
import XCTest

/// `make deb`'s package, built here from the test build: what it installs, units systemd accepts,
/// and shipped configuration the packaged binary accepts.
final class DebianPackageTests: XCTestCase {
    private var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "pacer-deb-test-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    @discardableResult
    private func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, output: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testThePackageInstallsTheBinaryUnitsAndConfigurationItsBinaryAccepts() throws {
        let built = try run(
            repository + "/ops/debian/build-deb.sh", [PacerProcess.binary, dir + "/out"],
            environment: ["PACER_DEB_ALLOW_DYNAMIC": "1", "PACER_DEB_COMPRESS": "none", "PACER_DEB_STRIP": "0"])
        XCTAssertEqual(built.status, 0, built.output)
        let deb = built.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let info = try run("/usr/bin/dpkg-deb", ["--info", deb])
        XCTAssertTrue(info.output.contains("Package: pacer"), info.output)
        XCTAssertTrue(info.output.contains("postinst"), "the postinst creates the pacer user: \(info.output)")
        let contents = try run("/usr/bin/dpkg-deb", ["--contents", deb]).output
        let units = ["pacer-master", "pacer-framework", "pacer-agent", "pacer-lb"].map { "./lib/systemd/system/\($0).service" }
        for path in ["./usr/bin/pacer", "./etc/pacer/pacer.yaml", "./etc/pacer/lb.yaml"] + units {
            XCTAssertTrue(contents.contains(" \(path)\n"), "\(path) missing:\n\(contents)")
        }
        let root = dir + "/root"
        XCTAssertEqual(try run("/usr/bin/dpkg-deb", ["-x", deb, root]).status, 0)
        let conffiles = try run("/usr/bin/dpkg-deb", ["--info", deb, "conffiles"]).output
        XCTAssertTrue(conffiles.contains("/etc/pacer/pacer.yaml"), "an upgrade keeps the operator's configuration: \(conffiles)")

        // systemd accepts every unit (pointed at the extracted binary): no unknown key, no error.
        try FileManager.default.createDirectory(atPath: dir + "/units", withIntermediateDirectories: true)
        for unit in units {
            let text = try String(contentsOfFile: root + "/" + unit, encoding: .utf8)
            XCTAssertTrue(text.contains("Restart=always"), "\(unit): crash-only parts are restarted")
            try text.replacingOccurrences(of: "/usr/bin/pacer", with: root + "/usr/bin/pacer")
                .write(toFile: dir + "/units/" + URL(fileURLWithPath: unit).lastPathComponent, atomically: true, encoding: .utf8)
        }
        let verify = try run(
            "/usr/bin/systemd-analyze", ["verify"] + units.map { dir + "/units/" + URL(fileURLWithPath: $0).lastPathComponent })
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertEqual(verify.output, "", "systemd has remarks on the units")

        // The shipped configuration is what the packaged binary accepts, part by part.
        for part in ["master", "framework", "agent", "lb"] {
            let printed = try run(
                root + "/usr/bin/pacer", ["config", "print", part, "--config-file", root + "/etc/pacer/pacer.yaml"])
            XCTAssertEqual(printed.status, 0, "\(part): \(printed.output)")
        }
        let lb = try run(root + "/usr/bin/pacer", ["lb", "--check", root + "/etc/pacer/lb.yaml"])
        XCTAssertEqual(lb.status, 0, lb.output)
    }
}
