import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PacerAgentCore
import PacerModel

/// Runs one health check once. Only the task's own host ports are ever probed (the port was
/// resolved from the task's assignment when the task was launched).
struct HealthProbe: Sendable {
    let host: String
    /// Command checks run in the task's context: its user and cgroup.
    let launcher: Launcher
    let http: HTTPClient
    /// HTTPS checks do not verify certificates, as Marathon's do not: they test liveness, not identity.
    let https: HTTPClient

    func run(_ check: TaskHealthCheck, task: TaskInfo, sandbox: String) async -> (ok: Bool, cause: String?) {
        switch check.kind {
        case .http, .https:
            guard let port = check.port else { return (false, "no such port on this task") }
            let scheme = check.kind == .https ? "https" : "http"
            let path = check.path.map { $0.hasPrefix("/") ? $0 : "/" + $0 } ?? "/"
            let client = check.kind == .https ? https : http
            do {
                let response = try await client.execute(
                    HTTPClientRequest(url: "\(scheme)://\(host):\(port)\(path)"),
                    timeout: .milliseconds(Int64(check.timeoutSeconds * 1000)))
                _ = try? await response.body.collect(upTo: 64 << 10)
                let code = Int(response.status.code)
                return (200..<400).contains(code) ? (true, nil) : (false, "HTTP \(code) \(response.status.reasonPhrase)")
            } catch {
                return (false, "\(error)")
            }
        case .tcp:
            guard let port = check.port else { return (false, "no such port on this task") }
            do {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.milliseconds(Int64(check.timeoutSeconds * 1000)))
                    .connect(host: host, port: port).get()
                try? await channel.close()
                return (true, nil)
            } catch {
                return (false, "TCP connect to \(host):\(port) failed: \(error)")
            }
        case .command:
            return await command(check.command ?? "false", task: task, sandbox: sandbox, timeout: check.timeoutSeconds)
        }
    }

    /// The command runs in the task's sandbox, cgroup and user with the task's environment; exit 0 is healthy.
    func command(_ cmd: String, task: TaskInfo, sandbox: String, timeout: Double) async -> (ok: Bool, cause: String?) {
        var env = ["PATH": Launcher.systemPath, "HOME": sandbox, "MESOS_SANDBOX": sandbox]
        env.merge(task.command.environment) { _, t in t }
        switch launcher.spawnInTask(task, ["/bin/sh", "-c", cmd], env: env, output: "health") {
        case .failure(let e): return (false, e.message)
        case .success(let pid):
            let status = await withTaskGroup(of: ExitStatus?.self) { group in
                group.addTask {
                    await withCheckedContinuation { c in ProcessReaper.shared.watch(pid) { c.resume(returning: $0) } }
                }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                    return nil
                }
                let first = await group.next() ?? nil
                if first == nil { Launcher.signalGroup(pid, 9) }
                let rest = await group.next() ?? nil
                return first ?? rest.map { _ in ExitStatus.signaled(9) }
            }
            switch status {
            case .exited(0)?: return (true, nil)
            case .exited(let code)?: return (false, "command exited with status \(code)")
            case .signaled(9)?: return (false, "command timed out after \(timeout) s")
            case .signaled(let s)?: return (false, "command terminated with signal \(s)")
            case nil: return (false, "command timed out")
            }
        }
    }

    /// One readiness probe: ready when the answer's status is one of the ready codes.
    func ready(_ check: TaskReadinessCheck) async -> Bool {
        guard let port = check.port else { return false }
        let path = check.path.hasPrefix("/") ? check.path : "/" + check.path
        let url = "\(check.https ? "https" : "http")://\(host):\(port)\(path)"
        guard
            let response = try? await (check.https ? https : http).execute(
                HTTPClientRequest(url: url),
                timeout: .milliseconds(Int64(check.timeoutSeconds * 1000)))
        else { return false }
        _ = try? await response.body.collect(upTo: 64 << 10)
        return check.readyStatusCodes.contains(Int(response.status.code))
    }
}
