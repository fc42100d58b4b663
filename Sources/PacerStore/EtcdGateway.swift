import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// POSTs JSON to etcd's v3 gateway on whichever member answers, sticking to one that does.
public actor EtcdGateway {
    let endpoints: [String]
    let client: HTTPClient
    let timeout: TimeAmount
    var current = 0

    /// Gives up connecting to a member after 250 ms: AsyncHTTPClient otherwise retries a refused
    /// connection until the request's deadline, and a dead member would cost the lease its renewal.
    public static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(tlsConfiguration: tls.withLock { $0 }, timeout: .init(connect: .milliseconds(250))))

    private static let tls = Mutex(TLSConfiguration.makeClientConfiguration())

    /// For `etcds://` stores: trust for etcd's certificate, and the client certificate etcd's
    /// `--client-cert-auth` asks for. Set at a part's start, before the store is opened.
    public static func configureTLS(_ configuration: TLSConfiguration) {
        tls.withLock { $0 = configuration }
    }

    public init(endpoints: [String], client: HTTPClient = EtcdGateway.client, timeout: TimeAmount = .seconds(5)) {
        self.endpoints = endpoints
        self.client = client
        self.timeout = timeout
    }

    /// On a transport failure tries the other members in turn; an error answer is thrown as is.
    /// `within`: an overall limit for all attempts (a lease renewal must not outlive the lease);
    /// otherwise each member gets the gateway's timeout.
    func call<T: Decodable & Sendable>(_ path: String, _ data: Data, within: TimeAmount? = nil) async throws -> T {
        var failures: [String] = []
        let overall = within.map { NIODeadline.now() + $0 }
        for attempt in 0..<endpoints.count {
            if let overall, NIODeadline.now() >= overall { break }
            let endpoint = endpoints[(current + attempt) % endpoints.count]
            var request = HTTPClientRequest(url: endpoint + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
            let response: HTTPClientResponse
            let bytes: ByteBuffer
            do {
                let own = NIODeadline.now() + timeout
                response = try await client.execute(request, deadline: overall.map { min($0, own) } ?? own)
                bytes = try await response.body.collect(upTo: 64 << 20)
            } catch {
                failures.append("\(endpoint): \(error)")
                continue
            }
            current = (current + attempt) % endpoints.count
            let payload = Data(bytes.readableBytesView)
            guard response.status == .ok else {
                let e = try? JSONDecoder().decode(GatewayError.self, from: payload)
                throw StoreError(
                    "etcd \(endpoint)\(path) answered \(response.status.code): \(e?.message ?? e?.error ?? String(decoding: payload.prefix(300), as: UTF8.self))"
                )
            }
            return try JSONDecoder().decode(T.self, from: payload)
        }
        throw StoreError("no etcd member answered (\(failures.joined(separator: "; "))); check --store and that etcd runs")
    }

    /// The member that answered last (a watch goes there).
    var endpoint: String { endpoints[current % endpoints.count] }

    func call<T: Decodable & Sendable>(_ path: String, json: [String: Any], within: TimeAmount? = nil) async throws -> T {
        try await call(path, JSONSerialization.data(withJSONObject: json), within: within)
    }
}

// The gateway's JSON: int64s are strings, keys and values base64.
struct KeyValue: Decodable, Sendable {
    var key: String
    var value: String?
    var create_revision: String?
    var mod_revision: String?
}
struct ResponseHeader: Decodable, Sendable { var revision: String? }
struct RangeResponse: Decodable, Sendable {
    var header: ResponseHeader?
    var kvs: [KeyValue]?
    /// More keys in the range than the request's limit let through.
    var more: Bool?
    /// Keys in the range (int64 as a string), with `count_only`.
    var count: String?
}
struct TxnResponse: Decodable, Sendable {
    struct Op: Decodable, Sendable { var response_range: RangeResponse? }
    var header: ResponseHeader?
    var succeeded: Bool?
    var responses: [Op]?
}
struct GatewayError: Decodable, Sendable {
    var error: String?
    var message: String?
}
