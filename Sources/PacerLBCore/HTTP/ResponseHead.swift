/// A backend's response head, parsed as strictly as requests: a backend that frames ambiguously
/// gets its response replaced by a 502 and its connection closed (B25).
public struct ResponseHead: Sendable, Equatable {
    public var status: Int
    /// The status line after the version ("200 OK").
    public var statusText: Range<Int>
    public var minor: Int
    public var body: BodyFraming
    /// The backend will close, or did not promise to keep the connection (HTTP/1.0).
    public var closes: Bool
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }

    /// `requestMethod` decides bodiless responses (HEAD); `fields` and `connectionTokens` are reused.
    public static func parse(
        _ b: UnsafeRawBufferPointer, _ head: Range<Int>, limits: HeadLimits, isHead: Bool,
        fields: inout [HeaderField], connectionTokens: inout [Range<Int>]
    ) throws(HTTPError) -> ResponseHead {
        fields.removeAll(keepingCapacity: true)
        connectionTokens.removeAll(keepingCapacity: true)
        guard let lf = HeadScanner.nextLF(b, head.lowerBound, head.upperBound) else { throw HTTPError(502, "no status line") }
        let line = head.lowerBound..<(lf - 1)
        // HTTP-version SP 3DIGIT [SP reason]
        guard line.count >= 12, b[line.lowerBound + 8] == HTTPBytes.sp,
            let status = HTTPBytes.decimal(b, (line.lowerBound + 9)..<(line.lowerBound + 12)), status >= 100,
            line.count == 12 || b[line.lowerBound + 12] == HTTPBytes.sp
        else {
            throw HTTPError(502, "malformed status line from the backend")
        }
        let minor: Int
        do { minor = try RequestHead.version(b, line.lowerBound..<(line.lowerBound + 8)) } catch {
            throw HTTPError(502, "unsupported HTTP version from the backend")
        }
        for k in (line.lowerBound + 12)..<line.upperBound where !HTTPBytes.isFieldValue(b[k]) {
            throw HTTPError(502, "control character in the backend's status line")
        }
        do {
            try HeaderField.parseAll(b, (lf + 1)..<(head.upperBound - 2), limit: limits.fields, into: &fields)
        } catch { throw HTTPError(502, "backend sent a malformed header: \(error.reason)") }
        var response = ResponseHead(
            status: status, statusText: (line.lowerBound + 9)..<line.upperBound, minor: minor,
            body: .untilClose, closes: minor == 0, isHead: isHead)
        try response.interpret(b, &fields, &connectionTokens, isHead: isHead)
        return response
    }

    init(status: Int, statusText: Range<Int>, minor: Int, body: BodyFraming, closes: Bool, isHead: Bool) {
        self.status = status
        self.statusText = statusText
        self.minor = minor
        self.body = body
        self.closes = closes
    }

    mutating func interpret(
        _ b: UnsafeRawBufferPointer, _ fields: inout [HeaderField], _ tokens: inout [Range<Int>],
        isHead: Bool
    ) throws(HTTPError) {
        var length: Int?
        var chunked: Bool?
        var keepAlive = false
        var closeToken = false
        for k in fields.indices {
            let f = fields[k]
            switch f.kind {
            case .contentLength:
                guard let n = HTTPBytes.decimal(b, f.value) else { throw HTTPError(502, "bad Content-Length from the backend") }
                if let length {
                    guard length == n else { throw HTTPError(502, "backend sent two different Content-Length values") }
                    fields[k].kind = .duplicate
                }
                length = n
            case .transferEncoding:
                guard chunked == nil else { throw HTTPError(502, "backend sent two Transfer-Encoding headers") }
                chunked = Self.endsInChunked(b, f.value)
            case .connection, .proxyConnection:
                do {
                    try Fields.tokens(b, f.value) { t throws(HTTPError) in
                        if HTTPBytes.equalsLower(b, t, "close") {
                            closeToken = true
                        } else if HTTPBytes.equalsLower(b, t, "keep-alive") {
                            keepAlive = true
                        } else if !HTTPBytes.equalsLower(b, t, "upgrade") {
                            tokens.append(t)
                        }
                    }
                } catch { throw HTTPError(502, "malformed Connection header from the backend") }
            case .upgrade:
                // Kept on a 101 (the tunnel needs it); dropped otherwise as hop-by-hop.
                if status == 101 { fields[k].kind = .other }
            default: break
            }
        }
        closes = closeToken || (minor == 0 && !keepAlive)
        if chunked != nil && length != nil { throw HTTPError(502, "backend sent both Content-Length and Transfer-Encoding") }
        if isHead || status < 200 || status == 204 || status == 304 {
            body = .none
        } else if let chunked {
            // Chunked must be the final coding; otherwise the body runs to the close (RFC 9112 §6.3).
            body = chunked ? .chunked : .untilClose
            if !chunked { closes = true }
        } else if let length {
            body = length > 0 ? .length(length) : .none
        } else {
            body = .untilClose
            closes = true
        }
        for k in fields.indices where fields[k].kind == .other && !tokens.isEmpty {
            for t in tokens where Fields.sameName(b, fields[k].name, t) { fields[k].kind = .duplicate }
        }
    }

    private static func endsInChunked(_ b: UnsafeRawBufferPointer, _ v: Range<Int>) -> Bool {
        var last: Range<Int>?
        try? Fields.tokens(b, v) { t in last = t }
        guard let last else { return false }
        return HTTPBytes.equalsLower(b, last, "chunked")
    }
}
