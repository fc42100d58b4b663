import Foundation
import PacerClient

/// Real etcd members on loopback ports, each with its own data directory. `make test` installs
/// Debian's etcd-server; a test that needs etcd fails with that hint when it is missing.
public final class EtcdCluster: @unchecked Sendable {
    // @unchecked: holds `PacerProcess`es, each only touched by the test that owns the cluster.
    public private(set) var members: [PacerProcess?]
    let names: [String]
    let clientPorts: [Int]
    let peerPorts: [Int]
    let dir: String
    let host: String

    public static var binary: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `host`: the address members listen on (loopback, or an address of a `NetworkLab`).
    public init(size: Int = 1, dir: String, host: String = "127.0.0.1") throws {
        guard Self.binary != nil else {
            throw EtcdMissing(
                description: "etcd is not installed: run `make test` (it installs etcd-server) or apt-get install etcd-server")
        }
        self.dir = dir
        self.host = host
        let base = FreePorts.block(2 * size)
        names = (0..<size).map { "m\($0)" }
        clientPorts = (0..<size).map { base + 2 * $0 }
        peerPorts = (0..<size).map { base + 2 * $0 + 1 }
        members = Array(repeating: nil, count: size)
        for i in 0..<size { try start(i) }
    }

    /// Starts (or restarts) member `i` with the same name, ports and data directory.
    public func start(_ i: Int) throws {
        let cluster = zip(names, peerPorts).map { "\($0)=http://\(host):\($1)" }.joined(separator: ",")
        members[i] = try PacerProcess(
            name: "etcd-\(names[i])",
            arguments: [
                "--name", names[i], "--data-dir", dir + "/etcd-" + names[i],
                "--listen-client-urls", "http://\(host):\(clientPorts[i])", "--advertise-client-urls",
                "http://\(host):\(clientPorts[i])",
                "--listen-peer-urls", "http://\(host):\(peerPorts[i])", "--initial-advertise-peer-urls",
                "http://\(host):\(peerPorts[i])",
                "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "pacer-test",
                // Pacer writes a deployment's task records in one transaction.
                "--max-txn-ops", "4096", "--max-request-bytes", "33554432",
                "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"
            ], logDir: dir, executable: Self.binary!)
    }

    public var endpoints: [String] { clientPorts.map { "\(host):\($0)" } }
    /// For `--store`.
    public var storeURL: String { "etcd://" + endpoints.joined(separator: ",") }

    /// Waits until a quorum serves linearizable reads.
    public func ready(within seconds: Double = 20) async throws {
        let transport = HTTPTransport(timeout: .seconds(2))
        try await Eventually.that("etcd serves reads", within: seconds) {
            for e in self.endpoints {
                let r = try? await transport.send(.POST, "http://\(e)/v3/kv/range", body: Data(#"{"key":"AA=="}"#.utf8))
                if r?.status == 200 { return true }
            }
            return false
        }
    }

    public func kill9(_ i: Int) { members[i]?.kill9() }

    /// Which member leads the etcd cluster (the one whose loss hurts most), from `/v3/maintenance/status`.
    public func leaderIndex() async -> Int? {
        struct Header: Decodable { var member_id: String? }
        struct Status: Decodable {
            var header: Header?
            var leader: String?
        }
        let transport = HTTPTransport(timeout: .seconds(2))
        var ids: [Int: String] = [:]
        var leader: String?
        for (i, e) in endpoints.enumerated() where members[i]?.isRunning == true {
            guard let r = try? await transport.expectOK(.POST, "http://\(e)/v3/maintenance/status", body: Data("{}".utf8)),
                let status = try? JSONDecoder().decode(Status.self, from: r.body)
            else { continue }
            ids[i] = status.header?.member_id
            leader = leader ?? status.leader
        }
        return ids.first { $0.value == leader }?.key
    }

    /// Every key with the revision of its last write, read (linearizably) from a live member: two
    /// snapshots differ exactly when something was written between them.
    public func snapshot() async throws -> [String: String] {
        struct KV: Decodable {
            var key: String
            var mod_revision: String
        }
        struct Range: Decodable { var kvs: [KV]? }
        let transport = HTTPTransport(timeout: .seconds(3))
        var lastError: (any Error)?
        for (i, e) in endpoints.enumerated() where members[i]?.isRunning == true {
            do {
                let r = try await transport.expectOK(
                    .POST, "http://\(e)/v3/kv/range", body: Data(#"{"key":"AA==","range_end":"AA=="}"#.utf8))
                let kvs = try JSONDecoder().decode(Range.self, from: r.body).kvs ?? []
                return Dictionary(
                    uniqueKeysWithValues: kvs.map {
                        (String(decoding: Data(base64Encoded: $0.key) ?? Data(), as: UTF8.self), $0.mod_revision)
                    })
            } catch { lastError = error }
        }
        throw lastError ?? EtcdMissing(description: "no etcd member is running")
    }

    public func stop() { for m in members { m?.stop(grace: 5) } }

    public var logs: String {
        members.compactMap { $0 }.map { "===== \($0.name)\n\($0.log.suffix(3000))" }.joined(separator: "\n")
    }
}

public struct EtcdMissing: Error, CustomStringConvertible { public let description: String }
