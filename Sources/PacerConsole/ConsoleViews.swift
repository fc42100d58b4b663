import Foundation
import PacerLBCore

/// What the console's templates read, made from the API's JSON. Pure: JSON in, dictionaries out
/// (the templates are logic-less, so every decision — a bar's widths, an app's state, why a
/// deployment waits — is made here, where unit tests reach it).
enum ConsoleViews {
    typealias JSON = [String: Any]

    // MARK: apps

    /// An app's state, in the words the filter uses.
    static func state(_ app: JSON) -> String {
        let instances = app["instances"] as? Int ?? 0
        let running = app["tasksRunning"] as? Int ?? 0
        let unhealthy = app["tasksUnhealthy"] as? Int ?? 0
        let deploying = !((app["deployments"] as? [Any]) ?? []).isEmpty
        if instances == 0 && running == 0 { return "suspended" }
        if deploying { return "deploying" }
        if unhealthy > 0 { return "unhealthy" }
        if running < instances { return "waiting" }
        return "running"
    }

    /// The health bar: healthy, unhealthy, running without checks, staged, missing — as shares of
    /// the larger of the instances asked for and the tasks there are.
    static func bar(_ app: JSON) -> [JSON] {
        let instances = app["instances"] as? Int ?? 0
        let running = app["tasksRunning"] as? Int ?? 0
        let staged = app["tasksStaged"] as? Int ?? 0
        let healthy = app["tasksHealthy"] as? Int ?? 0
        let unhealthy = app["tasksUnhealthy"] as? Int ?? 0
        let plain = max(0, running - healthy - unhealthy)
        let missing = max(0, instances - running - staged)
        let whole = max(1, max(instances, running + staged))
        let parts: [(String, Int, String)] = [
            ("healthy", healthy, "healthy"), ("unhealthy", unhealthy, "unhealthy"), ("running", plain, "running (no checks)"),
            ("staged", staged, "staged"), ("missing", missing, "not running")
        ]
        // Drawn as SVG rectangles (widths are attributes: the page's CSP allows no inline style).
        var x = 0.0
        return parts.filter { $0.1 > 0 }.map {
            let width = Double($0.1) * 100 / Double(whole)
            defer { x += width }
            return [
                "kind": $0.0, "count": $0.1, "label": $0.2, "x": String(format: "%.2f", x), "width": String(format: "%.2f", width)
            ]
        }
    }

    static func apps(_ json: Any, pathFilter: String, stateFilter: String) -> JSON {
        let all = ((json as? JSON)?["apps"] as? [JSON]) ?? []
        var groups: [String: [JSON]] = [:]
        var shown = 0
        for app in all {
            let id = app["id"] as? String ?? ""
            let state = state(app)
            if !pathFilter.isEmpty
                && !(id == pathFilter || id.hasPrefix(pathFilter.hasSuffix("/") ? pathFilter : pathFilter + "/"))
            {
                continue
            }
            if !stateFilter.isEmpty && state != stateFilter { continue }
            shown += 1
            let group = id.split(separator: "/").dropLast().joined(separator: "/")
            var row: JSON = [
                "id": id, "href": "/ui/app?id=" + query(id), "state": state, "bar": bar(app),
                "instances": app["instances"] as? Int ?? 0, "running": app["tasksRunning"] as? Int ?? 0,
                "healthy": app["tasksHealthy"] as? Int ?? 0, "cpus": number(app["cpus"]), "mem": number(app["mem"]),
                "version": app["version"] as? String ?? "",
                "deployments": ((app["deployments"] as? [JSON]) ?? []).compactMap { $0["id"] as? String }.joined(separator: ", ")
            ]
            if let failure = app["lastTaskFailure"] as? JSON {
                row["failure"] = "\(failure["state"] as? String ?? ""): \(failure["message"] as? String ?? "")"
            }
            groups["/" + group, default: []].append(row)
        }
        let states = ["", "running", "deploying", "waiting", "unhealthy", "suspended"].map {
            ["value": $0, "label": $0.isEmpty ? "any state" : $0, "selected": $0 == stateFilter]
        }
        return [
            "groups": groups.keys.sorted().map { ["path": $0, "apps": groups[$0]!] },
            "path": pathFilter, "states": states, "count": shown, "total": all.count, "empty": shown == 0
        ]
    }

