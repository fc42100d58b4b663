import Foundation
import Logging
import XCTest

@testable import PacerAgent

/// Which ended tasks' sandboxes go: beyond the newest `keep`, and any past `maxAge`; live ones never.
final class SandboxCollectorTests: XCTestCase {
    func testKeepsTheNewestEndedAndEveryLiveSandbox() {
        let collector = SandboxCollector(keep: 2, maxAge: 100)
        let sandboxes =
            (1...5).map { SandboxCollector.Sandbox(name: "t\($0)", modified: Double($0)) }
            + [.init(name: "live-old", modified: 0)]
        XCTAssertEqual(collector.victims(sandboxes, live: ["live-old", "t5"], now: 10), ["t1", "t2"])
        XCTAssertEqual(collector.victims(sandboxes, live: ["live-old"], now: 103.5), ["t1", "t2", "t3"], "t3 is past its age")
        XCTAssertEqual(SandboxCollector(keep: 10, maxAge: 100).victims(sandboxes, live: [], now: 50), [])
    }

    func testRemovesFromDisk() throws {
        let root = NSTemporaryDirectory() + "pacer-gc-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["a", "b", "c"] {
            try FileManager.default.createDirectory(atPath: root + "/" + name + "/inner", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: root + "/" + name + "/link", withDestinationPath: "/etc")
        }
        let removed = SandboxCollector(keep: 0, maxAge: 1e9).collect(
            root: root, live: ["b"], now: Date().timeIntervalSince1970, logger: Logger(label: "t"))
        XCTAssertEqual(removed, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["b"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: "/etc/passwd"), "a link is removed, never followed")
    }
}
