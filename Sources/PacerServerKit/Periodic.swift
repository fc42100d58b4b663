/// Runs `body` every `period` until the task is cancelled. Cancellation ends it quietly,
/// so services can stop their loops without error noise.
public func every(_ period: Duration, _ body: @Sendable () async -> Void) async {
    while !Task.isCancelled {
        do { try await Task.sleep(for: period) } catch { return }
        await body()
    }
}
