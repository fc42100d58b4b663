/// The same client address goes to the same backend. Rendezvous hashing: when a backend leaves,
/// only its clients move; everyone else keeps their backend.
public struct SourceHash: Balancer {
    public init() {}
    public mutating func pick(_ backends: [Backend], client: UInt64) -> Backend? {
        backends.max { score($0, client) < score($1, client) }
    }

    private func score(_ b: Backend, _ client: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the backend, then mixed with the client
        for byte in "\(b.host):\(b.port)".utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var x = h ^ client
        x = (x ^ (x >> 33)) &* 0xff51_afd7_ed55_8ccd
        x = (x ^ (x >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        return x ^ (x >> 33)
    }
}
