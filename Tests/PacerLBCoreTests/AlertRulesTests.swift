import Foundation
import PacerLBCore
import XCTest

/// Every load-balancer metric the shipped alerts use is one the LB exports (a renamed metric would
/// otherwise leave an alert that can never fire). The framework's and master's names are checked
/// against the real processes in `AlertMetricsEndToEndTests`.
final class AlertRulesTests: XCTestCase {
    static func alertMetricNames(prefix: String) throws -> Set<String> {
        let rules = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("ops/prometheus/alerts.yml")
        let text = try String(contentsOf: rules, encoding: .utf8)
        let names = text.matches(of: /pacer_[a-z_]+/).map { String($0.output) }
        return Set(names.filter { $0.hasPrefix(prefix) })
    }

    func testTheLBExportsEveryMetricItsAlertsUse() throws {
        let used = try Self.alertMetricNames(prefix: "pacer_lb_")
        XCTAssertFalse(used.isEmpty)
        let text = MetricsText.render(
            services: [.init(port: 10000, app: "/web", mode: "http", backends: 1, counters: ServiceCounters())],
            connections: (accepted: 0, active: 0, refused: 0), frameworkConnected: true)
        let exported = Set(text.matches(of: /# TYPE (pacer_[a-z_]+)/).map { String($0.output.1) })
        XCTAssertEqual(used.subtracting(exported), [], "alerts use metrics the LB does not export")
    }
}
