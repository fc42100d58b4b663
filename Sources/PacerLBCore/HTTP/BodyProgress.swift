/// How much of a message body is still to come, whatever its framing.
public struct BodyProgress: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case none
        case length(Int)
        case chunked(ChunkedDecoder)
        case untilClose
    }
    public var state: State

    public init(_ framing: BodyFraming) {
        switch framing {
        case .none: state = .none
        case .length(let n): state = n > 0 ? .length(n) : .none
        case .chunked: state = .chunked(ChunkedDecoder())
        case .untilClose: state = .untilClose
        }
    }

    public var isDone: Bool {
        switch state {
        case .none: true
        case .length(let n): n == 0
        case .chunked(let d): d.isDone
        case .untilClose: false
        }
    }

    /// Of `available` bytes at the front of the buffer (visited in segments by `segments`), how
    /// many belong to this body; advances past them.
    public mutating func take(
        available: Int,
        segments: ((UnsafeRawBufferPointer) throws(HTTPError) -> Bool) throws(HTTPError) -> Void
    )
        throws(HTTPError) -> Int
    {
        switch state {
        case .none: return 0
        case .untilClose: return available
        case .length(let n):
            let k = min(n, available)
            state = .length(n - k)
            return k
        case .chunked(var decoder):
            var taken = 0
            try segments { (segment) throws(HTTPError) -> Bool in
                taken += try decoder.advance(segment)
                return !decoder.isDone
            }
            state = .chunked(decoder)
            return taken
        }
    }
}
