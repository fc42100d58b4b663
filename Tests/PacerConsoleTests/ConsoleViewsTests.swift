import Foundation
import XCTest

@testable import PacerConsole

/// The console's decisions, from API JSON to what the templates show.
final class ConsoleViewsTests: XCTestCase {
    func app(
        _ id: String, instances: Int, running: Int, healthy: Int = 0, unhealthy: Int = 0, staged: Int = 0, deploying: Bool = false
    )
        -> [String: Any]
    {
        [
            "id": id, "instances": instances, "tasksRunning": running, "tasksHealthy": healthy, "tasksUnhealthy": unhealthy,
            "tasksStaged": staged, "cpus": 0.5, "mem": 64, "version": "v1",
            "deployments": deploying ? [["id": "d1"]] : [[String: Any]]()
        ]
    }

    func testTheHealthBarAddsUpAndSaysWhatEachPartIs() {
        let bar = ConsoleViews.bar(app("/a", instances: 4, running: 3, healthy: 2, unhealthy: 1))
        XCTAssertEqual(bar.map { $0["kind"] as? String }, ["healthy", "unhealthy", "missing"])
        XCTAssertEqual(bar.map { $0["width"] as? String }, ["50.00", "25.00", "25.00"])
        XCTAssertEqual(bar.map { $0["x"] as? String }, ["0.00", "50.00", "75.00"], "each part starts where the last ended")
        // More tasks than asked for (a scale-down under way): shares of the tasks, never over 100 %.
        let over = ConsoleViews.bar(app("/a", instances: 1, running: 2, healthy: 2))
        XCTAssertEqual(over.map { $0["width"] as? String }, ["100.00"])
    }

    func testAnAppsStateIsTheFirstThatApplies() {
        XCTAssertEqual(ConsoleViews.state(app("/a", instances: 0, running: 0)), "suspended")
        XCTAssertEqual(ConsoleViews.state(app("/a", instances: 2, running: 1, deploying: true)), "deploying")
        XCTAssertEqual(ConsoleViews.state(app("/a", instances: 2, running: 2, unhealthy: 1)), "unhealthy")
        XCTAssertEqual(ConsoleViews.state(app("/a", instances: 2, running: 1)), "waiting")
        XCTAssertEqual(ConsoleViews.state(app("/a", instances: 2, running: 2, healthy: 2)), "running")
    }

    func testAppsAreGroupedByPathAndFiltered() {
        let json: [String: Any] = [
            "apps": [
                app("/team-a/web", instances: 1, running: 1), app("/team-a/api", instances: 1, running: 0),
                app("/team-ab/x", instances: 1, running: 1), app("/solo", instances: 0, running: 0)
            ]
        ]
        let all = ConsoleViews.apps(json, pathFilter: "", stateFilter: "")
        XCTAssertEqual((all["groups"] as? [[String: Any]])?.map { $0["path"] as? String }, ["/", "/team-a", "/team-ab"])
        let teamA = ConsoleViews.apps(json, pathFilter: "/team-a", stateFilter: "")
        XCTAssertEqual(teamA["count"] as? Int, 2, "a path filter is a prefix of whole segments: /team-ab is not under /team-a")
        let waiting = ConsoleViews.apps(json, pathFilter: "", stateFilter: "waiting")
        XCTAssertEqual(waiting["count"] as? Int, 1)
        XCTAssertEqual(ConsoleViews.apps(json, pathFilter: "/nothing", stateFilter: "")["empty"] as? Bool, true)
    }

    func testADeploymentSaysWhyItWaitsAndWhetherItIsACanary() {
        let d: [String: Any] = [
            "id": "d1", "affectedApps": ["/a"], "currentStep": 1, "totalSteps": 2,
            "currentActions": [["action": "StartCanary", "app": "/a"]],
            "pacer": ["waitingFor": "1 offer did not fit: constraint hostname:LIKE:x not met", "stalled": true]
        ]
        let view = ConsoleViews.deployment(d, now: Date())
        XCTAssertEqual(view["why"] as? String, "1 offer did not fit: constraint hostname:LIKE:x not met")
        XCTAssertEqual(view["canary"] as? Bool, true)
        XCTAssertEqual(view["stalled"] as? Bool, true)
        XCTAssertEqual(view["step"] as? Int, 1)
    }

