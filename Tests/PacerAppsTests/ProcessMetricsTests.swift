import Foundation
import XCTest

@testable import PacerServerKit

/// The process families every `/metrics` ends with: parsed from the right fields, and for this
/// very process equal to what the kernel and glibc say.
final class ProcessMetricsTests: XCTestCase {
    func testStatFieldsAreCountedFromTheCommandsLastParenthesis() {
        // A command may hold spaces and parentheses; utime 7, stime 5, start 900, 4096 bytes, 3 pages.
        let line = "1234 (pacer (x) y) S 1 1234 1234 0 -1 4194560 10 0 0 0 7 5 0 0 20 0 6 0 900 4096 3 18446744073709551615\n"
        XCTAssertEqual(
            ProcessMetrics.parse(stat: line),
            ProcessMetrics.Stat(cpuTicks: 12, startTicks: 900, virtualBytes: 4096, residentPages: 3))
        XCTAssertNil(ProcessMetrics.parse(stat: "1234 pacer S 1"))
        XCTAssertNil(ProcessMetrics.parse(stat: "1234 (pacer) S 1 2 3"))
        XCTAssertEqual(ProcessMetrics.bootTime(procStat: "cpu  1 2 3\nbtime 1764000000\nprocesses 9\n"), 1_764_000_000)
        XCTAssertNil(ProcessMetrics.bootTime(procStat: "cpu  1 2 3\n"))
    }

    func testTheFiguresAreThisProcesssOwn() throws {
        let before = try Self.values()
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        XCTAssertEqual(before["process_open_fds"] ?? -1, Double(fds), accuracy: 3)
        var limit = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit), 0)
        XCTAssertEqual(before["process_max_fds"], Double(limit.rlim_cur))
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        let resident = Double(Int(statm[1])! * Int(sysconf(Int32(_SC_PAGESIZE))))
        XCTAssertEqual(before["process_resident_memory_bytes"] ?? 0, resident, accuracy: resident * 0.2)
        XCTAssertGreaterThan(before["process_cpu_seconds_total"] ?? 0, 0)
        let started = before["process_start_time_seconds"] ?? 0
        XCTAssertLessThan(started, Date().timeIntervalSince1970 + 1)
        XCTAssertGreaterThan(started, Date().timeIntervalSince1970 - 86_400)

        // 64 MiB allocated shows in the heap's in-use bytes, and leaves it when freed.
        let size = 64 << 20
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        let holding = try Self.values()
        block.deallocate()
        let after = try Self.values()
        XCTAssertGreaterThanOrEqual(holding["pacer_heap_in_use_bytes"]! - before["pacer_heap_in_use_bytes"]!, Double(size))
        XCTAssertGreaterThanOrEqual(holding["pacer_heap_in_use_bytes"]! - after["pacer_heap_in_use_bytes"]!, Double(size))
        XCTAssertNotNil(after["pacer_heap_free_bytes"])
    }

    func testAFollowerKeepsTheLeadersFiguresButReportsItsOwnProcess() throws {
        let leader = """
            # HELP pacer_apps Apps defined.
            # TYPE pacer_apps gauge
            pacer_apps 3
            # HELP process_open_fds Open file descriptors.
            # TYPE process_open_fds gauge
            process_open_fds 99999
            # TYPE pacer_tasks gauge
            pacer_tasks{state="TASK_RUNNING"} 7
            # HELP pacer_heap_free_bytes Heap.
            # TYPE pacer_heap_free_bytes gauge
            pacer_heap_free_bytes 1
            # a comment the leader wrote
            process_max_fds{worker="1"} 5

            """
        let out = ProcessMetrics.withOwnProcessFamilies(leader)
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        for kept in ["pacer_apps 3", #"pacer_tasks{state="TASK_RUNNING"} 7"#, "# a comment the leader wrote"] {
            XCTAssertTrue(lines.contains(Substring(kept)), kept)
        }
        XCTAssertFalse(out.contains("99999"), out)
        XCTAssertFalse(out.contains("pacer_heap_free_bytes 1\n"), out)
        XCTAssertFalse(out.contains(#"worker="1""#), out)
        XCTAssertEqual(lines.filter { $0.hasPrefix("# TYPE process_open_fds ") }.count, 1)
        XCTAssertEqual(lines.filter { $0.hasPrefix("process_open_fds ") }.count, 1, "this process's own, appended")
        XCTAssertFalse(out.contains("\n\n"), "no blank line left where families were taken out")
        // Every family this process writes is one a follower replaces.
        let written = Set(ProcessMetrics.text().split(separator: "\n").compactMap(ProcessMetrics.metricName))
        XCTAssertEqual(written, ProcessMetrics.familyNames)
        XCTAssertNil(ProcessMetrics.metricName("# just words"))
        XCTAssertNil(ProcessMetrics.metricName(""))
    }

    /// Each unlabelled sample of the text, by name.
    private static func values() throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in ProcessMetrics.text(heapEvery: .zero).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            out[String(parts[0])] = try XCTUnwrap(Double(parts[1]), "\(line)")
        }
        return out
    }
}
