/// A Marathon object with Pacer's additions under one `pacer` key. Marathon clients decode
/// strictly, so the additions are sent only when asked for (`embed=pacer`); without them the
/// value encodes exactly as the Marathon object alone.
public struct PacerExtended<Base: Encodable & Sendable, Extra: Encodable & Sendable>: Encodable, Sendable {
    public var base: Base
    public var pacer: Extra?

    public init(_ base: Base, pacer: Extra?) { self.base = base; self.pacer = pacer }

    enum Key: String, CodingKey { case pacer }

    public func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
        guard let pacer else { return }
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(pacer, forKey: .pacer)
    }
}
