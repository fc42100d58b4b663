extension RequestHead {
    /// Gives the fields their meaning and refuses the ambiguous ones (B1–B12, B19, B24).
    mutating func interpret(
        _ b: UnsafeRawBufferPointer, _ fields: inout [HeaderField],
        _ tokens: inout [Range<Int>]
    ) throws(HTTPError) {
        var length: Int?
        var closeToken = false
        var sawTE = false
        var keepAlive = false
        var connectionUpgrade = false
        var upgradeValue: Range<Int>?
        for k in fields.indices {
            let f = fields[k]
            switch f.kind {
            case .contentLength:
                guard let n = HTTPBytes.decimal(b, f.value) else { throw .bad("Content-Length is not a decimal number") }
                if let length {
                    guard length == n else { throw .bad("two different Content-Length values") }
                    fields[k].kind = .duplicate
                }
                length = n
            case .transferEncoding:
                guard !sawTE else { throw .bad("more than one Transfer-Encoding header") }
                sawTE = true
                _ = try Self.chunkedOnly(b, f.value)
            case .host:
                guard host == nil else { throw .bad("more than one Host header") }
                try Self.validateHost(b, f.value)
                host = f.value
            case .connection, .proxyConnection:
                try Fields.tokens(b, f.value) { t throws(HTTPError) in
                    if HTTPBytes.equalsLower(b, t, "close") {
                        closeToken = true
                    } else if HTTPBytes.equalsLower(b, t, "keep-alive") {
                        keepAlive = true
                    } else if HTTPBytes.equalsLower(b, t, "upgrade") {
                        connectionUpgrade = true
                    } else {
                        tokens.append(t)
                    }
                }
            case .upgrade:
                upgradeValue = f.value
            case .expect:
                guard HTTPBytes.equalsLower(b, f.value, "100-continue") else { throw HTTPError(417, "unsupported expectation") }
                expectContinue = minor == 1
            default: break
            }
        }
        wantsClose = closeToken || (minor == 0 && !keepAlive)
        if sawTE {
            guard minor == 1 else { throw .bad("Transfer-Encoding in an HTTP/1.0 request") }
            guard length == nil else { throw .bad("both Content-Length and Transfer-Encoding") }
            body = .chunked
        } else if let length, length > 0 {
            body = .length(length)
        }
        if minor == 1 && host == nil { throw .bad("HTTP/1.1 request without a Host header") }
        if let upgradeValue, connectionUpgrade {
            upgrade = HTTPBytes.equalsLower(b, upgradeValue, "websocket") ? .websocket : .other
        }
        // Names listed in Connection are hop-by-hop too: mark them so they are not forwarded (B22).
        if !tokens.isEmpty {
            for k in fields.indices where fields[k].kind == .other || fields[k].kind == .cookie {
                for t in tokens where Fields.sameName(b, fields[k].name, t) { fields[k].kind = .duplicate }
            }
        }
    }

    /// `chunked` is the only transfer coding served; a well-formed other list is 501, junk is 400.
    private static func chunkedOnly(_ b: UnsafeRawBufferPointer, _ value: Range<Int>) throws(HTTPError) -> Bool {
        if HTTPBytes.equalsLower(b, value, "chunked") { return true }
        var wellFormed = !value.isEmpty
        do { try Fields.tokens(b, value, allowEmpty: false) { _ in } } catch { wellFormed = false }
        throw wellFormed ? HTTPError(501, "unsupported transfer coding") : .bad("malformed Transfer-Encoding")
    }

    /// reg-name, IPv4 or [IPv6], then an optional port 0-65535; no userinfo, no spaces (B12, B23).
    private static func validateHost(_ b: UnsafeRawBufferPointer, _ v: Range<Int>) throws(HTTPError) {
        guard !v.isEmpty else { throw .bad("empty Host") }
        var i = v.lowerBound
        if b[i] == UInt8(ascii: "[") {
            while i < v.upperBound && b[i] != UInt8(ascii: "]") {
                let c = b[i]
                guard c == UInt8(ascii: "[") || c == UInt8(ascii: ":") || c == UInt8(ascii: ".") || HTTPBytes.isHost(c) else {
                    throw .bad("invalid character in Host")
                }
                i += 1
            }
            guard i < v.upperBound else { throw .bad("unterminated IPv6 literal in Host") }
            i += 1
        } else {
            while i < v.upperBound && HTTPBytes.isHost(b[i]) { i += 1 }
            guard i > v.lowerBound else { throw .bad("invalid Host") }
        }
        guard i < v.upperBound else { return }
        guard b[i] == HTTPBytes.colon, let port = HTTPBytes.decimal(b, (i + 1)..<v.upperBound), port <= 65535 else {
            throw .bad("invalid character or port in Host")
        }
    }
}

/// How a message body is delimited.
public enum BodyFraming: Sendable, Equatable {
    case none
    case length(Int)
    case chunked
    /// A response that ends when the backend closes.
    case untilClose
}

enum Fields {
    /// Calls `each` with every element of a comma-separated token list (empty elements skipped,
    /// as RFC 9110 §5.6.1 requires of recipients, unless `allowEmpty` is false).
    static func tokens(
        _ b: UnsafeRawBufferPointer, _ value: Range<Int>, allowEmpty: Bool = true,
        _ each: (Range<Int>) throws(HTTPError) -> Void
    ) throws(HTTPError) {
        var i = value.lowerBound
        while i <= value.upperBound {
            var j = i
            while j < value.upperBound && b[j] != UInt8(ascii: ",") { j += 1 }
            let element = HTTPBytes.trimmed(b, i..<j)
            if element.isEmpty {
                if !allowEmpty { throw .bad("empty list element") }
            } else {
                for k in element where !HTTPBytes.isToken(b[k]) { throw .bad("invalid token in a list") }
                try each(element)
            }
            i = j + 1
        }
    }

    static func sameName(_ b: UnsafeRawBufferPointer, _ x: Range<Int>, _ y: Range<Int>) -> Bool {
        guard x.count == y.count else { return false }
        for k in 0..<x.count where HTTPBytes.lower(b[x.lowerBound + k]) != HTTPBytes.lower(b[y.lowerBound + k]) { return false }
        return true
    }
}
