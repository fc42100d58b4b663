/// A placement constraint, written in Marathon's array form: `["hostname", "UNIQUE"]`,
/// `["rack", "GROUP_BY", "3"]`, `["hostname", "LIKE", "srv2.*"]`.
public struct Constraint: Sendable, Equatable, Codable {
    public enum Operator: String, Sendable, CaseIterable {
        case unique = "UNIQUE"
        case cluster = "CLUSTER"
        case groupBy = "GROUP_BY"
        case like = "LIKE"
        case unlike = "UNLIKE"
        case maxPer = "MAX_PER"
    }
    public var field: String
    public var op: Operator
    public var value: String?

    public init(field: String, op: Operator, value: String? = nil) {
        self.field = field
        self.op = op
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let parts = try c.decode([String].self)
        guard parts.count == 2 || parts.count == 3, let op = Operator(rawValue: parts[1]) else {
            throw DecodingError.dataCorruptedError(
                in: c,
                debugDescription: "a constraint is [field, operator(, value)] "
                    + "with operator one of \(Operator.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.init(field: parts[0], op: op, value: parts.count == 3 ? parts[2] : nil)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode([field, op.rawValue] + (value.map { [$0] } ?? []))
    }
}
