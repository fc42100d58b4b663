import Foundation
import PacerAgentCore
import PacerModel

#if canImport(Glibc)
import Glibc
#endif

/// The agent's durable memory: its id and the core's checkpoint (tasks, pids, unacknowledged
/// updates), replaced atomically (write temp, fsync, rename, fsync dir) so a crash leaves
/// either the old or the new file, never half of one.
struct CheckpointFile {
    struct Contents: Codable {
        var agentId: String
        var checkpoint: AgentCheckpoint
    }
    let directory: String
    var path: String { directory + "/checkpoint.json" }

    func load() throws -> Contents? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(Contents.self, from: data) } catch {
            throw SpawnError("checkpoint \(path) is unreadable (\(error)); move it away to start the agent empty")
        }
    }

    func save(_ contents: Contents) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let data = try JSONEncoder().encode(contents)
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpawnError("cannot write \(temp): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temp, path) == 0 else {
            throw SpawnError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let dirFd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFd >= 0 {
            fsync(dirFd)
            close(dirFd)
        }
    }
}
