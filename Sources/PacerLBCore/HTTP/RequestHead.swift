/// A parsed request head: offsets into the received bytes plus what the proxy needs to decide
/// framing, routing and connection handling. Built without strings or dictionaries.
public struct RequestHead: Sendable, Equatable {
    public var method: Range<Int>
    public var knownMethod: Method
    public var target: Range<Int>
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    public var minor: Int
    public var body: BodyFraming
    public var host: Range<Int>?
    /// The client asked to close after this exchange (or HTTP/1.0 without keep-alive).
    public var wantsClose: Bool
    public var upgrade: Upgrade
    public var expectContinue: Bool

    /// The methods the proxy treats specially; any other valid token (WebDAV's `REPORT`, `PURGE`,
    /// `QUERY`, …) is `other` and forwarded as it is: only the origin decides it does not implement one.
    public enum Method: Sendable, Equatable {
        case get, head, post, put, delete, options, patch, trace, other
        /// Safe to send again if a reused upstream connection died before any answer (RFC 9110
        /// §9.2.2); an unknown method is not assumed to be.
        public var isIdempotent: Bool { self != .post && self != .patch && self != .other }
    }
    public enum Upgrade: Sendable, Equatable { case none, websocket, other }

    /// Parses `start..<end` (as found by `HeadScanner`). `fields` receives the header lines and
    /// `connectionTokens` the extra header names listed in `Connection` (both reused by the caller).
    public static func parse(
        _ b: UnsafeRawBufferPointer, _ head: Range<Int>, limits: HeadLimits,
        fields: inout [HeaderField], connectionTokens: inout [Range<Int>]
    ) throws(HTTPError) -> RequestHead {
        fields.removeAll(keepingCapacity: true)
        connectionTokens.removeAll(keepingCapacity: true)
        guard let lf = HeadScanner.nextLF(b, head.lowerBound, head.upperBound) else { throw .bad("no request line") }
        let line = head.lowerBound..<(lf - 1)
        let (method, known, target, minor) = try requestLine(b, line)
        try HeaderField.parseAll(b, (lf + 1)..<(head.upperBound - 2), limit: limits.fields, into: &fields)
        var request = RequestHead(
            method: method, knownMethod: known, target: target, minor: minor, body: .none, host: nil,
            wantsClose: minor == 0, upgrade: .none, expectContinue: false)
        try request.interpret(b, &fields, &connectionTokens)
        return request
    }

    static func requestLine(_ b: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTPError) -> (
        Range<Int>, Method, Range<Int>, Int
    ) {
        var i = line.lowerBound
        while i < line.upperBound && HTTPBytes.isToken(b[i]) { i += 1 }
        let method = line.lowerBound..<i
        guard !method.isEmpty, i < line.upperBound, b[i] == HTTPBytes.sp else { throw .bad("malformed method") }
        i += 1
        let targetStart = i
        while i < line.upperBound && HTTPBytes.isTarget(b[i]) { i += 1 }
        let target = targetStart..<i
        guard !target.isEmpty, i < line.upperBound, b[i] == HTTPBytes.sp else { throw .bad("malformed request target") }
        let minor = try version(b, (i + 1)..<line.upperBound)
        let known = knownMethod(b, method) ?? .other
        // CONNECT asks the proxy itself for a tunnel, which a reverse proxy does not give.
        if known == .other && exact(b, method, "CONNECT") {
            throw HTTPError(501, "CONNECT is not served: this is a reverse proxy")
        }
        if b[target.lowerBound] != UInt8(ascii: "/") {
            guard known == .options, target.count == 1, b[target.lowerBound] == UInt8(ascii: "*") else {
                throw .bad("only origin-form targets (starting with /) are accepted")
            }
        }
        return (method, known, target, minor)
    }

    /// Exactly `HTTP/1.0` or `HTTP/1.1`; another well-formed version is 505, anything else 400.
    static func version(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) throws(HTTPError) -> Int {
        guard r.count == 8, HTTPBytes.equalsLower(b, r.lowerBound..<(r.lowerBound + 5), "http/"),
            b[r.lowerBound] == UInt8(ascii: "H"), b[r.lowerBound + 1] == UInt8(ascii: "T"),
            b[r.lowerBound + 2] == UInt8(ascii: "T"), b[r.lowerBound + 3] == UInt8(ascii: "P"),
            b[r.lowerBound + 6] == UInt8(ascii: "."),
            (48...57).contains(b[r.lowerBound + 5]), (48...57).contains(b[r.lowerBound + 7])
        else {
            throw .bad("malformed HTTP version")
        }
        guard b[r.lowerBound + 5] == UInt8(ascii: "1"), b[r.lowerBound + 7] <= UInt8(ascii: "1") else {
            throw HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are served here")
        }
        return Int(b[r.lowerBound + 7] - 48)
    }

    /// Methods are case-sensitive (RFC 9110 §9.1).
    static func exact(_ b: UnsafeRawBufferPointer, _ m: Range<Int>, _ s: StaticString) -> Bool {
        guard m.count == s.utf8CodeUnitCount else { return false }
        for k in 0..<m.count where b[m.lowerBound + k] != s.utf8Start[k] { return false }
        return true
    }

    static func knownMethod(_ b: UnsafeRawBufferPointer, _ m: Range<Int>) -> Method? {
        func is_(_ s: StaticString) -> Bool { exact(b, m, s) }
        switch m.count {
        case 3: return is_("GET") ? .get : is_("PUT") ? .put : nil
        case 4: return is_("HEAD") ? .head : is_("POST") ? .post : nil
        case 5: return is_("PATCH") ? .patch : is_("TRACE") ? .trace : nil
        case 6: return is_("DELETE") ? .delete : nil
        case 7: return is_("OPTIONS") ? .options : nil
        default: return nil
        }
    }
}
