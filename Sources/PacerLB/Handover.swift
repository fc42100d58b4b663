import CPacerSys
import Foundation
import PacerLBCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Hitless restart: a new `pacer lb` asks the running one, over a Unix socket, for its listening
/// sockets and routing table (SCM_RIGHTS). The sockets stay open throughout — only their owner
/// changes — so no connection is refused; the old process then stops accepting, finishes its
/// requests and exits. A SOCK_SEQPACKET socket keeps each descriptor with its own message.
enum Handover {
    /// What a predecessor handed over: its routing table and its listening sockets by port.
    struct Inheritance: Sendable {
        var table: RoutingTable
        var listeners: [Int: [Int32]]
    }

    static func socket(_ path: String) -> (Int32, sockaddr_un)? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        return fd >= 0 ? (fd, addr) : nil
    }

    static func withAddress<T>(_ addr: inout sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Asks a running LB at `path` to hand over; nil when none answers (a cold start).
    static func takeOver(_ path: String) -> Inheritance? {
        guard var (fd, addr) = socket(path) else { return nil }
        defer { close(fd) }
        guard withAddress(&addr, { connect(fd, $0, $1) }) == 0 else { return nil }
        var timeout = Glibc.timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<Glibc.timeval>.size))
        guard Array("takeover".utf8).withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) > 0 else { return nil }
        var table: RoutingTable?
        var listeners: [Int: [Int32]] = [:]
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            var passed: Int32 = -1
            let n = pacer_recv_fd(fd, &buffer, buffer.count, &passed)
            guard n > 0 else { break }
            let message = buffer[0..<n]
            if message.first == UInt8(ascii: "T") {
                table = try? JSONDecoder().decode(RoutingTable.self, from: Data(message.dropFirst()))
            } else if message.first == UInt8(ascii: "L"), passed >= 0,
                let port = Int(String(decoding: message.dropFirst(), as: UTF8.self))
            {
                listeners[port, default: []].append(passed)
            } else if message.first == UInt8(ascii: "E") {
                guard let table else { break }
                return Inheritance(table: table, listeners: listeners)
            } else if passed >= 0 {
                close(passed)
            }
        }
        for fds in listeners.values { for f in fds { close(f) } }
        return nil
    }

    /// Answers successors on `path` from a thread of its own. `handOver` gives the current table
    /// and listeners and must not return until the caller may stop using them.
    final class Server: Sendable {
        let fd: Int32
        let path: String
        /// The socket file this server bound (device, inode): a successor binds a new file at the
        /// same path, which must not be removed when this one closes.
        let identity: (dev_t, ino_t)?

        init?(
            path: String, handOver: @escaping @Sendable () -> (RoutingTable, [Int: [Int32]]), done: @escaping @Sendable () -> Void
        ) {
            unlink(path)
            guard var (socket, addr) = Handover.socket(path) else { return nil }
            guard Handover.withAddress(&addr, { bind(socket, $0, $1) }) == 0, listen(socket, 4) == 0 else {
                Glibc.close(socket)
                return nil
            }
            let fd = socket
            self.fd = fd
            self.path = path
            var info = stat()
            identity = stat(path, &info) == 0 ? (info.st_dev, info.st_ino) : nil
            let thread = Thread {
                while true {
                    let conn = accept(fd, nil, nil)
                    if conn < 0 { if errno == EINTR { continue } else { return } }
                    var request = [UInt8](repeating: 0, count: 64)
                    let n = recv(conn, &request, request.count, 0)
                    guard n > 0, String(decoding: request[0..<n], as: UTF8.self) == "takeover" else {
                        Glibc.close(conn)
                        continue
                    }
                    let (table, listeners) = handOver()
                    let json = (try? JSONEncoder().encode(table)) ?? Data()
                    _ = (Array("T".utf8) + Array(json)).withUnsafeBytes { send(conn, $0.baseAddress, $0.count, 0) }
                    for (port, fds) in listeners {
                        for f in fds {
                            _ = Array("L\(port)".utf8).withUnsafeBytes { pacer_send_fd(conn, f, $0.baseAddress, $0.count) }
                        }
                    }
                    _ = Array("E".utf8).withUnsafeBytes { send(conn, $0.baseAddress, $0.count, 0) }
                    Glibc.close(conn)
                    done()
                    return
                }
            }
            thread.name = "pacer-lb-handover"
            thread.start()
        }

        /// Stops answering (the thread's accept fails) and removes the socket file if still ours.
        func close() {
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
            var info = stat()
            if let identity, stat(path, &info) == 0, info.st_dev == identity.0, info.st_ino == identity.1 { unlink(path) }
        }
    }
}
