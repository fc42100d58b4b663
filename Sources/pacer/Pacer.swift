import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PacerClient
import PacerServerKit
import PacerStore

/// The command line, after the configuration file and `PACER_…` variables are folded into it
/// (`ConfigSources`), parsed and run as ArgumentParser's own `main` would.
@main
enum Main {
    static func main() async {
        do {
            let (arguments, _) = try ConfigSources.resolve(
                Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
            var command = try Pacer.parseAsRoot(arguments)
            if command is MasterCommand {
                // The master's load is many small requests (2,000 agents' heartbeats, offers'
                // answers): its tasks run on the event loops that read them instead of a second
                // pool a thread wake-up away. With heartbeats only at 2,000 agents: 10.3–12.1 % of
                // a core before, 9.3–10.4 % after (perf: a third of it was the kernel's wake-ups).
                NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            }
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            Pacer.exit(withError: error)
        }
    }
}

struct Pacer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pacer",
        abstract: "Run long-lived services on a cluster and reach them through a load balancer.",
        subcommands: [
            Up.self, MasterCommand.self, AgentCommand.self, FrameworkCommand.self, LBCommand.self, AppCommand.self,
            TaskCommand.self, ClusterCommand.self, ConfigCommand.self, PrincipalCommand.self
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
    @Option(help: "Log lines as text, or as one JSON object each (time, level, label, message, ids).")
    var logFormat: LogFormat = .text
    @Flag(
        help:
            "Allow --bind on a non-loopback address although the API has no authentication or TLS yet: anyone who reaches it can run commands on every agent."
    )
    var insecure = false
    @Option(help: "PEM certificate (chain) of this part's API: it then speaks HTTPS only (TLS 1.2+; SIGHUP reloads it).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "CA that clients' certificates must chain to (mutual TLS); with --tls-cert.") var tlsClientCa: String?
    @Option(help: "PEM CA this part trusts (besides the system's) when it calls other parts over HTTPS.") var ca: String?
    @Option(help: "For an etcds:// store: the CA of etcd's certificate, and this part's client certificate and key.")
    var storeCa: String?
    @Option var storeCert: String?
    @Option var storeKey: String?

    /// Sets how an etcds:// store is reached; before the store is opened.
    func configureStoreTLS() throws {
        guard (storeCert == nil) == (storeKey == nil) else { throw ValidationError("--store-cert and --store-key go together") }
        do { EtcdGateway.configureTLS(try ClientTLS.make(ca: storeCa, certificate: storeCert, key: storeKey)) } catch {
            throw ValidationError("--store-ca, --store-cert, --store-key: \(error)")
        }
    }

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsClientCa != nil && tlsCert == nil { throw ValidationError("--tls-client-ca needs --tls-cert") }
    }

    /// An open cluster API is remote code execution (RELIABILITY A1): leaving loopback is a
    /// decision the operator states, not a default or a typo — unless the API is encrypted and
    /// `authenticated` (this part's credentials or secrets are set).
    func checkExposure(authenticated: Bool) throws {
        guard !Self.isLoopback(bind), !insecure else { return }
        guard tlsCert != nil, authenticated else {
            throw ValidationError(
                "--bind \(bind) would expose this part's API \(tlsCert == nil ? "without TLS" : "without authentication"): "
                    + "anyone who reaches it could run commands on every agent. Give it --tls-cert/--tls-key and its "
                    + "credentials (docs/OPERATIONS.md, Access), or bind to a trusted network and pass --insecure to say so.")
        }
    }

    /// The API's TLS, with SIGHUP reloading it; also sets how this part's clients verify others
    /// (`--ca`) and present themselves (its certificate, for peers that require one).
    func tls(logger: Logger) throws -> ServerTLS? {
        do { try ClientTLS.configure(ca: ca, certificate: tlsCert, key: tlsKey) } catch {
            throw ValidationError("--ca, --tls-cert, --tls-key: \(error)")
        }
        guard let tlsCert, let tlsKey else { return nil }
        let tls: ServerTLS
        do { tls = try ServerTLS(certificate: tlsCert, key: tlsKey, clientCA: tlsClientCa) } catch {
            throw ValidationError("\(error)")
        }
        TLSReloadSignal.install([tls], logger: logger)
        return tls
    }

    static func isLoopback(_ address: String) -> Bool {
        address == "localhost" || address == "::1" || address.hasPrefix("127.")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {
    public var defaultValueDescription: String { rawValue }
}

enum Logs {
    /// `format`: `text` (a line of prose, for people) or `json` (one object per line, for machines).
    static func bootstrap(_ level: Logger.Level, format: LogFormat = .text) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            case .json:
                var h = JSONLogHandler(label: label)
                h.logLevel = level
                return h
            }
        }
    }
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
