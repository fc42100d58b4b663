import Foundation
import PacerLBCore
import XCTest

/// Every load-balancer metric the shipped alerts and dashboard use is one the LB exports (a renamed metric would
/// otherwise leave an alert that can never fire). The framework's and master's names are checked
/// against the real processes in `AlertMetricsEndToEndTests`.
final class AlertRulesTests: XCTestCase {
    /// The metric names the shipped alerts and dashboard use (a histogram's series by its family's name).
    static func alertMetricNames(prefix: String) throws -> Set<String> {
        let ops = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("ops")
        var names = Set<String>()
        for file in ["prometheus/alerts.yml", "grafana/pacer.json"] {
            let text = try String(contentsOf: ops.appendingPathComponent(file), encoding: .utf8)
            names.formUnion(
                text.matches(of: /pacer_[a-z_]+/).map { String($0.output).replacing(/_(bucket|sum|count)$/, with: "") })
        }
        return names.filter { $0.hasPrefix(prefix) }
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

/// The configuration files shipped in `lb-config/` stay valid, and the commented local one says
/// exactly what the binary runs without a file.
final class ShippedConfigTests: XCTestCase {
    private func shipped(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lb-config/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    func testLocalYamlIsTheBuiltInSetup() throws {
        XCTAssertEqual(try LBConfig.parse(try shipped("local.yaml")), LBConfig.local)
    }

    func testEveryShippedConfigurationParses() throws {
        XCTAssertNoThrow(try LBConfig.parse(try shipped("ha.yaml")))
    }
}
