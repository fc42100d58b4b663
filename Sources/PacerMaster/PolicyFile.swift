import Foundation
import PacerModel
import PacerStore

#if canImport(Glibc)
import Glibc
#endif

/// Where the operator's weights, quotas and reservations live between master runs.
protocol PolicyStorage: Sendable {
    func load() async throws -> ResourcePolicy
    func save(_ policy: ResourcePolicy) async throws
}

/// In the replicated store (masters on etcd): the next leader finds the policy there; the write
/// is fenced by the leader's election key like every other.
struct StoredPolicy: PolicyStorage {
    let store: any StateStore
    static let key = "master/policy"

    func load() async throws -> ResourcePolicy {
        guard let data = try await store.get(Self.key) else { return ResourcePolicy() }
        return try JSONDecoder().decode(ResourcePolicy.self, from: data)
    }

    func save(_ policy: ResourcePolicy) async throws { try await store.put(Self.key, try JSONEncoder().encode(policy)) }
}

/// On disk: written (fsync, rename) before a change is acknowledged, read at start, so the policy
/// survives a master restart.
struct PolicyFile: PolicyStorage {
    let path: String

    func load() throws -> ResourcePolicy {
        guard let data = FileManager.default.contents(atPath: path) else { return ResourcePolicy() }
        do { return try JSONDecoder().decode(ResourcePolicy.self, from: data) } catch {
            throw PolicyFileError(message: "cannot read \(path): \(error); fix or remove the file")
        }
    }

    func save(_ policy: ResourcePolicy) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(policy)
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PolicyFileError(message: "cannot write \(temp): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(temp, path) == 0 else {
            throw PolicyFileError(message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

struct PolicyFileError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
