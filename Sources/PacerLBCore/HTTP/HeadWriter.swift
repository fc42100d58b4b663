/// Writes the heads the proxy sends on: the received fields minus hop-by-hop and spoofable ones,
/// then the proxy's own. Appends to a buffer the caller reuses, so a request costs no allocation.
public enum HeadWriter {
    /// What the proxy adds to each forwarded request.
    public struct Forwarding {
        public var clientAddress: [UInt8]
        public var proto: StaticString
        public var port: [UInt8]
        public init(clientAddress: String, proto: StaticString, port: Int) {
            self.clientAddress = Array(clientAddress.utf8)
            self.proto = proto
            self.port = Array(String(port).utf8)
        }
    }

    public static func request(
        _ b: UnsafeRawBufferPointer, _ head: RequestHead, _ fields: [HeaderField],
        forwarding: Forwarding, tunnel: Bool, into out: inout [UInt8]
    ) {
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[head.method]))
        out.append(HTTPBytes.sp)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[head.target]))
        append(head.minor == 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", to: &out)
        for f in fields where !f.kind.isDropped || (tunnel && f.kind == .upgrade) { field(b, f, into: &out) }
        if tunnel { append("connection: upgrade\r\n", to: &out) }
        append("x-forwarded-for: ", to: &out)
        out.append(contentsOf: forwarding.clientAddress)
        append("\r\nx-forwarded-proto: ", to: &out)
        append(forwarding.proto, to: &out)
        append("\r\nx-forwarded-port: ", to: &out)
        out.append(contentsOf: forwarding.port)
        append("\r\n\r\n", to: &out)
    }

    /// `close`: tell the client this connection ends after the response. `extra` is appended as
    /// ready-made header lines (a sticky cookie).
    public static func response(
        _ b: UnsafeRawBufferPointer, _ head: ResponseHead, _ fields: [HeaderField],
        clientMinor: Int, close: Bool, extra: [UInt8] = [], into out: inout [UInt8]
    ) {
        append(clientMinor == 1 ? "HTTP/1.1 " : "HTTP/1.0 ", to: &out)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[head.statusText]))
        append("\r\n", to: &out)
        for f in fields where !f.kind.isDropped || (head.status == 101 && f.kind == .upgrade) { field(b, f, into: &out) }
        if head.status == 101 {
            append("connection: upgrade\r\n", to: &out)
        } else if close {
            append("connection: close\r\n", to: &out)
        } else if clientMinor == 0 {
            append("connection: keep-alive\r\n", to: &out)
        }
        out.append(contentsOf: extra)
        append("\r\n", to: &out)
    }

    @inline(__always)
    static func field(_ b: UnsafeRawBufferPointer, _ f: HeaderField, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[f.name]))
        out.append(HTTPBytes.colon)
        out.append(HTTPBytes.sp)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[f.value]))
        out.append(HTTPBytes.cr)
        out.append(HTTPBytes.lf)
    }

    @inline(__always)
    static func append(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}
