import Foundation
import PacerAppsCore
import PacerModel
import XCTest

/// The upgrade plan, stepped to convergence over many (instances, capacity) combinations, with
/// Marathon's invariants checked after every step.
final class InstancePlanTests: XCTestCase {
    func record(_ id: String, version: String, running: Bool, at: Double) -> TaskRecord {
        TaskRecord(
            id: id, appId: try! PathId(validating: "/a"), agentId: "a", host: "h", agentAttributes: [:], ports: [],
            servicePorts: [], version: version, stagedAt: t0.addingTimeInterval(at).date, state: running ? .running : .staging)
    }

    func testRollingUpgradeInvariantsHoldAtEveryStep() {
        let capacities = [0.0, 0.25, 0.5, 0.75, 1.0]
        for n in [0, 1, 2, 3, 5, 10] {
            for minHealth in capacities {
                for maxOver in capacities {
                    var spec = app("/a", instances: n)
                    spec.upgradeStrategy = UpgradeStrategy(minimumHealthCapacity: minHealth, maximumOverCapacity: maxOver)
                    spec.versionInfo = VersionInfo(lastScalingAt: "new", lastConfigChangeAt: "new")
                    var live = (0..<n).map { record("old\($0)", version: "old", running: true, at: Double($0)) }
                    let minRunning = Int((Double(n) * minHealth).rounded(.up))
                    let maxTotal = n + Int((Double(n) * maxOver).rounded(.down))
                    var steps = 0
                    var counter = 0
                    while steps < 100 {
                        steps += 1
                        let plan = InstancePlan.make(app: spec, live: live)
                        if plan.launch == 0 && plan.kill.isEmpty {
                            if live.allSatisfy({ $0.state == .running }) { break }
                            live = live.map {
                                var t = $0
                                t.state = .running
                                return t
                            }
                            continue
                        }
                        // Tasks launched in the previous step start running only now.
                        let startedBefore = Set(live.map(\.id))
                        live.removeAll { plan.kill.contains($0.id) }
                        let label = "n=\(n) min=\(minHealth) over=\(maxOver) step=\(steps)"
                        let running = live.filter { $0.state == .running }.count
                        let strict = minRunning < n || maxTotal > n
                        if strict { XCTAssertGreaterThanOrEqual(running, min(minRunning, n), "too few running: \(label)") }
                        for _ in 0..<plan.launch {
                            counter += 1
                            live.append(record("new\(counter)", version: "new", running: false, at: 100 + Double(counter)))
                        }
                        XCTAssertLessThanOrEqual(live.count, max(maxTotal, n), "too many tasks: \(label)")
                        live = live.map {
                            var t = $0
                            if startedBefore.contains(t.id) { t.state = .running }
                            return t
                        }
                    }
                    XCTAssertLessThan(steps, 100, "did not converge: n=\(n) min=\(minHealth) over=\(maxOver)")
                    XCTAssertEqual(live.count, n)
                    XCTAssertTrue(
                        live.allSatisfy { $0.version == "new" }, "old tasks left: n=\(n) min=\(minHealth) over=\(maxOver)")
                }
            }
        }
    }

    func testNewTasksRunBeforeOldOnesGoAtFullCapacity() {
        var spec = app("/a", instances: 2)
        spec.versionInfo = VersionInfo(lastScalingAt: "new", lastConfigChangeAt: "new")
        let old = (0..<2).map { record("old\($0)", version: "old", running: true, at: 0) }
        let first = InstancePlan.make(app: spec, live: old)
        XCTAssertEqual(first.launch, 2)
        XCTAssertEqual(first.kill, [])
        let staging =
            old + [record("n1", version: "new", running: false, at: 1), record("n2", version: "new", running: false, at: 1)]
        XCTAssertEqual(InstancePlan.make(app: spec, live: staging).kill, [], "nothing old goes before new tasks run")
    }
}
