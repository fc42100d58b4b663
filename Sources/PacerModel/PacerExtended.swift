import Foundation

/// Which JSON a Marathon object is written as. Marathon's clients decode strictly (the `marathon`
/// PyPI client passes every key to a constructor that refuses unknown ones), so API answers carry
/// Marathon's keys and nothing else unless the caller asks for Pacer's additions (`embed=pacer`,
/// or a load balancer's event subscription). The store writes the full form.
public enum MarathonShape {
    public static let key = CodingUserInfoKey(rawValue: "pacer.marathonShape")!

    /// True when the encoder writes for Marathon clients: leave Pacer's additions out.
    public static func only(_ encoder: any Encoder) -> Bool { encoder.userInfo[key] as? Bool ?? false }

    /// An encoder for API answers: Marathon's shape, or with Pacer's additions (`pacer: true`).
    public static func encoder(pacer: Bool, pretty: Bool = false) -> JSONEncoder {
        let e = WireJSON.marathonEncoder(pretty: pretty)
        e.userInfo[key] = !pacer
        return e
    }
}

/// A Marathon object with Pacer's additions under one `pacer` key. Marathon clients decode
/// strictly, so the additions are sent only when asked for (`embed=pacer`); without them the
/// value encodes exactly as the Marathon object alone.
public struct PacerExtended<Base: Encodable & Sendable, Extra: Encodable & Sendable>: Encodable, Sendable {
    public var base: Base
    public var pacer: Extra?

    public init(_ base: Base, pacer: Extra?) {
        self.base = base
        self.pacer = pacer
    }

    enum Key: String, CodingKey { case pacer }

    public func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
        guard let pacer, !MarathonShape.only(encoder) else { return }
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(pacer, forKey: .pacer)
    }
}