    // MARK: one app

    static func app(_ json: Any, versions: Any, deployments: Any, diff: [JSON]?) -> JSON {
        let app = ((json as? JSON)?["app"] as? JSON) ?? [:]
        let id = app["id"] as? String ?? ""
        let now = Date()
        let tasks = ((app["tasks"] as? [JSON]) ?? []).map { task -> JSON in
            let results = (task["healthCheckResults"] as? [JSON]) ?? []
            let health =
                results.isEmpty
                ? "—" : results.map { ($0["alive"] as? Bool ?? false) ? "passing" : "failing" }.joined(separator: ", ")
            let taskId = task["id"] as? String ?? ""
            return [
                "id": taskId, "host": task["host"] as? String ?? "",
                "ports": ((task["ports"] as? [Int]) ?? []).map(String.init).joined(separator: ", "),
                "state": task["state"] as? String ?? "", "health": health,
                "failing": results.contains { !($0["alive"] as? Bool ?? true) },
                "age": age(task["startedAt"] as? String ?? task["stagedAt"] as? String, now: now),
                "logs": "/ui/logs?task=" + query(taskId)
            ]
        }
        let current = app["version"] as? String ?? ""
        let versionList = ((versions as? JSON)?["versions"] as? [String]) ?? []
        let mine = ((deployments as? [JSON]) ?? []).filter { (($0["affectedApps"] as? [String]) ?? []).contains(id) }
        var context: JSON = [
            "id": id, "instances": app["instances"] as? Int ?? 0, "state": state(app), "bar": bar(app),
            "tasks": tasks, "noTasks": tasks.isEmpty, "spec": pretty(specOnly(app)), "version": current,
            "versions": versionList.map {
                [
                    "version": $0, "current": $0 == current,
                    "diff": "/ui/app?id=\(query(id))&from=\(query($0))&to=\(query(current))"
                ]
            },
            "deployments": mine.map { deployment($0, now: now) }, "noDeployments": mine.isEmpty
        ]
        if let failure = app["lastTaskFailure"] as? JSON {
            context["failure"] = [
                "state": failure["state"] as? String ?? "", "message": failure["message"] as? String ?? "",
                "at": failure["timestamp"] as? String ?? "", "task": failure["taskId"] as? String ?? ""
            ]
        }
        if let diff {
            context["diff"] = diff
            context["hasDiff"] = true
        }
        return context
    }

    /// The spec as one would PUT it back: without the status fields the API adds.
    static func specOnly(_ app: JSON) -> JSON {
        var spec = app
        for key in [
            "tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments", "lastTaskFailure",
            "version", "versionInfo", "pacer"
        ] { spec[key] = nil }
        return spec
    }

    // MARK: deployments

    static func deployment(_ d: JSON, now: Date) -> JSON {
        let pacer = d["pacer"] as? JSON ?? [:]
        let actions = ((d["currentActions"] as? [JSON]) ?? []).map {
            "\($0["action"] as? String ?? "") \($0["app"] as? String ?? "")"
        }
        let canary = actions.contains { $0.lowercased().contains("canary") }
        return [
            "id": d["id"] as? String ?? "", "apps": ((d["affectedApps"] as? [String]) ?? []).joined(separator: ", "),
            "step": d["currentStep"] as? Int ?? 0, "total": d["totalSteps"] as? Int ?? 0,
            "actions": actions.joined(separator: "; "), "canary": canary,
            "waited": age(pacer["startedAt"] as? String ?? d["version"] as? String, now: now),
            "why": pacer["waitingFor"] as? String ?? "", "stalled": pacer["stalled"] as? Bool ?? false
        ]
    }

    static func deployments(_ json: Any, now: Date) -> JSON {
        let list = ((json as? [JSON]) ?? []).map { deployment($0, now: now) }
        return ["deployments": list, "none": list.isEmpty]
    }

    // MARK: traffic

