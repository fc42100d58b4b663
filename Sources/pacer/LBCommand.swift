import ArgumentParser
import Foundation
import Logging
import PacerLB
import PacerLBCore

struct LBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lb",
        abstract: "Run the load balancer, or check a configuration (--check), as `haproxy -c` does.")
    @Option(help: "Configuration file (lb-config/*.yaml); without one, the built-in local setup (lb-config/local.yaml).")
    var config: String?
    @Option(help: "Only check this configuration file and exit: 0 when valid, else the offending line.") var check: String?
    @Option(help: "Log level.") var logLevel: Logger.Level = .info
    @Option(help: "Log lines as text, or as one JSON object each.") var logFormat: LogFormat = .text

    func run() async throws {
        if let check {
            do { _ = try LBFiles.load(check) } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
            print("\(check): configuration is valid")
            return
        }
        Logs.bootstrap(logLevel, format: logFormat)
        try await Runner.run([LBService(config: try config.map(LBFiles.load) ?? .local)])
    }
}

enum LBFiles {
    static func load(_ path: String) throws -> LBConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        do { return try LBConfig.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw ValidationError("\(path): \(error)")
        }
    }
}
