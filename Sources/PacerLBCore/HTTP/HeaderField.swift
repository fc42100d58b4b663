/// One header line of a parsed head, as offsets into the head's bytes (no copies, no strings).
public struct HeaderField: Sendable, Equatable {
    public var name: Range<Int>
    /// Without the surrounding whitespace.
    public var value: Range<Int>
    public var kind: Kind

    /// The fields the proxy acts on; everything else is `.other` and passes through untouched.
    public enum Kind: Sendable, Equatable {
        case other, contentLength, transferEncoding, host, connection, keepAlive, proxyConnection, te, trailer
        case upgrade, http2Settings, expect, forwarded, xForwardedFor, xForwardedProto, xForwardedPort
        case xForwardedHost, xRealIP, cookie, setCookie
        /// A second, identical Content-Length: merged into the first (dropped when forwarding).
        case duplicate

        /// Never forwarded as received: hop-by-hop (RFC 9110 §7.6.1) or set by the proxy itself (B21).
        public var isDropped: Bool {
            switch self {
            case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .http2Settings,
                .forwarded, .xForwardedFor, .xForwardedProto, .xForwardedPort, .xForwardedHost, .xRealIP, .duplicate:
                true
            default: false
            }
        }
    }

    private static func classify(_ b: UnsafeRawBufferPointer, _ name: Range<Int>) -> Kind {
        func is_(_ literal: StaticString) -> Bool { HTTPBytes.equalsLower(b, name, literal) }
        switch name.count {
        case 2: return is_("te") ? .te : .other
        case 4: return is_("host") ? .host : .other
        case 6: return is_("expect") ? .expect : is_("cookie") ? .cookie : .other
        case 7: return is_("upgrade") ? .upgrade : is_("trailer") ? .trailer : .other
        case 9: return is_("forwarded") ? .forwarded : is_("x-real-ip") ? .xRealIP : .other
        case 10: return is_("connection") ? .connection : is_("keep-alive") ? .keepAlive : is_("set-cookie") ? .setCookie : .other
        case 14: return is_("content-length") ? .contentLength : is_("http2-settings") ? .http2Settings : .other
        case 15: return is_("x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            return is_("proxy-connection")
                ? .proxyConnection
                : is_("x-forwarded-port")
                    ? .xForwardedPort
                    : is_("x-forwarded-host") ? .xForwardedHost : .other
        case 17: return is_("transfer-encoding") ? .transferEncoding : is_("x-forwarded-proto") ? .xForwardedProto : .other
        default: return .other
        }
    }

    /// Parses the field lines of `lines` (each ends in CRLF; the empty line excluded) into `fields`.
    /// Strict (RFC 9112 §5): a name is a token followed directly by ':'; no obs-fold; no CTL in values.
    static func parseAll(
        _ b: UnsafeRawBufferPointer, _ lines: Range<Int>, limit: Int,
        into fields: inout [HeaderField]
    ) throws(HTTPError) {
        var i = lines.lowerBound
        while i < lines.upperBound {
            guard let lf = HeadScanner.nextLF(b, i, lines.upperBound) else { throw .bad("unterminated header line") }
            let line = i..<(lf - 1)
            i = lf + 1
            guard fields.count < limit else { throw HTTPError(431, "more than \(limit) header fields") }
            fields.append(try parseLine(b, line))
        }
    }

    private static func parseLine(_ b: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTPError) -> HeaderField {
        guard let first = line.first, HTTPBytes.isToken(b[first]) else {
            if let first = line.first, b[first] == HTTPBytes.sp || b[first] == HTTPBytes.tab {
                throw .bad("obsolete line folding or whitespace before a header name")
            }
            throw .bad("header line without a name")
        }
        var colon = first
        while colon < line.upperBound && HTTPBytes.isToken(b[colon]) { colon += 1 }
        guard colon < line.upperBound, b[colon] == HTTPBytes.colon else {
            if colon < line.upperBound && (b[colon] == HTTPBytes.sp || b[colon] == HTTPBytes.tab) {
                throw .bad("whitespace between header name and colon")
            }
            throw .bad("invalid character in header name or no colon")
        }
        let value = HTTPBytes.trimmed(b, (colon + 1)..<line.upperBound)
        for j in value where !HTTPBytes.isFieldValue(b[j]) {
            throw .bad("control character in the value of a header")
        }
        let name = first..<colon
        return HeaderField(name: name, value: value, kind: classify(b, name))
    }
}
