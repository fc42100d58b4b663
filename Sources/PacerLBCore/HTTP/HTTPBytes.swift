/// Character classes of RFC 9110/9112, as 256-entry tables: one load per byte on the hot path.
enum HTTPBytes {
    static let cr: UInt8 = 13, lf: UInt8 = 10, sp: UInt8 = 32, tab: UInt8 = 9, colon: UInt8 = 58

    // Classes as bit sets in integer constants (statically initialized: no lazy-global check per
    // byte, which a table built with `map` would cost).
    static let tokenLow: UInt64 = 0x03FF_6CFA_0000_0000  // ! # $ % & ' * + - . 0-9
    static let tokenHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // A-Z ^ _ ` a-z | ~
    static let hostLow: UInt64 = 0x2BFF_7FF2_0000_0000  // ! $ & ' ( ) * + , - . 0-9 ; = %
    static let hostHigh: UInt64 = 0x47FF_FFFE_87FF_FFFE  // A-Z _ a-z ~

    /// tchar: the characters of a token (method, header name, coding).
    @inline(__always) static func isToken(_ c: UInt8) -> Bool {
        c < 64 ? (tokenLow >> UInt64(c)) & 1 == 1 : c < 128 && (tokenHigh >> UInt64(c - 64)) & 1 == 1
    }

    /// A byte allowed in a field value: VCHAR, SP, HTAB, obs-text. No CTL: not NUL, CR, LF, DEL.
    @inline(__always) static func isFieldValue(_ c: UInt8) -> Bool { c == 9 || (c >= 32 && c != 127) }

    /// A byte allowed in a request target: visible ASCII, no space, no CTL, no obs-text.
    @inline(__always) static func isTarget(_ c: UInt8) -> Bool { c > 32 && c < 127 }

    /// reg-name / IPv4 characters of a Host (unreserved, sub-delims, pct-encoded), without '@'.
    @inline(__always) static func isHost(_ c: UInt8) -> Bool {
        c < 64 ? (hostLow >> UInt64(c)) & 1 == 1 : c < 128 && (hostHigh >> UInt64(c - 64)) & 1 == 1
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
        var lo = range.lowerBound
        var hi = range.upperBound
        while lo < hi && (bytes[lo] == sp || bytes[lo] == tab) { lo += 1 }
        while hi > lo && (bytes[hi - 1] == sp || bytes[hi - 1] == tab) { hi -= 1 }
        return lo..<hi
    }
}
