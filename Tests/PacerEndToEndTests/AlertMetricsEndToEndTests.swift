import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// Every framework and master metric the shipped alerts use (ops/prometheus/alerts.yml) is one
/// the running processes export.
final class AlertMetricsEndToEndTests: ClusterTestCase {
    func testTheFrameworkAndMasterExportEveryMetricTheirAlertsUse() async throws {
        let rules = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("ops/prometheus/alerts.yml")
        let used = Set(try String(contentsOf: rules, encoding: .utf8).matches(of: /pacer_[a-z_]+/).map { String($0.output) })
            .filter { !$0.hasPrefix("pacer_lb_") }
        XCTAssertFalse(used.isEmpty)
        let transport = HTTPTransport()
        var exported = Set<String>()
        for url in [cluster.frameworkURL, cluster.masterURL] {
            let r = try await transport.send(.GET, url + "/metrics")
            let text = r.text
            exported.formUnion(text.matches(of: /# TYPE (pacer_[a-z_]+)/).map { String($0.output.1) })
        }
        XCTAssertEqual(used.subtracting(exported), [], "alerts use metrics no process exports")
    }
}
