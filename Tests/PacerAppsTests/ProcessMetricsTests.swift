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

    /// Each unlabelled sample of the text, by name.
    private static func values() throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in ProcessMetrics.text().split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            out[String(parts[0])] = try XCTUnwrap(Double(parts[1]), "\(line)")
        }
        return out
    }
}
