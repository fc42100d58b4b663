import Foundation
import Synchronization

/// Runs a program to its end for a test: its exit status, standard output and standard error.
public enum Command {
    public struct Result: Sendable {
        public var status: Int32
        public var out: String
        public var err: String
    }

    /// A program that cannot be started reports status -1 and says why in `err`.
    public static func run(_ tool: String, _ arguments: [String]) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return Result(status: -1, out: "", err: "cannot run \(tool): \(error)") }
        // Both pipes are drained while the program runs: a full one would block it.
        let errData = Mutex(Data())
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        reading.wait()
        return Result(
            status: p.terminationStatus, out: String(decoding: outData, as: UTF8.self),
            err: String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }
}
