/// The master's stream, written by hand for its commonest event: a busy stream is mostly UPDATE
/// events, and `JSONEncoder` (with its snake-case key conversion) writing them was 12 % of the
/// master's CPU while it forwarded 3,000 updates a second (issue 12). Everything else goes
/// through the encoder. `WireEventBytesTests` checks the bytes read back as the same event and are
/// the same JSON the encoder writes.
extension SchedulerEvent {
    /// The event as one line of the stream (JSON and a newline).
    public func streamLine() throws -> [UInt8] {
        guard type == .update, let status = update?.status, status.timestamp.isFinite else {
            var bytes = Array(try WireJSON.masterEncoder().encode(self))
            bytes.append(0x0A)
            return bytes
        }
        var j = JSONBytes(capacity: 320)
        j.raw(#"{"type":"UPDATE","update":{"status":"#)
        status.writeWire(to: &j)
        j.raw("}}\n")
        return j.bytes
    }
}

extension TaskStatus {
    /// As `WireJSON.masterEncoder` writes it: snake-case keys in declaration order, nil left out.
    func writeWire(to j: inout JSONBytes) {
        j.raw("{")
        j.key("task_id")
        j.string(taskId)
        j.field("agent_id", agentId)
        j.field("framework_id", frameworkId)
        j.raw(",")
        j.key("state")
        j.string(state.rawValue)
        j.field("message", message)
        j.field("reason", reason)
        j.field("uuid", uuid)
        j.raw(",")
        j.key("timestamp")
        j.double(timestamp)
        j.field("healthy", healthy)
        if let health {
            j.raw(",")
            j.key("health")
            j.array(health) { j, r in r.writeWire(to: &j) }
        }
        j.field("ready", ready)
        j.raw("}")
    }
}

extension HealthCheckResult {
    /// As `WireJSON.masterEncoder` writes it (snake-case keys; Marathon's camel-case form is `write`).
    func writeWire(to j: inout JSONBytes) {
        j.raw("{")
        j.key("alive")
        j.bool(alive)
        j.raw(",")
        j.key("consecutive_failures")
        j.int(consecutiveFailures)
        j.field("first_success", firstSuccess)
        j.field("last_success", lastSuccess)
        j.field("last_failure", lastFailure)
        j.field("last_failure_cause", lastFailureCause)
        j.raw(",")
        j.key("task_id")
        j.string(taskId)
        j.raw(",")
        j.key("instance_id")
        j.string(instanceId)
        j.raw("}")
    }
}
