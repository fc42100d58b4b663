import CPacerSys
import Foundation
import PacerAgentCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one place in the process that calls `waitpid`: a dedicated thread reaps every child and
/// hands each exit to whoever watches that pid. One per process, because several agents may share
/// a process (`pacer up`) and `waitpid(-1)` cannot be split between them.
public final class ProcessReaper: Sendable {
    public static let shared = ProcessReaper()

    struct State {
        var watchers: [Int32: @Sendable (ExitStatus) -> Void] = [:]
        /// Exits that arrived before their watcher (a fast-failing command).
        var early: [Int32: ExitStatus] = [:]
        var started = false
    }
    let state = Mutex(State())

    /// Calls `onExit` once, from the reaper thread, when `pid` ends.
    public func watch(_ pid: Int32, onExit: @escaping @Sendable (ExitStatus) -> Void) {
        let ready: ExitStatus? = state.withLock { s in
            if !s.started {
                s.started = true
                // Orphaned grandchildren are re-parented to us and reaped here, never left as zombies.
                _ = pacer_set_child_subreaper()
                let thread = Thread { [self] in self.loop() }
                thread.name = "pacer-reaper"
                thread.start()
            }
            if let status = s.early.removeValue(forKey: pid) { return status }
            s.watchers[pid] = onExit
            return nil
        }
        if let ready { onExit(ready) }
    }

    func loop() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid <= 0 {
                if errno == ECHILD { usleep(20_000) }
                continue
            }
            let exit: ExitStatus = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            let watcher = state.withLock { s -> (@Sendable (ExitStatus) -> Void)? in
                if let w = s.watchers.removeValue(forKey: pid) { return w }
                if s.early.count < 10_000 { s.early[pid] = exit }
                return nil
            }
            watcher?(exit)
        }
    }
}