    static func traffic(_ json: Any, name: String, rates: [String: (Double, Double)]) -> JSON {
        let stats = json as? JSON ?? [:]
        let framework = stats["framework"] as? JSON ?? [:]
        func perSecond(_ key: String, _ errors: Bool) -> String {
            guard let rate = rates[key] else { return "—" }
            let value: Double = errors ? rate.1 : rate.0
            return String(format: "%.1f/s", value)
        }
        let services = ((stats["services"] as? [JSON]) ?? []).map { s -> JSON in
            let c = s["counters"] as? JSON ?? [:]
            let port = s["port"] as? Int ?? 0
            let responses = (c["responses"] as? [Int]) ?? []
            let routed = (s["backends"] as? [String]) ?? []
            let counted = (c["backends"] as? [String: JSON]) ?? [:]
            // Routed backends, and those that left the table with connections still open: draining.
            let backends = Set(routed).union(counted.keys).sorted().map { address -> JSON in
                backendRow(address, counted[address] ?? [:], routed: routed.contains(address), port: port, rate: perSecond)
            }
            var row: JSON = ["port": port, "backends": backends, "noBackends": routed.isEmpty]
            row["app"] = s["app"] as? String ?? ""
            row["mode"] = s["mode"] as? String ?? ""
            row["requests"] = c["requests"] as? Int ?? 0
            row["active"] = c["active"] as? Int ?? 0
            row["errors5xx"] = (responses.last ?? 0) + (c["generated"] as? Int ?? 0)
            row["backendErrors"] = (c["backendErrors"] as? Int ?? 0) + (c["connectFailures"] as? Int ?? 0)
            row["rate"] = perSecond("\(port)", false)
            row["errorRate"] = perSecond("\(port)", true)
            row["p50"] = quantile(c["latency"] as? JSON, 0.5)
            row["p99"] = quantile(c["latency"] as? JSON, 0.99)
            return row
        }
        return [
            "name": name, "connected": framework["connected"] as? Bool ?? false, "services": services,
            "noServices": services.isEmpty
        ]
    }

    /// Routed backends, and those that left the table with connections still open: draining.
    private static func backendRow(
        _ address: String, _ b: JSON, routed: Bool, port: Int, rate: (String, Bool) -> String
    ) -> JSON {
        let answers = (b["responses"] as? [Int]) ?? []
        var row: JSON = ["address": address, "state": routed ? "routed" : "draining", "draining": !routed]
        row["active"] = b["active"] as? Int ?? 0
        row["connections"] = b["connections"] as? Int ?? 0
        row["responses"] = answers.reduce(0, +)
        row["errors5xx"] = answers.last ?? 0
        row["failures"] = b["failures"] as? Int ?? 0
        row["rate"] = rate("\(port) \(address)", false)
        row["errorRate"] = rate("\(port) \(address)", true)
        row["p50"] = quantile(b["latency"] as? JSON, 0.5)
        row["p99"] = quantile(b["latency"] as? JSON, 0.99)
        return row
    }

    /// The LB's latency histogram's quantile: the upper bound of the bucket it falls in, "—"
    /// without samples.
    static func quantile(_ histogram: JSON?, _ q: Double) -> String {
        let bounds = LatencyHistogram.bounds
        guard let counts = histogram?["counts"] as? [Int], counts.count == bounds.count + 1 else { return "—" }
        let total = counts.reduce(0, +)
        guard total > 0 else { return "—" }
        var seen = 0
        for (i, n) in counts.enumerated() {
            seen += n
            if Double(seen) >= q * Double(total) {
                guard i < bounds.count else { return "> 10 s" }
                return bounds[i] < 1 ? "≤ \(number(bounds[i] * 1000)) ms" : "≤ \(number(bounds[i])) s"
            }
        }
        return "—"
    }

    // MARK: cluster

