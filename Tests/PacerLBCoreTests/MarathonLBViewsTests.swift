import PacerLBCore
import XCTest

/// marathon-lb's admin views of a routing table: names and line formats deploy tools parse.
final class MarathonLBViewsTests: XCTestCase {
    let table: RoutingTable = {
        let web = ServiceRoute(
            appId: "/shop/web", portIndex: 0, servicePort: 10000, mode: .http, balance: .roundRobin,
            backends: [Backend(host: "10.0.0.2", port: 31001, taskId: "b"), Backend(host: "10.0.0.1", port: 31000, taskId: "a")],
            vhosts: ["shop.example"], path: "/api", sticky: true)
        let db = ServiceRoute(
            appId: "/db", portIndex: 0, servicePort: 10001, mode: .tcp, balance: .leastConnections,
            backends: [Backend(host: "10.0.0.3", port: 31002, taskId: "c")])
        return RoutingTable(services: [10000: web, 10001: db])
    }()

    func testMapsUseMarathonLBsBackendNames() {
        XCTAssertEqual(MarathonLBViews.vhostMap(table), "shop.example/api shop_web_10000\n")
        XCTAssertEqual(MarathonLBViews.appMap(table), "/db db_10001\n/shop/web shop_web_10000\n")
    }

    func testConfigListsFrontendsBackendsAndServersInOrder() {
        let config = MarathonLBViews.config(table, httpPort: 80, bind: "0.0.0.0")
        XCTAssertTrue(config.contains("frontend marathon_http_in\n  bind 0.0.0.0:80\n  mode http\n"), config)
        XCTAssertTrue(config.contains("  use_backend shop_web_10000 if host_shop_example_10000 { path_beg /api }\n"), config)
        XCTAssertTrue(
            config.contains("backend db_10001\n  balance leastconn\n  mode tcp\n  server 10_0_0_3_31002 10.0.0.3:31002\n"), config
        )
        let servers = config.split(separator: "\n").filter { $0.contains("server 10_0_0_") && $0.contains("cookie") }
        XCTAssertEqual(servers.count, 2)
        XCTAssertTrue(servers[0].contains("10.0.0.1:31000"), "sorted by address")
        XCTAssertLessThan(
            config.range(of: "backend shop_web_10000")!.lowerBound, config.range(of: "backend db_10001")!.lowerBound,
            "by service port")
        XCTAssertEqual(
            MarathonLBViews.config(RoutingTable(), httpPort: 80, bind: "0.0.0.0").split(separator: "\n").count, 1,
            "an empty table: only the comment")
    }
}