    func testTheSpecDiffShowsWhatChanged() {
        let a = ConsoleViews.pretty(["id": "/a", "instances": 1, "cmd": "x"])
        let b = ConsoleViews.pretty(["id": "/a", "instances": 3, "cmd": "x"])
        let diff = ConsoleViews.lineDiff(a, b)
        XCTAssertEqual(
            diff.filter { $0["kind"] as? String == "removed" }.map { $0["line"] as? String }, [#"-   "instances" : 1"#])
        XCTAssertEqual(diff.filter { $0["kind"] as? String == "added" }.map { $0["line"] as? String }, [#"+   "instances" : 3"#])
        XCTAssertEqual(diff.filter { $0["kind"] as? String == "same" }.count, 4)
    }

    func testTheAllocationChartIsDrawnFromTheSamples() {
        let samples: [[String: Any]] = (0..<3).map { i in
            ["time": Double(i * 10), "total": ["cpus": 4.0, "mem": 1000.0], "allocated": ["cpus": Double(i * 2), "mem": 500.0]]
        }
        let chart = ConsoleViews.chart(["samples": samples])
        XCTAssertEqual(chart?["cpus"] as? String, "0.0,120.0 300.0,60.0 600.0,0.0", "0 %, 50 %, 100 % across the width")
        XCTAssertNil(ConsoleViews.chart(["samples": Array(samples.prefix(1))]), "one sample is no line")
        let cluster = ConsoleViews.cluster(["agents": [], "frameworks": []], roles: nil, allocation: nil)
        XCTAssertNil(cluster["chart"], "no chart section at all without samples (an empty one is invalid SVG)")
    }

    func testTrafficRatesComeFromTwoSamples() async {
        let rates = TrafficRates()
        func stats(_ requests: Int, _ fivexx: Int) -> [String: Any] {
            [
                "services": [
                    [
                        "port": 10000,
                        "counters": [
                            "requests": requests, "responses": [0, 0, 0, 0, fivexx], "generated": 0,
                            "backends": ["10.0.0.7:31000": ["responses": [0, requests - fivexx, 0, 0, fivexx]]]
                        ]
                    ]
                ]
            ]
        }
        let first = await rates.update("lb", TrafficRates.counts(stats(100, 1)))
        XCTAssertTrue(first.isEmpty, "one sample has no rate")
        try? await Task.sleep(for: .milliseconds(200))
        let second = await rates.update("lb", TrafficRates.counts(stats(300, 3)))
        let (perSecond, errors) = second["10000"]!
        XCTAssertGreaterThan(perSecond, 200)  // 200 requests in about 0.2 s
        XCTAssertLessThan(perSecond, 1100)
        XCTAssertGreaterThan(errors, 0)
        XCTAssertEqual(second["10000 10.0.0.7:31000"]!.0, perSecond, accuracy: 0.001, "the one backend took them all")
    }

    func testBackendsThatLeftTheTableWithConnectionsOpenAreDraining() {
        let stats: [String: Any] = [
            "services": [
                [
                    "port": 10000, "app": "/web", "mode": "http", "backends": ["10.0.0.7:31000"],
                    "counters": [
                        "requests": 10, "responses": [0, 10, 0, 0, 0],
                        "backends": [
                            "10.0.0.7:31000": ["active": 1, "connections": 3, "responses": [0, 6, 0, 0, 0]],
                            "10.0.0.8:31000": ["active": 2, "connections": 2, "responses": [0, 4, 0, 0, 0]]
                        ]
                    ]
                ]
            ]
        ]
        let view = ConsoleViews.traffic(stats, name: "lb", rates: [:])
        let backends = ((view["services"] as? [[String: Any]])?.first?["backends"] as? [[String: Any]]) ?? []
        XCTAssertEqual(backends.map { $0["address"] as? String }, ["10.0.0.7:31000", "10.0.0.8:31000"])
        XCTAssertEqual(backends.map { $0["state"] as? String }, ["routed", "draining"])
        XCTAssertEqual(backends.map { $0["responses"] as? Int }, [6, 4])
    }

    func testEveryTemplateRendersAndEscapes() {
        let context: [String: Any] = [
            "groups": [["path": "/x", "apps": [["id": "/x/<script>", "href": "/ui/app?id=/x", "bar": [], "state": "running"]]]],
            "states": [], "count": 1, "total": 1
        ]
        let html = Console.library.render(context, withTemplate: "apps") ?? ""
        XCTAssertTrue(html.contains("/x/&lt;script&gt;"), html)
        XCTAssertFalse(html.contains("<script>"))
        for name in ["layout", "apps", "app", "deployments", "logs", "traffic", "cluster", "events"] {
            XCTAssertNotNil(Console.library.render([String: Any](), withTemplate: name), name)
        }
    }

    func testLatencyQuantilesComeFromTheLBsHistogram() {
        // 90 answers within 5 ms, 9 within 100 ms, 1 above 10 s.
        var counts = [Int](repeating: 0, count: 14)
        counts[2] = 90
        counts[6] = 9
        counts[13] = 1
        XCTAssertEqual(ConsoleViews.quantile(["counts": counts], 0.5), "≤ 5 ms")
        XCTAssertEqual(ConsoleViews.quantile(["counts": counts], 0.99), "≤ 100 ms")
        XCTAssertEqual(ConsoleViews.quantile(["counts": counts], 1), "> 10 s")
        XCTAssertEqual(ConsoleViews.quantile(["counts": [Int](repeating: 0, count: 14)], 0.5), "—")
    }
}
