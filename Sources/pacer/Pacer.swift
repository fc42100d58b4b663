import ArgumentParser
import Logging

@main
struct Pacer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pacer",
        abstract: "Run long-lived services on a cluster and reach them through a load balancer.",
        subcommands: [
            Up.self, MasterCommand.self, AgentCommand.self, FrameworkCommand.self, LBCommand.self, AppCommand.self,
            TaskCommand.self, ClusterCommand.self
        ])
}

/// Flags every server part shares.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to listen on. The default keeps the API off the network: an open cluster API runs anyone's code.")
    var bind = "127.0.0.1"
    @Option(help: "Directory for state (store, checkpoints, sandboxes).")
    var stateDir = ".pacer"
    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

enum Logs {
    static func bootstrap(_ level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}
