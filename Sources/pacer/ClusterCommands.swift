import ArgumentParser
import Foundation
import PacerClient
import PacerModel

/// `pacer cluster …`: the master's operator API.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Roles, quota, reservations and allocation statistics.",
        subcommands: [Stats.self, Roles.self, Reserve.self, Unreserve.self, SetQuota.self, Weight.self])

    struct MasterOptions: ParsableArguments {
        @Option(help: "Master URL (or PACER_MASTER); https:// by default for a `pacer up --secure` cluster in --state-dir.")
        var master: String?
        @Option(help: "PEM CA to trust for an https:// master (or PACER_CA).")
        var ca = ProcessInfo.processInfo.environment["PACER_CA"]
        @Option(
            help: "State directory of a local `pacer up --secure` cluster (or PACER_STATE_DIR): its CA and admin token are used.")
        var stateDir = LocalCluster.defaultStateDir
        func validate() throws { try ClientOptions.trust(ca, LocalCluster(stateDir: stateDir).ca) }
        var client: OperatorClient {
            OperatorClient(
                baseURL: LocalCluster(stateDir: stateDir).url(
                    master ?? ProcessInfo.processInfo.environment["PACER_MASTER"], port: 5050))
        }
    }

    /// `cpus=2,mem=1024,disk=0`.
    static func resources(_ text: String) throws -> Resources {
        var r = Resources()
        for pair in text.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Double(kv[1]), v >= 0 else {
                throw ValidationError("expected cpus=N,mem=N,disk=N, got '\(pair)'")
            }
            switch kv[0] {
            case "cpus": r.cpus = v
            case "mem": r.mem = v
            case "disk": r.disk = v
            default: throw ValidationError("unknown resource '\(kv[0])': use cpus, mem or disk")
            }
        }
        return r
    }

    static func show(_ r: Resources) -> String { "cpus \(r.cpus), mem \(Int(r.mem)) MiB, disk \(Int(r.disk)) MiB" }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Average and peak allocation over the recorded history (up to 24 h).")
        @OptionGroup var options: MasterOptions
        func run() async throws {
            let report = try await options.client.allocation()
            guard !report.samples.isEmpty else { return print("no samples yet (one every \(Int(report.period)) s)") }
            let span = (report.samples.last!.time - report.samples.first!.time) / 60
            print(
                "allocation over \(String(format: "%.1f", span)) min, \(report.samples.count) samples every \(Int(report.period)) s"
            )
            func rates(_ pick: (AllocationReport.Sample) -> (Double, Double)) -> (avg: Double, peak: Double) {
                let r = report.samples.map {
                    let (a, t) = pick($0)
                    return t > 0 ? a / t : 0
                }
                return (r.reduce(0, +) / Double(r.count), r.max() ?? 0)
            }
            for (name, pick) in [
                ("cpus", { (s: AllocationReport.Sample) in (s.allocated.cpus, s.total.cpus) }),
                ("mem", { (s: AllocationReport.Sample) in (s.allocated.mem, s.total.mem) }),
                ("disk", { (s: AllocationReport.Sample) in (s.allocated.disk, s.total.disk) })
            ] {
                let (avg, peak) = rates(pick)
                print(
                    "  " + name.padding(toLength: 6, withPad: " ", startingAt: 0)
                        + String(format: "average %5.1f %%   peak %5.1f %%", avg * 100, peak * 100))
            }
            let roles = Set(report.samples.flatMap { $0.byRole.keys }).sorted()
            for role in roles {
                let (avg, peak) = rates { ($0.byRole[role]?.cpus ?? 0, $0.total.cpus) }
                print(String(format: "  role %@: cpus average %5.1f %%   peak %5.1f %%", role as NSString, avg * 100, peak * 100))
            }
        }
    }

    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Roles with weight, quota, reservations and allocation.")
        @OptionGroup var options: MasterOptions
        func run() async throws {
            for r in try await options.client.roles() {
                print(
                    "\(r.name)  weight \(r.weight)  allocated \(show(r.allocated))  reserved \(show(r.reserved))"
                        + (r.quota.map { "  guarantee \(show($0.guarantee))" + ($0.limit.map { "  limit \(show($0))" } ?? "") }
                            ?? ""))
            }
        }
    }

    /// What `reserve` and `unreserve` name: an agent, a role and the resources.
    struct ReservationArguments: ParsableArguments {
        @Option(help: "Agent id.") var agent: String
        @Option(help: "Role.") var role: String
        @Argument(help: "cpus=N,mem=N,disk=N") var resources: String
        func reservation() throws -> Reservation {
            Reservation(agentId: agent, role: role, resources: try ClusterCommand.resources(resources))
        }
    }

    struct Reserve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reserve resources of an agent for a role (no agent restart).")
        @OptionGroup var options: MasterOptions
        @OptionGroup var reservation: ReservationArguments
        func run() async throws {
            _ = try await options.client.reserve(try reservation.reservation())
            print("reserved")
        }
    }

    struct Unreserve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give reserved resources back (refused while in use).")
        @OptionGroup var options: MasterOptions
        @OptionGroup var reservation: ReservationArguments
        func run() async throws {
            _ = try await options.client.unreserve(try reservation.reservation())
            print("unreserved")
        }
    }

    struct SetQuota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "quota", abstract: "Set (or --remove) a role's quota.")
        @OptionGroup var options: MasterOptions
        @Option(help: "Role.") var role: String
        @Option(help: "Guaranteed: cpus=N,mem=N,disk=N.") var guarantee = ""
        @Option(help: "Limit: cpus=N,mem=N,disk=N.") var limit: String?
        @Flag(help: "Remove the role's quota.") var remove = false
        func run() async throws {
            if remove {
                _ = try await options.client.removeQuota(role: role)
            } else {
                _ = try await options.client.setQuota(
                    role: role, guarantee: try ClusterCommand.resources(guarantee),
                    limit: try limit.map(ClusterCommand.resources))
            }
            print("quota of \(role) updated")
        }
    }

    struct Weight: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a role's weight (default 1).")
        @OptionGroup var options: MasterOptions
        @Option(help: "Role.") var role: String
        @Argument var weight: Double
        func run() async throws {
            _ = try await options.client.setWeight(role: role, weight: weight)
            print("weight of \(role) is \(weight)")
        }
    }
}
