import AsyncHTTPClient
import Foundation
import NIOHTTP1
import PacerModel

/// The master's operator API: roles, weights, quota, dynamic reservations, allocation history.
public struct OperatorClient: Sendable {
    public let baseURL: String
    let transport: HTTPTransport
    public init(baseURL: String, transport: HTTPTransport = HTTPTransport()) {
        self.baseURL = baseURL
        self.transport = transport
    }

    public func reserve(_ r: Reservation) async throws(ClientError) -> ResourcePolicy {
        try await policy(.POST, "/master/reserve", r)
    }
    public func unreserve(_ r: Reservation) async throws(ClientError) -> ResourcePolicy {
        try await policy(.POST, "/master/unreserve", r)
    }

    public func setQuota(role: String, guarantee: Resources, limit: Resources?) async throws(ClientError) -> ResourcePolicy {
        struct Body: Encodable {
            var role: String
            var guarantee: Resources
            var limit: Resources?
        }
        return try await policy(.PUT, "/master/quota", Body(role: role, guarantee: guarantee, limit: limit))
    }

    public func removeQuota(role: String) async throws(ClientError) -> ResourcePolicy {
        try await decode(try await transport.expectOK(.DELETE, baseURL + "/master/quota/" + role))
    }

    public func setWeight(role: String, weight: Double) async throws(ClientError) -> ResourcePolicy {
        struct Body: Encodable {
            var role: String
            var weight: Double
        }
        return try await policy(.PUT, "/master/weights", [Body(role: role, weight: weight)])
    }

    public func roles() async throws(ClientError) -> [RoleStatus] {
        try decode(try await transport.expectOK(.GET, baseURL + "/master/roles"))
    }
    public func allocation() async throws(ClientError) -> AllocationReport {
        try decode(try await transport.expectOK(.GET, baseURL + "/master/allocation"))
    }

    func policy<B: Encodable>(_ method: HTTPMethod, _ path: String, _ body: B) async throws(ClientError) -> ResourcePolicy {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch {
            throw .transport(url: URLCredentials.split(baseURL).url + path, "cannot encode: \(error)")
        }
        return try decode(try await transport.expectOK(method, baseURL + path, body: data))
    }

    func decode<T: Decodable>(_ r: HTTPResult) throws(ClientError) -> T {
        do { return try JSONDecoder().decode(T.self, from: r.body) } catch {
            throw .http(status: r.status, nil, body: "unexpected answer: \(error)")
        }
    }
}
