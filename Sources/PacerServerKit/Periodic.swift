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
