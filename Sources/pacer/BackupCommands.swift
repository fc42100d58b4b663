import ArgumentParser
import Foundation
import PacerMaster
import PacerStore

/// `pacer framework|master backup FILE` and `restore FILE`: the words after the part. Without
/// them the part runs as a server.
enum StateAction {
    case serve
    case backup(String)
    case restore(String)

    static let help: ArgumentHelp = """
        backup FILE: copy the state to FILE (a consistent snapshot; the part may be running). \
        restore FILE: write it back into an empty store (stop the part first).
        """

    init(_ words: [String], part: String) throws {
        switch (words.first, words.count) {
        case (nil, _): self = .serve
        case ("backup", 2): self = .backup(words[1])
        case ("restore", 2): self = .restore(words[1])
        default: throw ValidationError("pacer \(part) [backup FILE | restore FILE]: unexpected '\(words.joined(separator: " "))'")
        }
    }

    /// Writes `data` to `path` through a temporary file, so a crash never leaves half a backup.
    static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".partial"
        try data.write(to: URL(fileURLWithPath: temporary))
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return data
    }

    /// Backs up or restores the framework's store; false when the framework is to run instead.
    static func framework(_ action: StateAction, store: () throws -> any StateStore) async throws -> Bool {
        switch action {
        case .serve: return false
        case .backup(let path):
            let snapshot = try await StoreSnapshot.take(try store())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try write(try encoder.encode(snapshot), to: path)
            print("framework state: \(snapshot.entries.count) keys written to \(path)")
        case .restore(let path):
            let snapshot: StoreSnapshot
            do { snapshot = try JSONDecoder().decode(StoreSnapshot.self, from: try read(path)) } catch let error
                as ValidationError
            {
                throw error
            } catch {
                throw ValidationError("\(path) is not a framework backup: \(error)")
            }
            try await snapshot.restore(into: try store())
            print("framework state: \(snapshot.entries.count) keys restored from \(path) (taken \(snapshot.takenAt))")
        }
        return true
    }

    /// Backs up or restores the master's policy; false when the master is to run instead.
    static func master(_ action: StateAction, config: MasterConfig) async throws -> Bool {
        switch action {
        case .serve: return false
        case .backup(let path):
            try write(try await MasterService.backupPolicy(config), to: path)
            print("master policy written to \(path)")
        case .restore(let path):
            try await MasterService.restorePolicy(try read(path), config)
            print("master policy restored from \(path)")
        }
        return true
    }
}
