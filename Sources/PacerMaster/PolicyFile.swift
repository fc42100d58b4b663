#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PacerModel

/// The operator's weights, quotas and reservations on disk: written (fsync, rename) before a
/// change is acknowledged, read at start, so they survive a master restart.
struct PolicyFile: Sendable {
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
        guard ok, rename(temp, path) == 0 else { throw PolicyFileError(message: "cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}

struct PolicyFileError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
