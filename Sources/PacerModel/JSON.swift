import Foundation

/// The two JSON dialects on Pacer's wires: camelCase for the Marathon API, snake_case for the
/// Mesos-shaped master/agent protocol. One place, so every encoder agrees.
public enum WireJSON {
    public static func marathonEncoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
    public static func marathonDecoder() -> JSONDecoder { JSONDecoder() }
    public static func masterEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }
    public static func masterDecoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
