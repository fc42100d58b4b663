import Foundation
import PacerAppsCore
import PacerModel
import PacerServerKit

/// What an API change (POST, PUT, DELETE, a kill) does once the core has taken it: its store
/// writes, which the answer waits for, and the calls and events that follow them, which it does not.
struct PendingChange: Sendable {
    fileprivate var writes: [AppsDirective] = []
    /// The deployments to write or remove for this change, when the set changed.
    fileprivate var deployments: (current: [String: Deployment], stored: Set<String>)?
    fileprivate var calls: [AppsDirective] = []
    fileprivate var events: [AppsEvent] = []
    fileprivate var announcement: Announcement?
}

/// Marathon's `api_post_event` for an app an API request changed.
struct Announcement: Sendable {
    let app: AppDefinition
    let uri: String
}

extension Scheduler {
    /// Applies an API change to the core in one turn of the actor (`change` validates it and returns
    /// the answer and the core's directives), then waits for its writes *off* the actor and answers.
    ///
    /// Why off: an `await` inside the actor resumes only when the actor is free again, and under
    /// placement it is busy with offers and status updates. Awaiting the store write, the
    /// deployments' write, the event bus and `api_post_event` inside the actor queued a POST behind
    /// those turns five times; POST /v2/apps p99 was 184–225 ms at 2,000 agents (issue 12).
    nonisolated func applying<T: Sendable>(
        _ change: @Sendable (isolated Scheduler) throws(APIError) -> (T, [AppsDirective], Announcement?)
    ) async throws(APIError) -> T {
        let (answer, pending) = try await stage(change)
        try await finish(pending)
        return answer
    }

    private func stage<T: Sendable>(
        _ change: @Sendable (isolated Scheduler) throws(APIError) -> (T, [AppsDirective], Announcement?)
    ) throws(APIError) -> (T, PendingChange) {
        let (answer, directives, announcement) = try change(self)
        var pending = stage(directives)
        pending.announcement = announcement
        return (answer, pending)
    }

    /// Splits a change's directives, and takes the deployments' new set as stored (it is written
    /// with the change; `deploymentsNotStored` undoes that if the write fails).
    func stage(_ batch: [AppsDirective]) -> PendingChange {
        let (directives, events) = Self.separate(batch)
        var pending = PendingChange()
        pending.writes = directives.filter(\.isStoreWrite)
        pending.calls = directives.filter { !$0.isStoreWrite }
        pending.events = events
        let current = core.deployments
        let currentIds = Set(current.keys)
        if currentIds != storedDeployments {
            pending.deployments = (current.byId, storedDeployments)
            storedDeployments = currentIds
        }
        return pending
    }

    /// The writes in order, then (without waiting) the calls to the master and the events. A failed
    /// write is a 503: nothing is acknowledged that is not stored. Once the writes hold, a call to
    /// the master that fails is not the client's failure: the core asks again (starvation revives,
    /// kill retries).
    nonisolated func finish(_ pending: PendingChange) async throws(APIError) {
        for w in pending.writes {
            do { try await repo.write(w) } catch {
                logger.error("write failed", metadata: ["error": "\(error)"])
                Task { await self.countStoreWriteFailure() }
                throw APIError(
                    status: 503, message: "the state store refused the write: \(error). Nothing was acknowledged; retry.")
            }
        }
        if let d = pending.deployments {
            do { try await repo.syncDeployments(d.current, stored: d.stored) } catch {
                logger.warning(
                    "could not store deployments; they will be re-created after a restart", metadata: ["error": "\(error)"])
                Task { await self.deploymentsNotStored(d.current, previously: d.stored) }
            }
        }
        Task { await self.follow(pending) }
    }

    /// What follows a stored change, in one turn: KILLs to their senders, REVIVEs coalesced, the
    /// other calls sent, then the events and `api_post_event`.
    private func follow(_ pending: PendingChange) async {
        sendInBackground(pending.calls.filter(Self.sentInBackground))
        let calls = pending.calls.filter { !Self.sentInBackground($0) }
        if !calls.isEmpty {
            Task {
                for d in calls {
                    if d == .revive {
                        await self.reviveCoalesced()
                        continue
                    }
                    do { try await self.execute(d) } catch {
                        self.logger.warning(
                            "call to the master failed after the change was stored; it will be retried",
                            metadata: ["error": "\(error)"])
                    }
                }
            }
        }
        await publish(pending.events)
        if let a = pending.announcement { await announce(a) }
    }

    private func countStoreWriteFailure() { counters.storeWriteFailures += 1 }

    /// A failed deployments' write: back to what is stored, so the next change writes them again.
    private func deploymentsNotStored(_ current: [String: Deployment], previously stored: Set<String>) {
        storedDeployments.subtract(Set(current.keys).subtracting(stored))
        storedDeployments.formUnion(stored.subtracting(current.keys))
    }

    /// An API change made from inside the actor (groups, a forced cancel): as `applying`, but the
    /// caller goes on in the actor after the writes.
    func commit(_ batch: [AppsDirective]) async throws(APIError) {
        try await finish(stage(batch))
    }
}
