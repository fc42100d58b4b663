/// Follows a chunked body byte by byte to find where it ends, without changing it: the proxy
/// forwards the chunks as they are and only needs the boundary (and to refuse bad framing, B4).
/// Chunk data is skipped by count, so only sizes, extensions and trailers are looked at.
public struct ChunkedDecoder: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case size(digits: Int)
        case sizeSpace
        case extensions(ChunkExtension)
        case sizeLF
        case data, dataCR, dataLF
        case trailerStart, trailerLine, trailerLF, endLF
        case done
    }
    var state = State.size(digits: 0)
    var size: UInt64 = 0
    var remaining: UInt64 = 0
    var lineBytes = 0
    /// Longest chunk-size line (with extensions) or trailer line accepted.
    public var lineLimit: Int

    public init(lineLimit: Int = 4096) { self.lineLimit = lineLimit }
    public var isDone: Bool { state == .done }

    /// Consumes body bytes from the front of `b`; returns how many belong to this body (all of
    /// them unless the body ended inside `b`).
    public mutating func advance(_ b: UnsafeRawBufferPointer) throws(HTTPError) -> Int {
        var i = 0
        let n = b.count
        while i < n && state != .done {
            if state == .data {
                let take = Int(min(remaining, UInt64(n - i)))
                remaining -= UInt64(take)
                i += take
                if remaining == 0 { state = .dataCR }
                continue
            }
            try step(b[i])
            i += 1
        }
        return i
    }

    mutating func step(_ c: UInt8) throws(HTTPError) {
        lineBytes += 1
        if lineBytes > lineLimit { throw .bad("chunk size or trailer line too long") }
        switch state {
        case .size(let digits):
            if let v = Self.hex(c) {
                guard digits < 15 else { throw .bad("chunk size too large") }
                size = size << 4 | UInt64(v)
                state = .size(digits: digits + 1)
            } else {
                guard digits > 0 else { throw .bad("malformed chunk size") }
                try afterSize(c)
            }
        case .sizeSpace:
            try afterSize(c)
        case .extensions(let ext):
            if let next = try ext.next(c) { state = .extensions(next) } else { state = .sizeLF }
        case .sizeLF:
            guard c == HTTPBytes.lf else { throw .bad("bare CR after a chunk size") }
            lineBytes = 0
            if size == 0 {
                state = .trailerStart
            } else {
                remaining = size
                state = .data
            }
        case .dataCR:
            guard c == HTTPBytes.cr else { throw .bad("chunk data longer than its size") }
            state = .dataLF
        case .dataLF:
            guard c == HTTPBytes.lf else { throw .bad("chunk not ended by CRLF") }
            lineBytes = 0
            size = 0
            state = .size(digits: 0)
        case .trailerStart:
            if c == HTTPBytes.cr {
                state = .endLF
            } else if HTTPBytes.isToken(c) {
                state = .trailerLine
            } else {
                throw .bad("malformed trailer")
            }
        case .trailerLine:
            if c == HTTPBytes.cr {
                state = .trailerLF
            } else if !HTTPBytes.isFieldValue(c) {
                throw .bad("control character in a trailer")
            }
        case .trailerLF:
            guard c == HTTPBytes.lf else { throw .bad("bare CR in a trailer") }
            lineBytes = 0
            state = .trailerStart
        case .endLF:
            guard c == HTTPBytes.lf else { throw .bad("chunked body not ended by CRLF") }
            state = .done
        case .data, .done:
            break
        }
    }

    private mutating func afterSize(_ c: UInt8) throws(HTTPError) {
        switch c {
        case HTTPBytes.cr: state = .sizeLF
        case UInt8(ascii: ";"): state = .extensions(.beforeName)
        case HTTPBytes.sp, HTTPBytes.tab: state = .sizeSpace
        default: throw .bad("malformed chunk size")
        }
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 65...70: c - 55
        case 97...102: c - 87
        default: nil
        }
    }
}

/// Where a chunk-size line's extensions are: `*( BWS ";" BWS name [ BWS "=" BWS ( token /
/// quoted-string ) ] )` up to the CR (RFC 9112 §7.1.1). A strict origin refuses an empty name
/// (`5;`) or junk, so the proxy refuses it too instead of forwarding what the next hop may read
/// differently.
enum ChunkExtension: Sendable, Equatable {
    case beforeName, name, afterName, beforeValue, token, quoted, escape, afterValue

    /// The state after `c`; nil when `c` is the CR that ends the line.
    func next(_ c: UInt8) throws(HTTPError) -> ChunkExtension? {
        let space = c == HTTPBytes.sp || c == HTTPBytes.tab
        let token = HTTPBytes.isToken(c)
        switch self {
        case .beforeName:
            if space { return self }
            if token { return .name }
            throw .bad("empty or malformed chunk extension")
        case .name, .afterName:
            if token && self == .name { return .name }
            if space { return .afterName }
            if c == UInt8(ascii: "=") { return .beforeValue }
            if c == UInt8(ascii: ";") { return .beforeName }
            if c == HTTPBytes.cr { return nil }
            throw .bad("malformed chunk extension")
        case .beforeValue:
            if space { return self }
            if token { return .token }
            if c == UInt8(ascii: "\"") { return .quoted }
            throw .bad("malformed chunk extension value")
        case .token, .afterValue:
            if token && self == .token { return .token }
            if space { return .afterValue }
            if c == UInt8(ascii: ";") { return .beforeName }
            if c == HTTPBytes.cr { return nil }
            throw .bad("malformed chunk extension value")
        case .quoted:
            if c == UInt8(ascii: "\"") { return .afterValue }
            if c == UInt8(ascii: "\\") { return .escape }
            if c == HTTPBytes.tab || c >= 0x20 && c != 0x7F { return .quoted }
            throw .bad("control character in a chunk extension")
        case .escape:
            if c == HTTPBytes.tab || c >= 0x20 && c != 0x7F { return .quoted }
            throw .bad("control character in a chunk extension")
        }
    }
}
