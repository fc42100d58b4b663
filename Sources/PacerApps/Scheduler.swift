import Foundation
import Logging
import PacerAppsCore
import PacerClient
import PacerModel
import PacerServerKit
import PacerStore
import Synchronization

/// The framework's shell: owns the apps core, persists before it acts, and talks to the master.
/// API handlers and the master's event stream both come through here, one at a time.
public actor Scheduler {
    var core: AppsCore
    let repo: AppsRepository
    let logger: Logger
    var frameworkId: String?
    let bus: EventBus
    var master: MasterClient?
    /// The largest agent seen, so specs no agent could ever run are refused up front.
    var largestAgent: Resources?
    /// Agents' API URLs, by agent id (from the master's state): where a task's sandbox is read.
    var agentURLs: [String: String] = [:]
    /// Events received but not yet handled, behind a lock rather than the actor: the stream's reader
    /// put them in through an actor call, so it read no faster than the busy actor let it in, and
    /// the master's stream backed up. Offers waited in that backlog behind status updates past the
    /// master's offer timeout, and every launch on them was dropped and made again (2,000 agents:
    /// 35,000 extra launches, placement never finished); the silence watchdog waited for the actor
    /// too. Handling takes a bounded batch at a time, so a burst of updates costs one store write
    /// and one acknowledgement call, not one each.
    nonisolated let mailbox = Mutex(Mailbox())
    /// Deployment ids as last written to the store; kept in step after every change.
    var storedDeployments: Set<String> = []
    var counters = SchedulerCounters()
    /// How this leadership's state was read, and how long that took (part of failover time).
    var load = StateLoad(seconds: 0, warm: false)
    /// KILLs waiting for a sender, and the senders running.
    var backgroundCalls = KillQueue()
    var callSenders = 0
    /// Whether the master subscribed to takes several tasks in one KILL (`KILL_MANY`; an older
    /// master, during a rolling upgrade, does not).
    var masterKillsMany = false
    /// Acknowledgements, and declined offers by refusal, waiting for their one sender each.
    var acknowledgements = Coalesced<Acknowledgement>()
    var declines: [Double: Coalesced<String>] = [:]
    /// A REVIVE on its way, and whether another was asked for meanwhile (`reviveCoalesced`).
    var reviving = false
    var reviveAgain = false
    var revivePacing = RevivePacing()
    let doorbell: AsyncStream<Void>.Continuation
    let rings: AsyncStream<Void>

    /// `preloaded`: apps and tasks a follower kept warm (`WarmStandby`), read from the store otherwise.
    init(
        repo: AppsRepository, settings: AppsSettings, bus: EventBus, logger: Logger,
        preloaded: (apps: [AppDefinition], tasks: [TaskRecord])? = nil
    ) async throws {
        self.repo = repo
        self.bus = bus
        self.logger = logger
        (rings, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // Read side by side: a new leader answers only once all of it is in (failover time).
        async let id = repo.frameworkId()
        async let deployments = repo.deployments()
        async let apps = Self.orRead(preloaded?.apps, repo.apps)
        async let tasks = Self.orRead(preloaded?.tasks, repo.tasks)
        async let canaries = repo.canaries()
        async let groups = repo.groups()
        frameworkId = try await id
        let stored = try await deployments
        core = AppsCore(
            settings: settings, apps: try await apps, tasks: try await tasks, deployments: stored,
            canaries: try await canaries, groups: try await groups,
            idPrefix: String(UUID().uuidString.prefix(8)).lowercased(), now: SteadyClock.instant)
        storedDeployments = Set(stored.map(\.info.id))
        logger.info(
            "framework state loaded",
            metadata: [
                "apps": "\(core.apps.count)", "tasks": "\(core.tasks.count)",
                "framework.id": "\(frameworkId ?? "(new)")", "read": "\(preloaded == nil ? "in full" : "from the warm copy")"
            ])
    }

    private static func orRead<T: Sendable>(_ given: [T]?, _ read: () async throws -> [T]) async throws -> [T] {
        if let given { return given }
        return try await read()
    }

    func loaded(_ load: StateLoad) { self.load = load }

    /// Revocable offers are always asked for: batch apps may be deployed at any time.
    var frameworkInfo: FrameworkInfo {
        FrameworkInfo(
            id: frameworkId, name: "pacer", failoverTimeoutSeconds: 604_800, roles: core.settings.roles,
            capabilities: ["REVOCABLE_RESOURCES"])
    }

    // MARK: master stream

    /// The silence watchdog counts from the start of a subscription attempt.
    nonisolated func connecting() { mailbox.withLock { $0.lastEvent = SteadyClock.now } }
    func connected(to master: MasterClient) {
        self.master = master
        connecting()
    }
    func disconnected() { master = nil }
    /// Seconds since the last event, and how long silence may last before the stream counts as dead.
    nonisolated func silence(missedHeartbeats: Double) -> (silent: TimeInterval, limit: TimeInterval) {
        mailbox.withLock { (SteadyClock.now.timeIntervalSince($0.lastEvent), $0.heartbeatInterval * missedHeartbeats) }
    }

    /// Called by the stream's reader, which never waits for the actor.
    nonisolated func enqueue(_ events: [SchedulerEvent]) {
        mailbox.withLock {
            $0.lastEvent = SteadyClock.now
            $0.inbox.enqueue(events, now: SteadyClock.instant)
        }
        doorbell.yield()
    }

    /// Handles queued events until none are left; runs for as long as the framework does.
    func processInbox() async {
        for await _ in rings {
            // At most `maxEventsPerTurn` at a time: the API's requests (and the lease renewal)
            // wait for the actor while a batch is decided, and a burst of thousands of updates
            // decided at once held a POST for over a second (issue 12: bound the work per turn).
            while let batch = mailbox.withLock({
                $0.inbox.isEmpty ? nil : $0.inbox.next(max: Self.maxEventsPerTurn, now: SteadyClock.instant)
            }) {
                do { try await handle(batch) } catch {
                    logger.error("could not record the framework id; dropping the stream", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    static let maxEventsPerTurn = 500

    func handle(_ events: [SchedulerEvent]) async throws {
        var offers: [Offer] = []
        var statuses: [TaskStatus] = []
        for e in events {
            switch e.type {
            case .subscribed:
                guard let id = e.subscribed?.frameworkId else { continue }
                if let interval = e.subscribed?.heartbeatIntervalSeconds { mailbox.withLock { $0.heartbeatInterval = interval } }
                masterKillsMany = e.subscribed?.capabilities?.contains(SchedulerEvent.Capability.killMany) == true
                if frameworkId != id {
                    try await repo.setFrameworkId(id)  // before anything runs under this id
                    frameworkId = id
                }
                logger.info("subscribed", metadata: ["framework.id": "\(id)"])
                await execute(core.onSubscribed(now: SteadyClock.instant))
            case .offers:
                offers += e.offers?.offers ?? []
                counters.offers += e.offers?.offers.count ?? 0
            case .update: if let s = e.update?.status { statuses.append(s) }
            case .error: logger.error("master error", metadata: ["message": "\(e.error?.message ?? "")"])
            case .rescind, .heartbeat, .failure: break
            }
        }
        // In slices, with a yield between: one OFFERS event carries every agent's offer (2,000 at
        // once in a large cluster), and the API waits on the actor meanwhile.
        for slice in stride(from: 0, to: statuses.count, by: Self.maxEventsPerTurn) {
            await execute(
                core.onStatusUpdates(
                    Array(statuses[slice..<min(statuses.count, slice + Self.maxEventsPerTurn)]), now: SteadyClock.instant))
            await Task.yield()
        }
        for slice in stride(from: 0, to: offers.count, by: Self.maxEventsPerTurn) {
            let directives = core.onOffers(
                Array(offers[slice..<min(offers.count, slice + Self.maxEventsPerTurn)]), now: SteadyClock.instant)
            counters.count(answers: directives, declineRefusal: core.settings.declineRefusal)
            await execute(directives)
            await Task.yield()
        }
    }

    func tick() async { await execute(core.onTick(now: SteadyClock.instant)) }

    func loadBalancersChanged(_ names: Set<String>) async {
        await execute(core.onLoadBalancersChanged(names, now: SteadyClock.instant))
    }

    func drained(_ ids: [String], by lb: String) async { await execute(core.onDrained(ids, by: lb, now: SteadyClock.instant)) }

    func setLargestAgent(_ r: Resources?) { largestAgent = r }

    func setAgentURLs(_ urls: [String: String]) { agentURLs = urls }

    func hasTask(_ taskId: String) -> Bool { core.tasks[taskId] != nil }

    /// The app a task belongs to, if the task is known.
    func appOf(task taskId: String) -> PathId? { core.tasks[taskId]?.appId }

    /// The API URL of the agent running `taskId`, if both are known.
    func agentURL(forTask taskId: String) -> String? { core.tasks[taskId].flatMap { agentURLs[$0.agentId] } }

    /// Carries out directives in order; a failed write stops the sequence, so nothing is launched
    /// or acknowledged that is not on disk. The batch's events go out either way: they describe
    /// the core's state, which changed whether or not the write held (the API's reads show it too).
    func execute(_ batch: [AppsDirective]) async {
        let (directives, events) = Self.separate(batch)
        // KILLs go to background senders at their place in the sequence (what precedes them is
        // stored) and are not waited for: waiting held the next batch of status updates behind
        // every kill of this one to a busy master. A lost KILL is sent again by the core.
        do {
            var i = directives.startIndex
            while i < directives.endIndex {
                if Self.sentInBackground(directives[i]) {
                    sendInBackground([directives[i]])
                    i += 1
                    continue
                }
                if sendCoalesced(directives[i]) {
                    i += 1
                    continue
                }
                // Runs of ACCEPTs (one per offer) go to the master side by side: one at a time,
                // launching on 2,000 offers took 2,000 round trips in a row.
                var j = i
                while j < directives.endIndex, Self.independent(directives[j]) { j += 1 }
                if j > i + 1 {
                    try await concurrently(Array(directives[i..<j]))
                    i = j
                } else {
                    try await execute(directives[i])
                    i += 1
                }
            }
        } catch {
            logger.error("directive failed; the rest of its sequence is skipped", metadata: ["error": "\(error)"])
        }
        await publish(events)
    }

    /// A batch's work, and the events that close it (`.publish` comes last in every batch).
    static func separate(_ batch: [AppsDirective]) -> (work: [AppsDirective], events: [AppsEvent]) {
        guard let first = batch.firstIndex(where: { if case .publish = $0 { true } else { false } }) else { return (batch, []) }
        let events = batch[first...].compactMap { d -> AppsEvent? in if case .publish(let e) = d { e } else { nil } }
        return (Array(batch[..<first]), events)
    }

    /// Calls whose order among themselves does not matter: launches on different offers.
    private static func independent(_ d: AppsDirective) -> Bool {
        if case .accept = d { true } else { false }
    }

    /// Calls nothing else in a sequence waits for: KILLs. (ACKNOWLEDGEs sent the same way were
    /// measured too, at 2,000 agents: placement 721 → 647/s, kills 751 → 564/s — more calls at once
    /// to a busy master — so they are coalesced instead: `sendCoalesced`.)
    static func sentInBackground(_ d: AppsDirective) -> Bool {
        if case .kill = d { true } else { false }
    }

    /// ACKNOWLEDGE and DECLINE: queued for their sender, merged with whatever else waits for it,
    /// and not waited for. Still in sequence where it matters: an acknowledgement is queued only
    /// once the write before it held (a failed write skips the rest of the sequence). A lost one
    /// costs time only: the agent sends its update again; the master rescinds an offer left open.
    /// False for other directives.
    func sendCoalesced(_ d: AppsDirective) -> Bool {
        switch d {
        case .acknowledge(let acks):
            if acknowledgements.add(acks) { Task { await self.sendAcknowledgements() } }
        case .decline(let offers, let refuse):
            if declines[refuse.seconds, default: Coalesced()].add(offers) { Task { await self.sendDeclines(refuse) } }
        default: return false
        }
        return true
    }

    /// Items per coalesced call: a call stays well under the master's body limit.
    static let maxCoalesced = 5_000

    private func sendAcknowledgements() async {
        while let acks = acknowledgements.next(max: Self.maxCoalesced) {
            do { try await execute(.acknowledge(acks)) } catch {
                logger.debug("ACKNOWLEDGE not delivered; the agents send those updates again", metadata: ["error": "\(error)"])
            }
        }
    }

    private func sendDeclines(_ refuse: Duration) async {
        while let offers = declines[refuse.seconds]?.next(max: Self.maxCoalesced) {
            do { try await execute(.decline(offerIds: offers, refuse: refuse)) } catch {
                logger.debug("DECLINE not delivered; the master rescinds those offers in time", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Queues kills for the background senders: `maxSingleKillsInFlight` calls of one task, or
    /// `maxKillCallsInFlight` calls of up to `maxKillsPerCall` when the master takes several.
    func sendInBackground(_ calls: [AppsDirective]) {
        for case .kill(let taskId, let agentId) in calls { backgroundCalls.append(taskId: taskId, agentId: agentId) }
        let senders = masterKillsMany ? Self.maxKillCallsInFlight : Self.maxSingleKillsInFlight
        while callSenders < senders && callSenders * killsPerCall < backgroundCalls.count {
            callSenders += 1
            Task { await self.sendBackgroundCalls() }
        }
    }

    /// Tasks one KILL call names: several when the master's SUBSCRIBED offered `KILL_MANY`, else one.
    private var killsPerCall: Int { masterKillsMany ? Self.maxKillsPerCall : 1 }

    private func sendBackgroundCalls() async {
        while let (agentId, taskIds) = backgroundCalls.next(max: killsPerCall) {
            do {
                if taskIds.count == 1 {
                    try await execute(.kill(taskId: taskIds[0], agentId: agentId))
                } else if let master, let fid = frameworkId {
                    try await master.call(.kill(fid, taskIds.map { SchedulerCall.Kill(taskId: $0, agentId: agentId) }))
                }
            } catch {
                logger.warning(
                    "KILL not delivered; it is sent again on the retry interval",
                    metadata: ["tasks": "\(taskIds.count)", "error": "\(error)"])
            }
        }
        callSenders -= 1
    }

    /// Sends these calls with at most `maxCallsInFlight` at once; the first failure is rethrown
    /// once all have finished.
    private func concurrently(_ directives: [AppsDirective]) async throws {
        guard let master, let fid = frameworkId else { return }
        let failures = try await withThrowingTaskGroup(of: (Int, (any Error)?).self) { group in
            var next = 0
            var failures: [any Error] = []
            func submit() {
                guard next < directives.count else { return }
                let d = directives[next]
                next += 1
                group.addTask {
                    do {
                        switch d {
                        case .accept(let offer, let tasks, let refuse):
                            Failpoints.hit("launch.intent-persisted")
                            try await master.call(.accept(fid, offerIds: [offer], tasks: tasks, refuseSeconds: refuse.seconds))
                            Failpoints.hit("launch.accepted")
                            return (tasks.count, nil)
                        case .kill(let task, let agent):
                            try await master.call(.kill(fid, taskId: task, agentId: agent))
                        default: break
                        }
                        return (0, nil)
                    } catch { return (0, error) }
                }
            }
            for _ in 0..<Self.maxCallsInFlight { submit() }
            while let (launched, error) = try await group.next() {
                counters.launched += launched
                if let error { failures.append(error) }
                submit()
            }
            return failures
        }
        if let first = failures.first { throw first }
    }

    static let maxCallsInFlight = 16
    /// Without `KILL_MANY` (an older master): one task a call (as in Mesos), this many calls at
    /// once. At 2,000 agents: 16 killed 808 tasks a second, 32 killed 887 (SQLite); on etcd 32
    /// killed 829 and 64 (with a pool of 64 connections) only 526. The cluster pool holds 32.
    static let maxSingleKillsInFlight = 32
    /// With `KILL_MANY`: calls naming up to `maxKillsPerCall` tasks of one agent (`KillQueue`), this
    /// many at once. The count in flight is the back-pressure: 32 calls of 64 tasks taken in queue
    /// order (so on 64 agents each) sent kills faster than master and agents confirmed them,
    /// 30,000 tasks sat in TASK_KILLING and a mass kill of 50,000 (2,000 simulated agents) ran at
    /// 416–489 a second; 4 × 8 ran at 827–922. Grouped by agent, the cost is per agent, not per
    /// task: 4 × 8 killed 1,546 a second, 8 × 8 1,708, 4 × 32 2,170, 8 × 32 1,935.
    static let maxKillCallsInFlight = 4
    static let maxKillsPerCall = 32

    /// Stores deployments that started and removes those that ended, so a restarted framework
    /// continues them under the same ids.
    func syncDeployments() async {
        let current = core.deployments
        let currentIds = Set(current.keys)
        // Only the set matters: a restart re-measures progress from its own start.
        guard currentIds != storedDeployments else { return }
        do {
            try await repo.syncDeployments(current.byId, stored: storedDeployments)
            storedDeployments = currentIds
        } catch {
            logger.warning(
                "could not store deployments; they will be re-created after a restart", metadata: ["error": "\(error)"])
        }
    }

    /// Publishes a batch's events, after the writes before them.
    func publish(_ events: [AppsEvent]) async {
        await syncDeployments()
        counters.deploymentsFailed += events.lazy.filter(\.isDeploymentFailure).count
        // Nobody listening (no stream, no callback): nothing is encoded; each shape only if wanted.
        let listeners = await bus.listeners
        guard !events.isEmpty, listeners.marathon || listeners.pacer else { return }
        let now = SteadyClock.now
        await bus.publish(events.flatMap { EventEncoding.encode($0, at: now, for: listeners) })
    }

    /// Carries out one directive; a failed store write is counted (`pacer_store_write_failures_total`).
    func execute(_ d: AppsDirective) async throws {
        do { try await perform(d) } catch {
            if d.isStoreWrite { counters.storeWriteFailures += 1 }
            throw error
        }
    }

    private func perform(_ d: AppsDirective) async throws {
        if d.isStoreWrite { return try await repo.write(d) }
        switch d {
        case .publish(let event): await publish([event])
        default:
            guard let master, let fid = frameworkId else { return }
            switch d {
            case .accept(let offer, let tasks, let refuse):
                // F13: the intent is stored, the launch not yet asked for; then asked, not yet recorded as running.
                Failpoints.hit("launch.intent-persisted")
                try await master.call(.accept(fid, offerIds: [offer], tasks: tasks, refuseSeconds: refuse.seconds))
                counters.launched += tasks.count
                Failpoints.hit("launch.accepted")
            case .decline(let offers, let refuse):
                try await master.call(.decline(fid, offerIds: offers, refuseSeconds: refuse.seconds))
            case .kill(let task, let agent): try await master.call(.kill(fid, taskId: task, agentId: agent))
            case .acknowledge(let acks): try await master.call(.acknowledge(fid, acks))
            case .revive:
                try await master.call(.revive(fid, revocable: core.wantsRevocable(now: SteadyClock.instant)))
                counters.revives += 1
            case .reconcile(let refs): try await master.call(.reconcile(fid, refs))
            case .persistApp, .deleteApp, .persistTasks, .deleteTasks, .persistCanary, .deleteCanary, .persistGroup, .deleteGroup,
                .publish:
                break  // handled above
            }
        }
    }
}

/// What the stream's reader and the actor share (`Scheduler.mailbox`).
struct Mailbox: Sendable {
    var inbox = SchedulerInbox()
    var lastEvent = SteadyClock.now
    /// The master's HEARTBEAT period, from SUBSCRIBED; the stream is dead after a few silent ones.
    var heartbeatInterval: Double = 5
}
