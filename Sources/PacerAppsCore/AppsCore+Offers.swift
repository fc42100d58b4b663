import Foundation
import PacerModel

extension AppsCore {
    /// Packs as many waiting instances into each offer as fit (resources, ports, constraints).
    /// Records come first in the directives: they are persisted before the launch is sent.
    public mutating func handleOffers(_ offers: [Offer], now: Date) -> [AppsDirective] {
        var out: [AppsDirective] = []
        var declined: [String] = []
        for offer in offers {
            var remaining = offer.resources
            var infos: [TaskInfo] = []
            var records: [TaskRecord] = []
            for app in apps.values.sorted(by: { $0.id < $1.id }) {
                if let d = delays[app.id], d.until > now { continue }
                if !dependenciesReady(app) { continue }
                place(app, count: plan(app, now: now).launch, on: offer, &remaining, &records, &infos, now: now)
                if let canary = canaries[app.id] {
                    place(canary.spec, count: canaryLaunch(app.id, now: now), on: offer, &remaining, &records, &infos, now: now)
                }
            }
            if infos.isEmpty {
                declined.append(offer.id)
            } else {
                out.append(.persistTasks(records))
                out.append(.accept(offerId: offer.id, tasks: infos, refuseSeconds: 0))
            }
        }
        if !declined.isEmpty {
            let refuse = hasDemand(now: now) ? settings.unfitRefuseSeconds : settings.declineRefuseSeconds
            out.append(.decline(offerIds: declined, refuseSeconds: refuse))
        }
        return out
    }

    /// Up to `count` instances of `app` on this offer, as far as they fit.
    mutating func place(_ app: AppDefinition, count: Int, on offer: Offer, _ remaining: inout Resources,
                        _ records: inout [TaskRecord], _ infos: inout [TaskInfo], now: Date) {
        var wanted = count
        while wanted > 0, let (record, info) = place(app, on: offer, remaining: remaining, now: now) {
            tasks[record.id] = record
            remaining = remaining - info.resources
            records.append(record)
            infos.append(info)
            wanted -= 1
        }
    }

    /// One instance of `app` on this offer, if it fits.
    mutating func place(_ app: AppDefinition, on offer: Offer, remaining: Resources, now: Date) -> (TaskRecord, TaskInfo)? {
        // Services only on guaranteed resources of their role; batch work only on revocable capacity.
        guard (offer.revocable == true) == (app.kind == .batch),
              app.kind == .batch || (offer.role ?? Role.any) == (app.role ?? Role.any),
              remaining.contains(app.resourcesPerTask),
              ConstraintCheck.accepts(app.constraints, hostname: offer.hostname, attributes: offer.attributes,
                                      placed: live(app.id, now: now)),
              let hostPorts = pickPorts(app, from: remaining) else { return nil }
        let id = TaskRecord.makeId(app: app.id, uuid: nextId())
        let version = app.versionInfo?.lastConfigChangeAt ?? app.version ?? ""
        let servicePorts = app.portDefinitions.map(\.port)
        let record = TaskRecord(id: id, appId: app.id, agentId: offer.agentId, host: offer.hostname,
                                agentAttributes: offer.attributes, ports: hostPorts, servicePorts: servicePorts,
                                version: version, stagedAt: now)
        let resources = Resources(cpus: app.cpus, mem: app.mem, disk: app.disk, ports: PortRange.ranges(of: hostPorts))
        let command = CommandInfo(shell: app.cmd != nil, value: app.cmd, arguments: app.args,
                                  environment: environment(app, taskId: id, host: offer.hostname, ports: hostPorts),
                                  user: app.user)
        let checks = app.healthChecks.map { TaskHealthCheck($0, taskPorts: hostPorts) }
        let readiness = app.readinessChecks.map {
            TaskReadinessCheck($0, portNames: app.portDefinitions.map(\.name), taskPorts: hostPorts)
        }
        let info = TaskInfo(taskId: id, name: app.id.description, agentId: offer.agentId, resources: resources,
                            command: command, killGracePeriodSeconds: app.taskKillGracePeriodSeconds,
                            healthChecks: checks.isEmpty ? nil : checks, readinessChecks: readiness.isEmpty ? nil : readiness,
                            resourceLimits: app.resourceLimits)
        return (record, info)
    }

    /// Host ports: the service ports themselves with `requirePorts`, else the lowest free ones.
    func pickPorts(_ app: AppDefinition, from r: Resources) -> [Int]? {
        let need = app.portDefinitions.count
        if need == 0 { return [] }
        if app.requirePorts {
            let wanted = app.portDefinitions.map(\.port)
            return wanted.allSatisfy { p in r.ports.contains { $0.contains(p) } } ? wanted : nil
        }
        var picked: [Int] = []
        for range in r.ports {
            var p = range.begin
            while p <= range.end && picked.count < need { picked.append(p); p += 1 }
            if picked.count == need { return picked }
        }
        return nil
    }

    /// The variables of DESIGN.md, Marathon's names for compatibility, then the app's own `env`.
    func environment(_ app: AppDefinition, taskId: String, host: String, ports: [Int]) -> [String: String] {
        var env: [String: String] = [
            "HOST": host, "PACER_APP_ID": app.id.description, "PACER_TASK_ID": taskId,
            "MARATHON_APP_ID": app.id.description, "MARATHON_APP_VERSION": app.version ?? "",
            "MESOS_TASK_ID": taskId, "PORTS": ports.map(String.init).joined(separator: ","),
        ]
        for (i, p) in ports.enumerated() {
            env["PORT\(i)"] = String(p)
            if let name = app.portDefinitions[safe: i]?.name {
                env["PORT_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()] = String(p)
            }
        }
        if let first = ports.first { env["PORT"] = String(first) }
        for (k, v) in app.labels { env["MARATHON_APP_LABEL_" + k.uppercased().replacingOccurrences(of: "-", with: "_")] = v }
        return env.merging(app.env) { _, mine in mine }
    }
}
