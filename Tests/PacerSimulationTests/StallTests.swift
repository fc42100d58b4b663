import Foundation
import PacerMasterCore
import PacerModel
import XCTest

@testable import PacerAppsCore

/// Issue 18: a deployment that never progresses after failovers. Two message races, built by
/// hand with the real master and framework cores, each of which stalled a deployment before
/// the fix: an offer whose DECLINE was lost (the master kept it outstanding forever, so the
/// agent was never offered again), and a REVIVE that overtook an older DECLINE (the refusal
/// it carried then held the agent back for two minutes).
final class StallTests: XCTestCase {
    let agent = AgentInfo(
        id: "a1", hostname: "h1", url: "agent://a1",
        resources: Resources(cpus: 4, mem: 4096, disk: 1000, ports: [PortRange(31000, 31099)]), attributes: [:])

    func date(_ t: Double) -> Instant { Instant(secondsSince1970: 1_700_000_000 + t) }

    func web() -> AppDefinition {
        var a = AppDefinition(id: try! PathId(validating: "/web"))
        a.cmd = "sleep 100"
        a.instances = 2
        a.cpus = 0.1
        a.mem = 16
        a.portDefinitions = [PortDefinition(port: 0)]
        return a
    }

    /// The framework's calls, as the master receives them.
    func calls(_ ds: [AppsDirective], _ fid: String) -> [SchedulerCall] {
        ds.compactMap { d in
            switch d {
            case .accept(let o, let t, let r): .accept(fid, offerIds: [o], tasks: t, refuseSeconds: r.seconds)
            case .decline(let o, let r): .decline(fid, offerIds: o, refuseSeconds: r.seconds)
            case .revive: SchedulerCall(type: .revive, frameworkId: fid)
            default: nil
            }
        }
    }

    func launched(_ ds: [AppsDirective]) -> [TaskInfo] {
        ds.flatMap { d -> [TaskInfo] in
            if case .accept(_, let t, _) = d { return t }
            return []
        }
    }

    func offers(_ ds: [MasterDirective]) -> [Offer] {
        ds.flatMap { d -> [Offer] in
            if case .toFramework(_, let e) = d, let o = e.offers { return o.offers }
            return []
        }
    }

    /// Ticks master and framework every 0.25 s from `start` for `seconds`, delivering offers and
    /// calls at once; returns when the first task is launched, or nil.
    func launchTime(_ m: inout MasterCore, _ f: inout AppsCore, fid: String, from start: Double, seconds: Double) throws
        -> Double?
    {
        var t = start
        while t < start + seconds {
            t += 0.25
            var pending = offers(m.onTick(now: Instant(secondsSince1970: t)))
            var framework = f.onTick(now: date(t))
            while true {
                if !pending.isEmpty { framework += f.onOffers(pending, now: date(t)) }
                if !launched(framework).isEmpty { return t - start }
                pending = []
                for call in calls(framework, fid) { pending += offers(try m.onCall(call, now: Instant(secondsSince1970: t))) }
                framework = []
                if pending.isEmpty { break }
            }
        }
        return nil
    }

    func testAnOfferWhoseDeclineWasLostDoesNotStallADeployment() throws {
        // A master that just took over; the framework resubscribes and is offered the agent.
        var m = MasterCore(now: 100, idPrefix: "m2")
        _ = m.onRegisterAgent(agent, tasks: [], now: 100)
        let (fid, subscribed) = m.onSubscribe(FrameworkInfo(name: "pacer"), now: 100)
        var f = AppsCore(apps: [], tasks: [], idPrefix: "f", now: date(100))
        // Nothing to launch: it declines — and the DECLINE never arrives.
        XCTAssertTrue(
            f.onOffers(offers(subscribed), now: date(100)).contains {
                if case .decline = $0 { return true }
                return false
            })
        // An app is posted; its REVIVE arrives.
        let (_, _, put) = try f.putApp(web(), now: date(101), force: false)
        for call in calls(put, fid) { _ = try m.onCall(call, now: 101) }
        let waited = try launchTime(&m, &f, fid: fid, from: 101, seconds: 60)
        XCTAssertNotNil(waited, "the agent's offer stayed outstanding: nothing launched in 60 s")
        XCTAssertLessThanOrEqual(waited ?? .infinity, m.settings.offerTimeout.seconds + 1)
    }

    func testAReviveOvertakenByAnOlderDeclineDoesNotStallADeployment() throws {
        var m = MasterCore(now: 0, idPrefix: "m")
        _ = m.onRegisterAgent(agent, tasks: [], now: 0)
        let (fid, subscribed) = m.onSubscribe(FrameworkInfo(name: "pacer"), now: 0)
        var f = AppsCore(apps: [], tasks: [], idPrefix: "f", now: date(0))
        // Nothing to launch yet: decline for two minutes...
        let decline = f.onOffers(offers(subscribed), now: date(1))
        // ...while an app is posted; the REVIVE reaches the master first, then the DECLINE.
        let (_, _, put) = try f.putApp(web(), now: date(1.1), force: false)
        for call in calls(put, fid) + calls(decline, fid) { XCTAssertTrue(offers(try m.onCall(call, now: 1.2)).isEmpty) }
        let waited = try launchTime(&m, &f, fid: fid, from: 1.2, seconds: 60)
        XCTAssertNotNil(waited, "the decline's refusal held the agent back: nothing launched in 60 s")
        XCTAssertLessThanOrEqual(waited ?? .infinity, f.settings.revive.seconds + 1)
    }
}
