/// Where Pacer may open a connection on a user's behalf (event-subscription callbacks, A11):
/// never to a link-local address — 169.254.0.0/16 holds every cloud's instance-metadata service,
/// fe80::/10 its IPv6 twin — and, when the operator gives an allow-list, only to hosts on it.
public struct CallbackPolicy: Sendable, Equatable {
    /// `host`, `*.domain`, or an IPv4 network `a.b.c.d/n`; empty: any host but link-local ones.
    public var allow: [String]

    public init(allow: [String] = []) { self.allow = allow }

    /// Why a callback to `host`, which resolves to `addresses`, is refused; nil when it may go.
    public func refusal(host: String, addresses: [String]) -> String? {
        let host = host.lowercased().trimmingCharacters(in: ["[", "]"])
        for a in [host] + addresses where Self.isLinkLocal(a) {
            return "\(host) is a link-local address (\(a)): callbacks never go there (instance metadata)"
        }
        guard !allow.isEmpty else { return nil }
        let allowed = allow.contains { rule in
            let rule = rule.lowercased()
            if rule.hasPrefix("*.") { return host.hasSuffix(rule.dropFirst()) }
            if rule.contains("/") { return ([host] + addresses).contains { Self.ipv4($0, in: rule) } }
            return host == rule
        }
        return allowed ? nil : "\(host) is not on the event-callback allow-list (--event-callback-allow)"
    }

    static func isLinkLocal(_ address: String) -> Bool {
        let a = address.lowercased()
        if ipv4(a, in: "169.254.0.0/16") { return true }
        if a.hasPrefix("::ffff:"), ipv4(String(a.dropFirst(7)), in: "169.254.0.0/16") { return true }
        return ["fe8", "fe9", "fea", "feb"].contains { a.hasPrefix($0) } && a.contains(":")
    }

    static func ipv4(_ address: String, in network: String) -> Bool {
        let parts = network.split(separator: "/")
        guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits), let net = octets(String(parts[0])),
            let ip = octets(address)
        else { return false }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - UInt32(bits))
        return ip & mask == net & mask
    }

    static func octets(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        return v
    }
}
