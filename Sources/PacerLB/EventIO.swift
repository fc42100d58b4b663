import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

/// The few evbuffer operations every connection type needs, with errno folded into results
/// (`IOResult`, `Drain`).
enum EventIO {
    static let readSize = 65536

    /// Reads straight into space reserved at the end of `buffer`: one `readv`, no FIONREAD
    /// ioctl first (which `evbuffer_read` does on every call).
    static func read(_ fd: Int32, into buffer: OpaquePointer) -> IOResult {
        var vectors = (iovec(), iovec())  // evbuffer_iovec is a #define for iovec
        return withUnsafeMutableBytes(of: &vectors) { raw in
            let vecs = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
            let count = evbuffer_reserve_space(buffer, readSize, vecs, 2)
            guard count > 0 else { return .failed(ENOMEM) }
            let n = readv(fd, vecs, count)
            guard n > 0 else { return IOResult(n) }
            var left = n
            var used: Int32 = 0
            for i in 0..<Int(count) where left > 0 {
                vecs[i].iov_len = min(vecs[i].iov_len, left)
                left -= vecs[i].iov_len
                used += 1
            }
            evbuffer_commit_space(buffer, vecs, used)
            return .processed(n)
        }
    }

    enum Drain { case empty, blocked, failed }

    /// Writes what `buffer` holds to `fd` until it is empty or the socket is full; adds the bytes
    /// written to `counted`.
    static func write(_ buffer: OpaquePointer, to fd: Int32, counted: inout Int) -> Drain {
        while evbuffer_get_length(buffer) > 0 {
            switch IOResult(Int(evbuffer_write(buffer, fd))) {
            case .processed(let n): counted += n
            case .wouldBlock: return .blocked
            case .eof, .failed: return .failed
            }
        }
        return .empty
    }

    /// The first `count` bytes of `buffer` as one contiguous region (no copy when they already are).
    static func contiguous(_ buffer: OpaquePointer, _ count: Int) -> UnsafeRawBufferPointer {
        guard count > 0, let p = evbuffer_pullup(buffer, count) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p, count: count)
    }

    static func add(_ buffer: OpaquePointer, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
    }

    /// Moves the part of `source` that belongs to a body into `destination` (without copying
    /// whole chains), at most `limit` bytes. Throws on broken chunked framing.
    static func moveBody(
        _ source: OpaquePointer, to destination: OpaquePointer, _ progress: inout BodyProgress,
        limit: Int
    ) throws(HTTPError) -> Int {
        let available = min(evbuffer_get_length(source), limit)
        guard available > 0 else { return 0 }
        let n = try progress.take(available: available) { (visit) throws(HTTPError) in
            var vecs = [iovec](repeating: iovec(), count: 16)
            let count = Int(evbuffer_peek(source, available, nil, &vecs, 16))
            var left = available
            for i in 0..<min(count, 16) where left > 0 {
                let len = min(vecs[i].iov_len, left)
                left -= len
                if try !visit(UnsafeRawBufferPointer(start: vecs[i].iov_base, count: len)) { break }
            }
        }
        if n > 0 { evbuffer_remove_buffer(source, destination, n) }
        return n
    }
}
