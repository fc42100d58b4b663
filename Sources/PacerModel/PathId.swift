/// An app id as Marathon defines it: absolute, `/`-separated segments of `[a-z0-9]([-a-z0-9.]*[a-z0-9])?`.
/// Validated once at the edge, so sandbox paths and store keys built from it can never escape.
public struct PathId: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let segments: [String]
    public static let maxLength = 255

    public init(validating raw: String) throws(FieldError) {
        guard raw.utf8.count <= Self.maxLength else {
            throw FieldError(path: "/id", "id is \(raw.utf8.count) characters; at most \(Self.maxLength) are allowed")
        }
        let trimmed = raw.hasPrefix("/") ? String(raw.dropFirst()) : raw
        guard !trimmed.isEmpty else { throw FieldError(path: "/id", "id must not be empty") }
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts where !Self.isValidSegment(part) {
            throw FieldError(
                path: "/id",
                "'\(raw.prefix(80))' is not a valid app id: each path segment must match "
                    + "[a-z0-9]([-a-z0-9.]*[a-z0-9])? ('.' and '..' are not allowed)")
        }
        segments = parts
    }

    /// Marathon's segment grammar; `.`-only segments never pass, so no id names a parent directory.
    static func isValidSegment(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard alnum(first), alnum(last) else { return false }
        var previousDot = false
        for c in bytes {
            let dot = c == 46
            guard alnum(c) || c == 45 || dot else { return false }
            if dot && previousDot { return false }
            previousDot = dot
        }
        return true
    }

    private init(segments: [String]) { self.segments = segments }

    /// The root group, `/` (never an app).
    public static let root = PathId(segments: [])
    public var isRoot: Bool { segments.isEmpty }
    public var parent: PathId { PathId(segments: Array(segments.dropLast())) }
    /// Itself or below it: `/a` contains `/a` and `/a/b`, not `/ab`.
    public func contains(_ other: PathId) -> Bool { other.segments.starts(with: segments) }

    /// A group's id as Marathon accepts it: `/`, `` or a path.
    public init(group raw: String) throws(FieldError) {
        let trimmed = raw.hasSuffix("/") && raw.count > 1 ? String(raw.dropLast()) : raw
        if trimmed.isEmpty || trimmed == "/" { self = .root } else { self = try PathId(validating: trimmed) }
    }

    /// An id in a group's body: absolute (`/prod/web`) or relative to the group (`web`).
    public init(_ raw: String, in group: PathId) throws(FieldError) {
        if raw.hasPrefix("/") {
            self = try PathId(validating: raw)
            return
        }
        let relative = try PathId(validating: raw)
        self = PathId(segments: group.segments + relative.segments)
    }

    public var description: String { "/" + segments.joined(separator: "/") }
    /// The form Marathon uses inside task ids: `/shop/web` → `shop_web`.
    public var safeName: String { segments.joined(separator: "_") }
    /// Orders as the descriptions do, without building them: sorting a thousand apps by id built
    /// 20,000 strings (a tenth of the framework's `/metrics`, and every offer's candidate list).
    /// Byte order is String's order here: segments are ASCII (`init(validating:)`).
    public static func < (a: PathId, b: PathId) -> Bool {
        let slash = UInt8(ascii: "/")
        for k in 0..<min(a.segments.count, b.segments.count) where a.segments[k] != b.segments[k] {
            let x = a.segments[k].utf8
            let y = b.segments[k].utf8
            if let (c, d) = zip(x, y).first(where: { $0 != $1 }) { return c < d }
            // One segment is a prefix of the other: the shorter one's path goes on with "/" or ends.
            if x.count < y.count {
                return k + 1 < a.segments.count ? slash < y[y.index(y.startIndex, offsetBy: x.count)] : true
            }
            return k + 1 < b.segments.count ? x[x.index(x.startIndex, offsetBy: y.count)] < slash : false
        }
        return a.segments.count < b.segments.count
    }
}

extension PathId: Codable {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { self = try PathId(validating: raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
