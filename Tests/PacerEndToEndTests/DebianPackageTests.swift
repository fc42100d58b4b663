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

    func testThePackageInstallsTheBinaryUnitsAndConfigurationItsBinaryAccepts() throws {
        let built = try PacerProcess.runToEnd(
            [PacerProcess.binary, dir + "/out"],
            environment: ["PACER_DEB_ALLOW_DYNAMIC": "1", "PACER_DEB_COMPRESS": "none", "PACER_DEB_STRIP": "0"],
            executable: repository + "/ops/debian/build-deb.sh")
        XCTAssertEqual(built.status, 0, built.output)
        let deb = built.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let info = try PacerProcess.runToEnd(["--info", deb], executable: "/usr/bin/dpkg-deb")
        XCTAssertTrue(info.output.contains("Package: pacer"), info.output)
        XCTAssertTrue(info.output.contains("postinst"), "the postinst creates the pacer user: \(info.output)")
        let contents = try PacerProcess.runToEnd(["--contents", deb], executable: "/usr/bin/dpkg-deb").output
        let units = ["pacer-master", "pacer-framework", "pacer-agent", "pacer-lb"].map { "./lib/systemd/system/\($0).service" }
        for path in ["./usr/bin/pacer", "./etc/pacer/pacer.yaml", "./etc/pacer/lb.yaml"] + units {
            XCTAssertTrue(contents.contains(" \(path)\n"), "\(path) missing:\n\(contents)")
        }
        let root = dir + "/root"
        XCTAssertEqual(try PacerProcess.runToEnd(["-x", deb, root], executable: "/usr/bin/dpkg-deb").status, 0)
        let conffiles = try PacerProcess.runToEnd(["--info", deb, "conffiles"], executable: "/usr/bin/dpkg-deb").output
        XCTAssertTrue(conffiles.contains("/etc/pacer/pacer.yaml"), "an upgrade keeps the operator's configuration: \(conffiles)")

        // systemd accepts every unit (pointed at the extracted binary): no unknown key, no error.
        try FileManager.default.createDirectory(atPath: dir + "/units", withIntermediateDirectories: true)
        for unit in units {
            let text = try String(contentsOfFile: root + "/" + unit, encoding: .utf8)
            XCTAssertTrue(text.contains("Restart=always"), "\(unit): crash-only parts are restarted")
            try text.replacingOccurrences(of: "/usr/bin/pacer", with: root + "/usr/bin/pacer")
                .write(toFile: dir + "/units/" + URL(fileURLWithPath: unit).lastPathComponent, atomically: true, encoding: .utf8)
        }
        let verify = try PacerProcess.runToEnd(
            ["verify"] + units.map { dir + "/units/" + URL(fileURLWithPath: $0).lastPathComponent },
            executable: "/usr/bin/systemd-analyze")
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertEqual(verify.output, "", "systemd has remarks on the units")

        // The shipped configuration is what the packaged binary accepts, part by part.
        for part in ["master", "framework", "agent", "lb"] {
            let printed = try PacerProcess.runToEnd(
                ["config", "print", part, "--config-file", root + "/etc/pacer/pacer.yaml"], executable: root + "/usr/bin/pacer")
            XCTAssertEqual(printed.status, 0, "\(part): \(printed.output)")
        }
        let lb = try PacerProcess.runToEnd(["lb", "--check", root + "/etc/pacer/lb.yaml"], executable: root + "/usr/bin/pacer")
        XCTAssertEqual(lb.status, 0, lb.output)
    }
}
