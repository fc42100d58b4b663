import Foundation

/// An app spec as a client sends it: Marathon's schema (v1.7, `additionalProperties: false`) plus
/// Pacer's documented extensions. An unknown field is refused by name instead of being dropped
/// (a typo such as `"healtChecks"` would otherwise deploy an app without checks), and Marathon
/// fields Pacer does not implement are accepted only with their empty values (what `GET` shows,
/// so a spec read back can be sent again), never silently ignored when set.
extension AppDefinition {
    /// Marathon's app definition fields (schema/AppDefinition.json at v1.7.236).
    public static let marathonFields: Set<String> = [
        "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd", "constraints", "container", "cpus",
        "dependencies", "disk", "env", "executor", "executorResources", "fetch", "gpus", "healthChecks", "id", "instances",
        "ipAddress", "killSelection", "labels", "maxLaunchDelaySeconds", "mem", "networks", "portDefinitions", "ports",
        "readinessChecks", "requirePorts", "residency", "secrets", "taskKillGracePeriodSeconds", "unreachableStrategy",
        "upgradeStrategy", "uris", "user", "version", "versionInfo"
    ]
    /// Pacer's additions to the app definition (`role` and `resourceLimits` as later Marathon
    /// versions have them; `kind`, `progressDeadlineSeconds` and `autoRevert` Pacer's own).
    public static let pacerFields: Set<String> = ["role", "resourceLimits", "kind", "progressDeadlineSeconds", "autoRevert"]
    /// What Marathon adds to an app in its answers. Marathon's clients send an app they read back
    /// with these (the `marathon` PyPI client's `update_app(id, get_app(id))`), so they are
    /// ignored in requests, as Marathon ignores them, rather than refused.
    public static let answerFields: Set<String> = [
        "tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments", "lastTaskFailure",
        "taskStats", "readinessCheckResults"
    ]

    /// Decodes a request body (`POST /v2/apps`, a canary's spec), refusing what Pacer would not run as written.
    public static func request(from data: Data) throws(APIError) -> AppDefinition {
        try checkFields(try JSONBody.object(data))
        return try JSONBody.decode(AppDefinition.self, from: data)
    }

    /// Unknown fields and set-but-unsupported Marathon fields, by name (also for PUT/PATCH bodies).
    public static func checkFields(_ object: [String: Any]) throws(APIError) {
        var errors: [FieldError] = []
        for key in object.keys.sorted()
        where !marathonFields.contains(key) && !pacerFields.contains(key) && !answerFields.contains(key) {
            errors.append(
                FieldError(
                    path: "/\(key)",
                    "unknown field: an app definition has no '\(key)' (Marathon's fields and Pacer's \(pacerFields.sorted().joined(separator: ", ")))"
                ))
        }
        for (key, why) in unsupported where !isEmptyValue(object[key], key: key, role: object["role"] as? String) {
            errors.append(FieldError(path: "/\(key)", why))
        }
        if !errors.isEmpty { throw .invalid(errors) }
    }

    /// Marathon fields Pacer does not implement, and why.
    static let unsupported: [String: String] = [
        "container": "containers are not supported: Pacer runs cmd/args as processes on the agent (leave container null)",
        "executor": "custom executors are not supported: Pacer's agents run tasks themselves (leave executor empty)",
        "executorResources": "custom executors are not supported (leave executorResources out)",
        "fetch": "fetching artifacts is not supported: put them on the agents or fetch them in cmd (leave fetch empty)",
        "uris": "fetching artifacts is not supported: put them on the agents or fetch them in cmd (leave uris empty)",
        "gpus": "GPUs are not offered by Pacer's agents (leave gpus 0)",
        "secrets": "secrets are not supported: Pacer has no secret store (leave secrets empty)",
        "ipAddress": "IP-per-task is not supported: tasks use their agent's address and ports (leave ipAddress null)",
        "networks": "only host networking is supported (networks: [{\"mode\": \"host\"}] or leave it out)",
        "residency": "resident tasks (persistent volumes) are not supported (leave residency null)",
        "acceptedResourceRoles":
            "use `role` to run on a role's resources (acceptedResourceRoles may only name '*' or the app's role)"
    ]

    private static func isEmptyValue(_ value: Any?, key: String, role: String?) -> Bool {
        switch value {
        case nil, is NSNull: return true
        case let s as String: return s.isEmpty || (key == "executor" && s == "//cmd")
        case let n as NSNumber: return key == "gpus" && n.doubleValue == 0
        case let d as [String: Any]: return d.isEmpty
        case let a as [Any]:
            if key == "networks" { return a.allSatisfy { ($0 as? [String: Any])?["mode"] as? String == "host" } }
            if key == "acceptedResourceRoles" { return a.allSatisfy { ($0 as? String).map { $0 == "*" || $0 == role } ?? false } }
            return a.isEmpty
        default: return false
        }
    }
}
