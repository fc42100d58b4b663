/// A JSON writer for the answers that carry every task (`/v2/tasks`, `embed=apps.tasks`): at
/// 50,000 tasks Foundation's `JSONEncoder` spent ~18 µs a task (seconds per answer, a third of the
/// framework's CPU under load — issue 12). Writes exactly what `MarathonShape.encoder` writes
/// (sorted keys, slashes unescaped, the same string escapes); `JSONBytesTests` compares the bytes.
public struct JSONBytes: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Bytes written as they are: punctuation, keys, JSON made elsewhere.
    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

    /// `"key":` — keys are written by hand and need no escaping.
    public mutating func key(_ k: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(k)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var start = 0
            for (i, c) in utf8.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                escape(c)
                start = i + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Foundation's escapes: the short forms where JSON has them, else `\u00XX` in lowercase hex.
    private mutating func escape(_ c: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(c)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(c >> 4)], hex[Int(c & 15)]]
            )
        }
    }

    /// `,"key":"value"`, or nothing when the value is nil (an object's later optional fields).
    public mutating func field(_ k: StaticString, _ value: String?) {
        guard let value else { return }
        bytes.append(UInt8(ascii: ","))
        key(k)
        string(value)
    }

    /// `,"key":true|false`, or nothing when the value is nil.
    public mutating func field(_ k: StaticString, _ value: Bool?) {
        guard let value else { return }
        bytes.append(UInt8(ascii: ","))
        key(k)
        bool(value)
    }

    public mutating func int(_ i: Int) { raw(String(i).utf8) }

    public mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    /// A finite double as Foundation writes it: the shortest form that reads back the same, and
    /// whole numbers without ".0".
    public mutating func double(_ d: Double) {
        precondition(d.isFinite, "JSON has no infinities or NaN")
        var s = d.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        raw(s.utf8)
    }

    public mutating func ints(_ a: [Int]) {
        bytes.append(UInt8(ascii: "["))
        for (n, i) in a.enumerated() {
            if n > 0 { bytes.append(UInt8(ascii: ",")) }
            int(i)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// `[a,b,…]`, each element written by `element`.
    public mutating func array<T>(_ items: [T], _ element: (inout JSONBytes, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (n, item) in items.enumerated() {
            if n > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

extension MarathonTask {
    /// The task as `MarathonShape.encoder(pacer: !marathonOnly)` writes it, byte for byte.
    public func write(to j: inout JSONBytes, marathonOnly: Bool) {
        j.raw("{")
        j.key("appId")
        j.string(appId)
        if !marathonOnly, let draining {
            j.raw(",")
            j.key("draining")
            j.bool(draining)
        }
        j.raw(",")
        j.key("healthCheckResults")
        j.array(healthCheckResults) { j, r in r.write(to: &j) }
        j.raw(",")
        j.key("host")
        j.string(host)
        j.raw(",")
        j.key("id")
        j.string(id)
        j.raw(",")
        j.key("ipAddresses")
        j.array(ipAddresses) { j, a in
            j.raw("{")
            j.key("ipAddress")
            j.string(a.ipAddress)
            j.raw(",")
            j.key("protocol")
            j.string(a.protocol)
            j.raw("}")
        }
        j.raw(",")
        j.key("localVolumes")
        j.array(localVolumes) { j, v in j.string(v) }
        if !marathonOnly, let message {
            j.raw(",")
            j.key("message")
            j.string(message)
        }
        j.raw(",")
        j.key("ports")
        j.ints(ports)
        if !marathonOnly, let ready {
            j.raw(",")
            j.key("ready")
            j.bool(ready)
        }
        if let region {
            j.raw(",")
            j.key("region")
            j.string(region)
        }
        if let role {
            j.raw(",")
            j.key("role")
            j.string(role)
        }
        j.raw(",")
        j.key("servicePorts")
        j.ints(servicePorts)
        j.raw(",")
        j.key("slaveId")
        j.string(slaveId)
        j.raw(",")
        j.key("stagedAt")
        j.string(stagedAt)
        if let startedAt {
            j.raw(",")
            j.key("startedAt")
            j.string(startedAt)
        }
        j.raw(",")
        j.key("state")
        j.string(state)
        j.raw(",")
        j.key("version")
        j.string(version)
        if let zone {
            j.raw(",")
            j.key("zone")
            j.string(zone)
        }
        j.raw("}")
    }

    /// `[task,…]` as the API writes it.
    public static func jsonArray(_ tasks: [MarathonTask], marathonOnly: Bool) -> JSONBytes {
        var j = JSONBytes(capacity: tasks.count * 512)
        j.array(tasks) { j, t in t.write(to: &j, marathonOnly: marathonOnly) }
        return j
    }
}

extension HealthCheckResult {
    func write(to j: inout JSONBytes) {
        j.raw("{")
        j.key("alive")
        j.bool(alive)
        j.raw(",")
        j.key("consecutiveFailures")
        j.int(consecutiveFailures)
        for (key, value) in [("firstSuccess", firstSuccess)] as [(StaticString, String?)] {
            if let value {
                j.raw(",")
                j.key(key)
                j.string(value)
            }
        }
        j.raw(",")
        j.key("instanceId")
        j.string(instanceId)
        for (key, value) in [("lastFailure", lastFailure), ("lastFailureCause", lastFailureCause), ("lastSuccess", lastSuccess)]
            as [(StaticString, String?)]
        {
            if let value {
                j.raw(",")
                j.key(key)
                j.string(value)
            }
        }
        j.raw(",")
        j.key("taskId")
        j.string(taskId)
        j.raw("}")
    }
}
