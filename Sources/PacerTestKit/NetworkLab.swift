import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Several hosts on one machine: each host a network namespace with its own address, wired to a
/// bridge the lab creates (the bridge's address is the "control" host: master and framework bind
/// there). A partition takes a host's link down; nothing leaves the machine. Needs root and
/// iproute2 (`make test` installs it); `destroy()` removes every namespace and link it made.
public final class NetworkLab: @unchecked Sendable {
    // @unchecked: only touched by the test that owns it.
    let tag: String
    public let bridge: String
    /// First three octets of the lab's /24.
    let subnet: String
    var hosts: [String: (namespace: String, link: String, address: String)] = [:]
    var order: [String] = []

    public var controlAddress: String { subnet + ".1" }

    public init() throws {
        guard geteuid() == 0 else {
            throw LabUnavailable(description: "network namespaces need root: run the tests as root (CI does)")
        }
        guard FileManager.default.isExecutableFile(atPath: Self.ip) else {
            throw LabUnavailable(description: "iproute2's ip is missing: run `make test` (it installs iproute2)")
        }
        tag = String(UInt32.random(in: 0..<0xFFFF_FF), radix: 16)
        bridge = "pbr" + tag
        subnet = "10.\(Int.random(in: 100...250)).\(Int.random(in: 1...250))"
        try Self.run(["link", "add", "name", bridge, "type", "bridge"])
        try Self.run(["addr", "add", controlAddress + "/24", "dev", bridge])
        try Self.run(["link", "set", bridge, "up"])
    }

    /// A new host; returns its address.
    @discardableResult
    public func addHost(_ name: String) throws -> String {
        let namespace = "pacer-\(tag)-\(name)"
        let link = "pv\(tag)\(order.count)"
        let address = "\(subnet).\(order.count + 10)"
        try Self.run(["netns", "add", namespace])
        try Self.run(["link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace])
        try Self.run(["link", "set", link, "master", bridge])
        try Self.run(["link", "set", link, "up"])
        try Self.run(["-n", namespace, "addr", "add", address + "/24", "dev", "eth0"])
        try Self.run(["-n", namespace, "link", "set", "eth0", "up"])
        try Self.run(["-n", namespace, "link", "set", "lo", "up"])
        hosts[name] = (namespace, link, address)
        order.append(name)
        return address
    }

    public func address(_ host: String) -> String { hosts[host]!.address }

    /// Another address of the control side (a service only some hosts will be cut off from).
    public func addControlAddress() throws -> String {
        extraAddresses += 1
        let address = "\(subnet).\(1 + extraAddresses)"
        try Self.run(["addr", "add", address + "/32", "dev", bridge])
        return address
    }
    var extraAddresses = 0

    /// Cuts one host off from one address only (a blackhole route: packets to it vanish), and back.
    public func cut(_ host: String, from address: String) throws {
        try Self.run(["-n", hosts[host]!.namespace, "route", "add", "blackhole", address + "/32"])
    }
    public func reconnect(_ host: String, to address: String) throws {
        try Self.run(["-n", hosts[host]!.namespace, "route", "del", "blackhole", address + "/32"])
    }

    /// Cuts the host off (its link down: packets are dropped, no reset is sent), and back.
    public func partition(_ host: String) throws { try Self.run(["link", "set", hosts[host]!.link, "down"]) }
    public func heal(_ host: String) throws { try Self.run(["link", "set", hosts[host]!.link, "up"]) }

    /// Starts `pacer` inside the host's network namespace (nsenter execs it: the pid is pacer's).
    /// Only the network is switched — `ip netns exec` would also remount /sys and hide cgroups.
    public func start(_ name: String, on host: String, arguments: [String], logDir: String) throws -> PacerProcess {
        try PacerProcess(
            name: name, arguments: ["--net=/run/netns/" + hosts[host]!.namespace, PacerProcess.binary] + arguments,
            logDir: logDir, executable: "/usr/bin/nsenter")
    }

    public func destroy() {
        for name in order { _ = try? Self.run(["netns", "del", hosts[name]!.namespace]) }
        _ = try? Self.run(["link", "del", bridge])
        hosts = [:]
        order = []
    }

    static let ip =
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

    static func run(_ arguments: [String]) throws {
        let r = Command.run(ip, arguments)
        guard r.status == 0 else { throw LabUnavailable(description: "ip \(arguments.joined(separator: " ")) failed: \(r.err)") }
    }
}

public struct LabUnavailable: Error, CustomStringConvertible { public let description: String }
