import CLibevent

#if canImport(Glibc)
import Glibc
#endif

/// Small socket helpers for the data path (IPv4 loopback and LAN addresses).
enum Sockets {
    static func address(_ host: String, _ port: Int) -> sockaddr_in? {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else { return nil }
        return addr
    }

    /// Starts a non-blocking connect; completion is signalled by writability.
    static func connectNonBlocking(_ host: String, _ port: Int) -> Int32? {
        guard var addr = address(host, port) else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        noDelay(fd)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 && errno != EINPROGRESS {
            close(fd)
            return nil
        }
        return fd
    }

    static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    /// A number standing for the client's address, for source hashing.
    static func clientKey(_ sa: UnsafeMutablePointer<sockaddr>?) -> UInt64 {
        guard let sa, sa.pointee.sa_family == sa_family_t(AF_INET) else { return 0 }
        return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt64($0.pointee.sin_addr.s_addr) }
    }

    /// The port a connection was accepted on.
    static func localPort(_ fd: Int32) -> Int {
        var local = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: local.sin_port)) : 0
    }

    /// The peer's address as text, for X-Forwarded-For.
    static func addressString(_ sa: UnsafeMutablePointer<sockaddr>?) -> String {
        guard let sa, sa.pointee.sa_family == sa_family_t(AF_INET) else { return "unknown" }
        return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            var addr = sin.pointee.sin_addr
            inet_ntop(AF_INET, &addr, &text, socklen_t(INET_ADDRSTRLEN))
            return String(cString: text)
        }
    }

    static func timeval(_ seconds: Double) -> Glibc.timeval {
        Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
    }
}
