/// Limits on a message head; each breach has its own status (414 for the request line, 431 for fields).
public struct HeadLimits: Sendable, Equatable {
    public var requestLine = 8192
    public var fieldLine = 8192
    public var headBytes = 32768
    public var fields = 100
    public init() {}
}

/// Finds the end of a head (the empty line) in what has arrived so far, without buffering past the
/// limits. Every LF must follow a CR: a bare LF is refused, never normalized (B10).
public enum HeadScanner {
    public enum Result: Equatable {
        /// Not complete yet; scan again from `resume` (the start of the unfinished line) when more arrives.
        case incomplete(resume: Int)
        /// The head is `start..<end`, `end` just past its empty line; bytes before `start` are empty
        /// lines a client may send between requests (RFC 9112 §2.2).
        case complete(start: Int, end: Int)
        case invalid(HTTPError)
    }

    public static func scan(
        _ bytes: UnsafeRawBufferPointer, from resume: Int = 0, limits: HeadLimits,
        isRequest: Bool = true
    ) -> Result {
        var start = 0
        // Leading empty lines: skip them (bounded by the head limit like everything else).
        while start + 1 < bytes.count && bytes[start] == HTTPBytes.cr && bytes[start + 1] == HTTPBytes.lf { start += 2 }
        if start < bytes.count && bytes[start] == HTTPBytes.lf { return .invalid(.bad("bare LF line ending")) }
        var lineStart = max(resume, start)
        var i = lineStart
        let end = bytes.count
        while i < end {
            // memchr-speed search for the next LF.
            guard let lf = nextLF(bytes, i, end) else { break }
            guard lf > lineStart, bytes[lf - 1] == HTTPBytes.cr else {
                return .invalid(.bad("bare LF line ending"))
            }
            let length = lf - 1 - lineStart
            if let error = tooLong(length, first: lineStart == start, isRequest: isRequest, limits) { return .invalid(error) }
            if length == 0 && lineStart != start { return .complete(start: start, end: lf + 1) }
            lineStart = lf + 1
            i = lineStart
        }
        if let error = tooLong(end - lineStart, first: lineStart == start, isRequest: isRequest, limits) {
            return .invalid(error)
        }
        if end - start > limits.headBytes {
            return .invalid(HTTPError(431, "header section larger than \(limits.headBytes) bytes"))
        }
        return .incomplete(resume: lineStart)
    }

    private static func tooLong(_ length: Int, first: Bool, isRequest: Bool, _ limits: HeadLimits) -> HTTPError? {
        if first {
            return length > limits.requestLine
                ? HTTPError(isRequest ? 414 : 502, "request line longer than \(limits.requestLine) bytes") : nil
        }
        return length > limits.fieldLine ? HTTPError(431, "header line longer than \(limits.fieldLine) bytes") : nil
    }

    @inline(__always)
    static func nextLF(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ end: Int) -> Int? {
        guard from < end, let base = bytes.baseAddress else { return nil }
        guard let p = memchr(base + from, Int32(HTTPBytes.lf), end - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(p))
    }
}

#if canImport(Glibc)
import Glibc
#endif
