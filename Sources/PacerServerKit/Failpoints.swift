import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Crash points for fault tests (etcd's gofail, much smaller): `PACER_FAILPOINTS=name[,name…]`
/// makes the process die by SIGKILL the moment it reaches a named point, as a power cut would
/// between two steps that must survive one. Unset (always, outside tests), a hit costs a set lookup.
public enum Failpoints {
    static let armed: Set<String> = Set(
        (ProcessInfo.processInfo.environment["PACER_FAILPOINTS"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })

    public static func hit(_ name: String) {
        guard armed.contains(name) else { return }
        FileHandle.standardError.write(Data("failpoint \(name) reached: killing this process (PACER_FAILPOINTS)\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
