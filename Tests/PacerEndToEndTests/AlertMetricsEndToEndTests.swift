import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// Every framework and master metric the shipped alerts and dashboard use (ops/prometheus, ops/grafana) is one
/// the running processes export, the process families (`process_open_fds`, …) included.
final class AlertMetricsEndToEndTests: ClusterTestCase {
    func testTheFrameworkAndMasterExportEveryMetricTheirAlertsUse() async throws {
        let ops = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("ops")
        var used = Set<String>()
        for file in ["prometheus/alerts.yml", "grafana/pacer.json"] {
            let text = try String(contentsOf: ops.appendingPathComponent(file), encoding: .utf8)
            used.formUnion(
                text.matches(of: /(pacer|process)_[a-z_]+/).map { String($0.output.0) }.filter { !$0.hasPrefix("pacer_lb_") })
        }
        XCTAssertFalse(used.isEmpty)
        let transport = HTTPTransport()
        var exported = Set<String>()
        for url in [cluster.frameworkURL, cluster.masterURL] {
            let r = try await transport.send(.GET, url + "/metrics")
            let text = r.text
            exported.formUnion(text.matches(of: /# TYPE ((pacer|process)_[a-z_]+)/).map { String($0.output.1) })
        }
        XCTAssertEqual(used.subtracting(exported), [], "alerts use metrics no process exports")
    }
}