    static func cluster(_ state: Any, roles: Any?, allocation: Any?) -> JSON {
        let s = state as? JSON ?? [:]
        let agents = ((s["agents"] as? [JSON]) ?? []).map { a -> JSON in
            let total = a["resources"] as? JSON ?? [:]
            let used = a["used"] as? JSON ?? [:]
            let attributes = (a["attributes"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map {
                "\($0.key):\($0.value)"
            }
            return [
                "id": a["id"] as? String ?? "", "hostname": a["hostname"] as? String ?? "",
                "reachable": a["reachable"] as? Bool ?? false,
                "cpus": "\(number(used["cpus"])) / \(number(total["cpus"]))",
                "mem": "\(number(used["mem"])) / \(number(total["mem"])) MiB",
                "attributes": attributes.joined(separator: " "), "tasks": ((a["tasks"] as? [Any]) ?? []).count
            ]
        }
        let roleRows = ((roles as? [JSON]) ?? []).map { r -> JSON in
            let allocated = r["allocated"] as? JSON ?? [:]
            let reserved = r["reserved"] as? JSON ?? [:]
            let guarantee = (r["quota"] as? JSON)?["guarantee"] as? JSON
            return [
                "name": r["name"] as? String ?? "", "weight": number(r["weight"]),
                "allocated": "cpus \(number(allocated["cpus"])), mem \(number(allocated["mem"]))",
                "reserved": "cpus \(number(reserved["cpus"])), mem \(number(reserved["mem"]))",
                "quota": guarantee.map { "cpus \(number($0["cpus"])), mem \(number($0["mem"]))" } ?? "—"
            ]
        }
        var context: JSON = [
            "agents": agents, "roles": roleRows, "frameworks": ((s["frameworks"] as? [Any]) ?? []).count, "noChart": true
        ]
        if let chart = chart(allocation) {
            context["chart"] = chart
            context["noChart"] = false
        }
        return context
    }

    /// The allocation history as an SVG polyline per resource (percent of the cluster), drawn on
    /// the server: the chart needs no script.
    static func chart(_ allocation: Any?) -> JSON? {
        let samples = ((allocation as? JSON)?["samples"] as? [JSON]) ?? []
        guard samples.count >= 2, let first = samples.first?["time"] as? Double, let last = samples.last?["time"] as? Double,
            last > first
        else { return nil }
        let (width, height) = (600.0, 120.0)
        func line(_ resource: String) -> String {
            samples.compactMap { s -> String? in
                guard let t = s["time"] as? Double else { return nil }
                let total = ((s["total"] as? JSON)?[resource] as? Double) ?? 0
                let used = ((s["allocated"] as? JSON)?[resource] as? Double) ?? 0
                let share = total > 0 ? min(1, used / total) : 0
                return String(format: "%.1f,%.1f", (t - first) / (last - first) * width, height - share * height)
            }.joined(separator: " ")
        }
        return [
            "cpus": line("cpus"), "mem": line("mem"), "width": Int(width), "height": Int(height),
            "span": age(seconds: last - first), "samples": samples.count
        ]
    }

    // MARK: helpers

    static func pretty(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A line diff (longest common subsequence): enough for two versions of one spec.
    static func lineDiff(_ a: String, _ b: String) -> [JSON] {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard x.count * y.count <= 4_000_000 else {
            return [["kind": "note", "line": "(too long to compare line by line)"]]
        }
        var lcs = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [JSON] = []
        var (i, j) = (0, 0)
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] {
                out.append(["kind": "same", "line": "  " + x[i]])
                i += 1
                j += 1
            } else if j < y.count, i == x.count || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append(["kind": "added", "line": "+ " + y[j]])
                j += 1
            } else {
                out.append(["kind": "removed", "line": "- " + x[i]])
                i += 1
            }
        }
        return out
    }

    static func age(_ timestamp: String?, now: Date) -> String {
        guard let timestamp, let date = parse(timestamp) else { return "—" }
        return age(seconds: now.timeIntervalSince(date))
    }

    static func age(seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 120 { return "\(s) s" }
        if s < 7200 { return "\(s / 60) min" }
        if s < 172_800 { return "\(s / 3600) h" }
        return "\(s / 86_400) d"
    }

    private static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    static func number(_ value: Any?) -> String {
        guard let d = (value as? Double) ?? (value as? Int).map(Double.init) else { return "0" }
        return d == d.rounded() ? String(Int(d)) : String(format: "%.2f", d)
    }

    /// A query value written into a link.
    static func query(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? s
    }

    /// A value put in a path segment: nothing that could change the path.
    static func pathSafe(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:"))) ?? s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
