/// Character classes of RFC 9110/9112, as 256-entry tables: one load per byte on the hot path.
enum HTTPBytes {
    static let cr: UInt8 = 13, lf: UInt8 = 10, sp: UInt8 = 32, tab: UInt8 = 9, colon: UInt8 = 58

    /// tchar: the characters of a token (method, header name, coding).
    static let token: [Bool] = (0..<256).map { b in
        let c = UInt8(b)
        if (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) { return true }
        return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
    }

    /// A byte allowed in a field value: VCHAR, SP, HTAB, obs-text. No CTL: not NUL, CR, LF, DEL.
    static let fieldValue: [Bool] = (0..<256).map { b in b == 9 || (32...126).contains(b) || b >= 128 }

    /// A byte allowed in a request target: visible ASCII, no space, no CTL, no obs-text.
    static let target: [Bool] = (0..<256).map { b in (33...126).contains(b) }

    /// reg-name / IPv4 characters of a Host (unreserved, sub-delims, pct-encoded), without '@'.
    static let host: [Bool] = (0..<256).map { b in
        let c = UInt8(b)
        if (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) { return true }
        return Array("-._~!$&'()*+,;=%".utf8).contains(c)
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }

    /// Case-insensitive compare of `bytes[range]` with a lowercase ASCII literal.
    @inline(__always)
    static func equalsLower(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let lit = literal.utf8Start
        var i = 0
        for j in range {
            if lower(bytes[j]) != lit[i] { return false }
            i += 1
        }
        return true
    }

    /// Decimal digits only, no sign, no spaces, at most 18 digits (no overflow possible).
    static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var n = 0
        for i in range {
            let d = bytes[i] &- 48
            guard d < 10 else { return nil }
            n = n * 10 + Int(d)
        }
        return n
    }

    /// The range without leading and trailing SP/HTAB (OWS).
    static func trimmed(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi && (bytes[lo] == sp || bytes[lo] == tab) { lo += 1 }
        while hi > lo && (bytes[hi - 1] == sp || bytes[hi - 1] == tab) { hi -= 1 }
        return lo..<hi
    }
}
