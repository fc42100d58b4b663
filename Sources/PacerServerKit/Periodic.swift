import CPacerSys
import ServiceLifecycle

/// Runs `body` every `period` until the task is cancelled. Cancellation ends it quietly,
/// so services can stop their loops without error noise.
public func every(_ period: Duration, _ body: @Sendable () async -> Void) async {
    while !Task.isCancelled {
        do { try await Task.sleep(for: period) } catch { return }
        await body()
    }
}

/// Runs `operation` until the service is asked to stop (graceful shutdown cancels it); nil then.
/// For loops that never end by themselves — campaigning for leadership, renewing a lease — which
/// would otherwise keep a stopping process alive forever.
public func untilShutdown<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    do { return try await cancelWhenGracefulShutdown(operation) } catch is CancellationError { return nil }
}

/// Hands the heap's free pages back to the kernel every `period`. glibc keeps what a burst freed
/// (a 50,000-task `/v2/tasks` answer, a reconciliation) in its per-thread arenas: over a 10-minute
/// churn at 2,000 agents the framework's RSS rose 240 → 303 MiB (385 in the mass kill after it)
/// while its live heap was 44–58 MiB, and a control plane whose memory only grows is one an
/// operator cannot size (issue 12). The LB keeps its memory on purpose (`pacer_malloc_keep`) and
/// does not run this.
public func trimmingTheHeap(every period: Duration = .seconds(15)) async {
    await every(period) { _ = pacer_malloc_trim() }
}
