/// Builds the Prometheus text exposition format (version 0.0.4). The parts keep their figures as
/// snapshots (worker counters, cgroup readings, allocation samples), which they render directly
/// rather than re-deriving through a push-style metrics API.
public struct PrometheusText: Sendable {
    public private(set) var text = ""
    public init() {}

    /// One metric family: its help and type lines, then one sample per row of labels and value.
    public mutating func family(
        _ name: String, _ type: String, _ help: String, _ rows: [(labels: [(String, String)], value: String)]
    ) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for row in rows { sample(name, row.labels, row.value) }
    }

    /// A bare sample line (histogram buckets, sums and counts after their family header).
    public mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
        text += name + Self.labels(labels) + " " + value + "\n"
    }

    public static func labels(_ pairs: [(String, String)]) -> String {
        pairs.isEmpty ? "" : "{" + pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    public static func escape(_ s: String) -> String {
        // Most labels (app ids, states) need nothing escaped, and a scrape of 1,000 apps writes
        // thousands: one pass to look, instead of three searches that each build a new string.
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return s }
        return s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }
}
