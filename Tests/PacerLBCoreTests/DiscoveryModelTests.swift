import Foundation
import PacerLBCore
import XCTest

/// The LB's model of the framework: snapshots decoded app by app and task by task (one odd task
/// never stalls the table), events applied one by one, routes rebuilt for changed apps only.
final class DiscoveryModelTests: XCTestCase {
    let snapshot = #"""
        {"apps":[
          {"id":"/web","labels":{"HAPROXY_0_VHOST":"web.example"},"portDefinitions":[{"port":10000}],"healthChecks":[{"protocol":"HTTP"}],
           "tasks":[{"id":"web.1","host":"10.0.0.1","ports":[31000],"state":"TASK_RUNNING","healthCheckResults":[{"alive":true}]},
                    {"id":"web.2","host":"10.0.0.2","ports":[31001],"state":"TASK_RUNNING"},
                    {"id":"web.3","ports":[31002],"state":"TASK_RUNNING"},
                    {"id":"web.4","host":"10.0.0.4","ports":"not a list","state":"TASK_RUNNING"}]},
          {"labels":{},"portDefinitions":[{"port":10001}]},
          {"id":"/tcp","ports":[10002],"tasks":[{"id":"tcp.1","host":"10.0.0.5","ports":[31005],"state":"TASK_RUNNING","slaveId":null}]}
        ]}
        """#

    func testOddAppsAndTasksAreSkippedAndCountedNotFatal() throws {
        let s = try JSONDecoder().decode(AppsSnapshot.self, from: Data(snapshot.utf8))
        XCTAssertEqual(s.apps.map(\.id), ["/web", "/tcp"])
        XCTAssertEqual(s.skippedApps, 1, "the app without an id")
        XCTAssertEqual(s.skippedTasks, 2, "the task without a host and the one with ports of the wrong type")
        var model = DiscoveryModel(group: nil)
        model.replaceAll(s.apps)
        let table = model.table(updating: RoutingTable())
        XCTAssertEqual(table.services[10000]?.backends.map(\.taskId), ["web.1"], "web.2 has no health verdict yet")
        XCTAssertEqual(
            table.services[10002]?.backends.map(\.taskId), ["tcp.1"], "Marathon's older `ports` list; no slaveId needed")
    }

    func testEventsMoveTasksInAndOutOfRotation() throws {
        var model = DiscoveryModel(group: nil)
        model.replaceAll(try JSONDecoder().decode(AppsSnapshot.self, from: Data(snapshot.utf8)).apps)
        var table = model.table(updating: RoutingTable())
        func apply(_ type: String, _ json: String) -> [String] {
            model.apply(DiscoveryEvent.parse(type: type, data: Data(json.utf8))!)
        }
        XCTAssertEqual(apply("health_status_changed_event", #"{"appId":"/web","taskId":"web.2","alive":true}"#), [])
        _ = apply(
            "status_update_event",
            #"{"appId":"/web","taskId":"web.5","taskStatus":"TASK_RUNNING","host":"10.0.0.6","ports":[31009]}"#)
        table = model.table(updating: table)
        XCTAssertEqual(table.services[10000]?.backends.map(\.taskId), ["web.1", "web.2"], "web.5 is not healthy yet")
        _ = apply("health_status_changed_event", #"{"appId":"/web","instanceId":"web.5","alive":true}"#)
        _ = apply("instance_draining_event", #"{"appId":"/web","taskId":"web.1"}"#)
        table = model.table(updating: table)
        XCTAssertEqual(table.services[10000]?.backends.map(\.taskId), ["web.2", "web.5"])
        XCTAssertEqual(model.draining, ["web.1"])
        _ = apply("status_update_event", #"{"appId":"/web","taskId":"web.1","taskStatus":"TASK_KILLED"}"#)
        XCTAssertEqual(model.draining, [], "gone")
        // An app's definition changed, or a task of an app not known: fetched again, by id.
        XCTAssertEqual(apply("api_post_event", #"{"appDefinition":{"id":"/web","instances":3}}"#), ["/web"])
        XCTAssertEqual(
            apply(
                "status_update_event", #"{"appId":"/new","taskId":"new.1","taskStatus":"TASK_RUNNING","host":"h","ports":[1]}"#),
            ["/new"])
        XCTAssertEqual(apply("deployment_success", #"{"id":"d","plan":{"affectedApps":["/tcp"]}}"#), ["/tcp"])
        _ = apply("app_terminated_event", #"{"appId":"/tcp"}"#)
        table = model.table(updating: table)
        XCTAssertNil(table.services[10002])
        XCTAssertNil(DiscoveryEvent.parse(type: "status_update_event", data: Data(#"{"taskId":"x"}"#.utf8)), "no app: unusable")
        XCTAssertNil(DiscoveryEvent.parse(type: "framework_message_event", data: Data("{}".utf8)), "not about routing")
    }

    /// The draining set is kept as apps change (never rebuilt from every task), and a table update
    /// names only the services it changed.
    func testDrainingFollowsFetchesAndTablesNameTheirChanges() throws {
        var model = DiscoveryModel(group: nil)
        model.replaceAll(try JSONDecoder().decode(AppsSnapshot.self, from: Data(snapshot.utf8)).apps)
        let before = model.table(updating: RoutingTable())
        _ = model.apply(
            DiscoveryEvent.parse(type: "instance_draining_event", data: Data(#"{"appId":"/tcp","taskId":"tcp.1"}"#.utf8))!)
        XCTAssertEqual(model.draining, ["tcp.1"])
        let after = model.table(updating: before)
        XCTAssertEqual(RoutingTable.changedPorts(from: before, to: after), [10002], "only the service of the app that changed")
        XCTAssertEqual(RoutingTable.changedPorts(from: after, to: after), [])
        XCTAssertEqual(Set(RoutingTable.changedPorts(from: RoutingTable(), to: after)), Set(after.services.keys), "all new")
        XCTAssertEqual(Set(RoutingTable.changedPorts(from: after, to: RoutingTable())), Set(after.services.keys), "all gone")
        var tcp = model.apps["/tcp"]!
        model.replace("/tcp", with: tcp)
        XCTAssertEqual(model.draining, ["tcp.1"], "fetched again, still draining")
        tcp.tasks["tcp.1"]?.draining = false
        model.replace("/tcp", with: tcp)
        XCTAssertEqual(model.draining, [], "fetched again without the drain")
        model.replace("/tcp", with: nil)
        model.replaceAll(try JSONDecoder().decode(AppsSnapshot.self, from: Data(snapshot.utf8)).apps)
        XCTAssertEqual(model.draining, [])
    }

    /// A deleted app leaves the model in the same batch that drains its tasks: its tasks are
    /// reported once as out of rotation (so the framework need not wait its drain timeout), as are
    /// tasks missing from an app fetched again; tasks still routed are not.
    func testTasksLeavingWithTheirAppAreReportedOnce() throws {
        var model = DiscoveryModel(group: nil)
        model.replaceAll(try JSONDecoder().decode(AppsSnapshot.self, from: Data(snapshot.utf8)).apps)
        XCTAssertEqual(model.takeRemoved(), [], "nothing left yet")
        _ = model.apply(DiscoveryEvent.parse(type: "app_terminated_event", data: Data(#"{"appId":"/tcp"}"#.utf8))!)
        XCTAssertEqual(model.takeRemoved(), ["tcp.1"])
        XCTAssertEqual(model.takeRemoved(), [], "reported once")
        var web = model.apps["/web"]!
        web.tasks["web.2"] = nil
        model.replace("/web", with: web)
        XCTAssertEqual(model.takeRemoved(), ["web.2"], "web.1 is still in the app fetched again")
        model.replaceAll([web])
        XCTAssertEqual(model.takeRemoved(), [], "the same tasks")
        model.replaceAll([])
        XCTAssertEqual(model.takeRemoved(), Set(web.tasks.keys))
    }

    func testAnUnchangedModelKeepsTheSameTable() throws {
        var model = DiscoveryModel(group: "external")
        model.replaceAll(try JSONDecoder().decode(AppsSnapshot.self, from: Data(snapshot.utf8)).apps)
        let table = model.table(updating: RoutingTable())
        XCTAssertTrue(table.services.isEmpty, "no app of the group")
        XCTAssertEqual(model.table(updating: table), table)
    }
}
