import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Clients sending requests continuously through the LB while a test changes things underneath:
/// each thread sends keep-alive GETs on one connection (reconnecting when the server says
/// `Connection: close`) and records every request that did not get a 200.
public final class LoadLoop: Sendable {
    public struct Result: Sendable {
        public var ok = 0
        public var failed = 0
        /// Reused keep-alive connections closed by the server before it read a new request: the
        /// request was not seen, and clients resend (RFC 9112 §9.3.1). Counted, not failed.
        public var resent = 0
        public var failures: [String] = []
        public var tasks: [String: Int] = [:]
    }

    let state = Mutex((running: true, result: Result()))
    let count: Int
    let done = Mutex(0)

    /// `pause`: seconds each client waits between requests (so a test leaves CPU for the cluster).
    public init(port: Int, host: String = "app.example", path: String = "/", threads count: Int = 4, pause: Double = 0.002) {
        self.count = count
        for _ in 0..<count {
            let t = Thread { [self] in
                self.loop(port: port, request: Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\r\n".utf8), pause: pause)
                self.done.withLock { $0 += 1 }
            }
            t.start()
        }
    }

    var running: Bool { state.withLock { $0.running } }

    func record(_ change: (inout Result) -> Void) { state.withLock { change(&$0.result) } }

    func loop(port: Int, request: [UInt8], pause: Double) {
        var fd: Int32 = -1
        var served = 0
        while running {
            if pause > 0 { usleep(UInt32(pause * 1_000_000)) }
            if fd < 0 {
                guard let c = Loopback.connect(port, receiveTimeout: 5) else {
                    record {
                        $0.failed += 1
                        $0.failures.append("connect refused")
                    }
                    usleep(10_000)
                    continue
                }
                fd = c
                served = 0
            }
            let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            let response = sent == request.count ? Self.readResponse(fd) : nil
            guard let response else {
                close(fd)
                fd = -1
                if served > 0 && sent <= 0 || served > 0 && response == nil && errno != EAGAIN {
                    record { $0.resent += 1 }
                } else {
                    record {
                        $0.failed += 1
                        $0.failures.append("no response (errno \(errno))")
                    }
                }
                continue
            }
            served += 1
            if response.status == 200 {
                record {
                    $0.ok += 1
                    $0.tasks[response.task, default: 0] += 1
                }
            } else {
                record {
                    $0.failed += 1
                    $0.failures.append("status \(response.status)")
                }
            }
            if response.close {
                close(fd)
                fd = -1
            }
        }
        if fd >= 0 { close(fd) }
    }

    /// Reads one response framed by Content-Length; nil if the connection ended first.
    private static func readResponse(_ fd: Int32) -> (status: Int, close: Bool, task: String)? {
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            if let end = RawHTTP.find([13, 10, 13, 10], in: raw, from: 0) {
                let head = String(decoding: raw[..<end], as: UTF8.self)
                let parsed = RawHTTP.parse(raw)
                let length = Int(parsed.first?.header("content-length") ?? "0") ?? 0
                if raw.count >= end + 4 + length, let r = parsed.first {
                    let body = String(decoding: r.body, as: UTF8.self)
                    let task = body.range(of: "\"task\": \"").map { String(body[$0.upperBound...].prefix { $0 != "\"" }) } ?? ""
                    return (r.status, head.lowercased().contains("connection: close"), task)
                }
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return nil }
            raw += buffer[0..<n]
        }
    }

    /// Stops the clients and returns what they saw.
    public func stop() -> Result {
        state.withLock { $0.running = false }
        let deadline = Date().addingTimeInterval(10)
        while done.withLock({ $0 }) < count && Date() < deadline { usleep(10_000) }
        return state.withLock { $0.result }
    }

    public var snapshot: Result { state.withLock { $0.result } }
}
