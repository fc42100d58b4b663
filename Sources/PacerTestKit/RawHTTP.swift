import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately dumb HTTP client for raw-socket tests: sends exact bytes, reads what comes back.
public enum RawHTTP {
    public struct Response: Sendable {
        public var status: Int
        public var head: String
        public var body: [UInt8]
        public func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    public struct Exchange: Sendable {
        public var responses: [Response]
        /// The server closed the connection (EOF or reset) before the read timeout.
        public var closed: Bool
        public var raw: [UInt8]
        public var statuses: [Int] { responses.map(\.status) }
    }

    /// Sends `chunks` (pausing `gap` seconds between them), then reads until EOF or `timeout`.
    public static func send(_ port: Int, _ chunks: [[UInt8]], gap: Double = 0, timeout: Int = 3) -> Exchange {
        guard let fd = Loopback.connect(port, receiveTimeout: timeout) else {
            return Exchange(responses: [], closed: true, raw: [])
        }
        defer { close(fd) }
        sending: for (i, chunk) in chunks.enumerated() {
            if i > 0 && gap > 0 { usleep(UInt32(gap * 1_000_000)) }
            var sent = 0
            while sent < chunk.count {
                let n = chunk[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break sending }  // the server closed: stop and read what it said
                sent += n
            }
        }
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var closed = false
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                raw += buffer[0..<n]
                continue
            }
            closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
            break
        }
        return Exchange(responses: parse(raw), closed: closed, raw: raw)
    }

    public static func send(_ port: Int, _ text: String, timeout: Int = 3) -> Exchange {
        send(port, [Array(text.utf8)], timeout: timeout)
    }

    /// Splits a byte stream into responses framed by Content-Length (what the LB and the test
    /// backends send).
    public static func parse(_ raw: [UInt8]) -> [Response] {
        var out: [Response] = []
        var i = 0
        let separator: [UInt8] = [13, 10, 13, 10]
        while i < raw.count {
            guard let end = find(separator, in: raw, from: i) else { break }
            let head = String(decoding: raw[i..<end], as: UTF8.self)
            let parts = head.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let status = Int(parts[1]) else { break }
            var response = Response(status: status, head: head, body: [])
            let length = Int(response.header("content-length") ?? "0") ?? 0
            let bodyEnd = min(raw.count, end + 4 + length)
            response.body = Array(raw[(end + 4)..<bodyEnd])
            out.append(response)
            i = bodyEnd
        }
        return out
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
