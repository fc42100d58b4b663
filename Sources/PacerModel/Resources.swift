import Foundation

/// An inclusive range of TCP ports.
public struct PortRange: Codable, Sendable, Hashable {
    public var begin: Int
    public var end: Int
    public init(_ begin: Int, _ end: Int) {
        self.begin = begin
        self.end = end
    }
    public var count: Int { Swift.max(0, end - begin + 1) }
    public func contains(_ port: Int) -> Bool { port >= begin && port <= end }
}

/// Scalar resources plus port ranges: what an agent has, an offer holds or a task uses.
public struct Resources: Codable, Sendable, Equatable {
    public var cpus: Double
    public var mem: Double
    public var disk: Double
    public var ports: [PortRange]

    public init(cpus: Double = 0, mem: Double = 0, disk: Double = 0, ports: [PortRange] = []) {
        self.cpus = cpus
        self.mem = mem
        self.disk = disk
        self.ports = ports
    }

    public var portCount: Int { ports.reduce(0) { $0 + $1.count } }
    /// Slack for floating-point sums of many small cpu shares.
    static let epsilon = 1e-6

    public func contains(_ other: Resources) -> Bool {
        cpus + Self.epsilon >= other.cpus && mem + Self.epsilon >= other.mem && disk + Self.epsilon >= other.disk
            && (other.ports.isEmpty || PortRange.subtract(ports, from: other.ports).isEmpty)
    }

    public var portList: [Int] { ports.flatMap { Array($0.begin...Swift.max($0.begin, $0.end)).prefix($0.count) } }

    /// Port ranges are merged and subtracted as ranges: expanding them into lists of single
    /// ports made every ledger of an agent with a thousand ports cost thousands of operations.
    public static func + (a: Resources, b: Resources) -> Resources {
        Resources(
            cpus: a.cpus + b.cpus, mem: a.mem + b.mem, disk: a.disk + b.disk,
            ports: b.ports.isEmpty ? a.ports : PortRange.normalize(a.ports + b.ports))
    }

    /// What is left of `a` after `b` is taken from it (never negative).
    public static func - (a: Resources, b: Resources) -> Resources {
        Resources(
            cpus: Swift.max(0, a.cpus - b.cpus), mem: Swift.max(0, a.mem - b.mem),
            disk: Swift.max(0, a.disk - b.disk), ports: b.ports.isEmpty ? a.ports : PortRange.subtract(b.ports, from: a.ports))
    }
}

extension PortRange {
    /// Collapses sorted single ports back into ranges.
    public static func ranges(of ports: [Int]) -> [PortRange] {
        var out: [PortRange] = []
        for p in ports.sorted() {
            if let last = out.last, last.end + 1 == p {
                out[out.count - 1].end = p
            } else if out.last?.contains(p) != true {
                out.append(PortRange(p, p))
            }
        }
        return out
    }
    /// Sorted, overlapping and adjacent ranges merged, empty ones dropped.
    public static func normalize(_ ranges: [PortRange]) -> [PortRange] {
        var out: [PortRange] = []
        for r in ranges.filter({ $0.count > 0 }).sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if let last = out.last, r.begin <= last.end + 1 {
                out[out.count - 1].end = Swift.max(last.end, r.end)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// The ports of `ranges` not in `taken`, as normalized ranges.
    public static func subtract(_ taken: [PortRange], from ranges: [PortRange]) -> [PortRange] {
        let cuts = normalize(taken)
        var out: [PortRange] = []
        for r in normalize(ranges) {
            var begin = r.begin
            for c in cuts where c.end >= begin && c.begin <= r.end {
                if c.begin > begin { out.append(PortRange(begin, c.begin - 1)) }
                begin = c.end + 1
            }
            if begin <= r.end { out.append(PortRange(begin, r.end)) }
        }
        return out
    }

    /// Parses `31000-32000,33000-33100`.
    public static func parseList(_ text: String) -> [PortRange]? {
        var out: [PortRange] = []
        for piece in text.split(separator: ",") {
            let bounds = piece.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard bounds.count == 1 || bounds.count == 2, let lo = bounds.first ?? nil, let hi = bounds.last ?? nil,
                lo > 0, hi <= 65535, lo <= hi
            else { return nil }
            out.append(PortRange(lo, hi))
        }
        return out.isEmpty ? nil : out
    }
}
