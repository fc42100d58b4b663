import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// The agent's file API (Mesos's `/files/*`) against a real task's sandbox, and A4: nothing outside
/// a sandbox is ever served, whatever the path or the links the task planted.
final class SandboxFilesTests: ClusterTestCase {
    private func get(_ pathAndQuery: String) async throws -> HTTPResult {
        // The agent serves files to holders of the cluster's agent secret (the framework reads as `framework:`).
        try await HTTPTransport().send(
            .GET, URLCredentials.embed("framework:" + TestCluster.agentSecret, in: cluster.agentURL) + pathAndQuery)
    }

    func testReadBrowseDownloadAndNoByteOutsideTheSandbox() async throws {
        let cmd = "echo hello-from-the-task; mkdir two; ln -s /etc/passwd leak; ln -s / up; mkfifo pipe; exec sleep 3600"
        _ = try await post(#"{"id":"/files","cmd":"\#(cmd)","cpus":0.01,"mem":16}"#)
        let running = try await waitRunning("/files", 1)
        let task = try XCTUnwrap(running.first).id
        try await Eventually.that("the task wrote its line, its links and its pipe") {
            let r = try await self.get("/files/read?path=\(task)/stdout")
            let listing = try await self.get("/files/browse?path=\(task)")
            return r.status == 200 && r.text.contains("hello-from-the-task") && listing.text.contains("/pipe\"")
        }
        let size =
            try JSONSerialization.jsonObject(with: try await get("/files/read?path=\(task)/stdout&offset=-1").body)
            as? [String: Any]
        XCTAssertEqual(size?["offset"] as? Int, "hello-from-the-task\n".utf8.count, "offset -1 answers the size")
        let paged = try await get("/files/read?path=\(task)/stdout&offset=6&length=4")
        XCTAssertTrue(paged.text.contains(#""data":"from""#), paged.text)
        let listing = try await get("/files/browse?path=\(task)")
        XCTAssertTrue(listing.text.contains("\"\(task)/two\""), listing.text)
        XCTAssertTrue(listing.text.contains("lrwxrwxrwx"), "links are listed as links: \(listing.text)")
        let download = try await get("/files/download?path=\(task)/stdout")
        XCTAssertEqual(download.text, "hello-from-the-task\n")

        let escapes: [(String, Int)] = [
            ("../../../../etc/passwd", 400), ("\(task)/../\(task)/stdout", 400), ("\(task)/two/../stdout", 400),
            ("/etc/passwd", 400), ("\(task)%2F..%2F..%2F..%2Fetc%2Fpasswd", 400), ("\(task)/%252E%252E/stdout", 404),
            ("\(task)/std%00out", 400), ("\(task)/two", 400), ("\(task)/leak", 403), ("\(task)/up/etc/passwd", 403),
            ("\(task)/nothing", 404), ("\(task)/pipe", 400), ("\(task)//stdout", 400), ("", 400)
        ]
        for (path, status) in escapes {
            for endpoint in ["read", "download"] {
                let r = try await get("/files/\(endpoint)?path=\(path)")
                XCTAssertEqual(r.status, status, "\(endpoint) \(path): \(r.text)")
                XCTAssertFalse(r.text.contains("root:"), "\(endpoint) \(path) leaked /etc/passwd")
            }
        }
        for path in ["\(task)/up", "\(task)/up/etc", "\(task)/../..", "/"] {
            let r = try await get("/files/browse?path=\(path)")
            XCTAssertGreaterThanOrEqual(r.status, 400, "browse \(path): \(r.text)")
            XCTAssertFalse(r.text.contains("passwd"), "browse \(path) listed outside the sandbox")
        }
    }

    func testTheFrameworkAndTheCLIReadATasksLogs() async throws {
        _ = try await post(
            #"{"id":"/logs","cmd":"for i in 1 2 3; do echo line-$i; done; echo oops >&2; exec sleep 3600","cpus":0.01,"mem":16}"#)
        let running = try await waitRunning("/logs", 1)
        let task = try XCTUnwrap(running.first).id
        try await Eventually.that("the framework serves the task's stdout") {
            let r = try await self.client.raw("GET", "/v2/tasks/\(task)/files/read?path=stdout")
            return r.status == 200 && r.text.contains("line-3")
        }
        let escape = try await client.raw("GET", "/v2/tasks/\(task)/files/read?path=../../../../etc/passwd")
        XCTAssertEqual(escape.status, 400, escape.text)
        let unknown = try await client.raw("GET", "/v2/tasks/nope/files/read?path=stdout")
        XCTAssertEqual(unknown.status, 404, unknown.text)
        let listing = try await client.raw("GET", "/v2/tasks/\(task)/files/browse")
        XCTAssertTrue(listing.text.contains("\(task)/stderr"), listing.text)

        let tail = try PacerProcess.runToEnd(["task", "logs", task, "--tail", "2", "--url", cluster.frameworkURL])
        XCTAssertEqual(tail.status, 0, tail.output)
        XCTAssertEqual(tail.output, "line-2\nline-3\n")
        let errors = try PacerProcess.runToEnd(["task", "logs", task, "--stderr", "--url", cluster.frameworkURL])
        XCTAssertEqual(errors.output, "oops\n")
    }
}
