// libFuzzer entry for the LB's HTTP/1.1 parser (built by bench/fuzz-http.sh together with
// Sources/PacerLBCore/HTTP/*.swift, with -sanitize=fuzzer,address). Every input must either be
// refused with a status or parse into ranges that lie inside the head; chunked bodies must either
// be refused or consumed without reading past the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var fields: [HeaderField] = []
    var tokens: [Range<Int>] = []
    var limits = HeadLimits()
    limits.headBytes = 4096
    switch HeadScanner.scan(bytes, limits: limits) {
    case .complete(let start, let end):
        precondition(start <= end && end <= size)
        if let head = try? RequestHead.parse(bytes, start..<end, limits: limits, fields: &fields, connectionTokens: &tokens) {
            precondition(head.target.upperBound <= end && head.method.upperBound <= end)
            for f in fields { precondition(f.name.upperBound <= end && f.value.upperBound <= end) }
            var out: [UInt8] = []
            HeadWriter.request(
                bytes, head, fields, forwarding: .init(clientAddress: "127.0.0.1", proto: "http", port: 1),
                tunnel: false, into: &out)
            precondition(!out.contains(0) && !out.isEmpty)
            var progress = BodyProgress(head.body)
            let rest = UnsafeRawBufferPointer(rebasing: bytes[end...])
            if let n = try? progress.take(available: rest.count, segments: { (visit) throws(HTTPError) in _ = try visit(rest) }) {
                precondition(n <= rest.count)
            }
        }
        if let response = try? ResponseHead.parse(
            bytes, start..<end, limits: limits, isHead: false, fields: &fields,
            connectionTokens: &tokens)
        {
            precondition(response.statusText.upperBound <= end)
        }
    case .incomplete(let resume):
        precondition(resume <= size)
    case .invalid(let error):
        precondition(error.status >= 400)
    }
    var decoder = ChunkedDecoder(lineLimit: 256)
    if let n = try? decoder.advance(bytes) { precondition(n <= size) }
    return 0
}
