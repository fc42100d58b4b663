import CLibevent
import Foundation
import Logging
import PacerLBCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How the control side talks to a worker thread: a routing snapshot in a slot, and an eventfd
/// that wakes the worker's loop to take it. The lock is taken once per snapshot, never per request.
final class WorkerMailbox: Sendable {
    let fd: Int32
    /// The next snapshot, whether to stop, and (set by the worker) whether its loop has ended.
    let slot = Mutex<(table: RoutingTable?, version: Int, stop: Bool, finished: Bool)>((nil, 0, false, false))
    /// The table version this worker has applied, and the tasks it still has requests or
    /// connections with (refreshed on apply and twice a second): what draining waits for.
    let applied = Mutex<(version: Int, busy: Set<String>)>((0, []))
    let stats = Mutex(WorkerStats())
    let services = Mutex<[Int: ServiceCounters]>([:])
    /// The worker's listening sockets by port, for a successor to take over (control plane only).
    let listening = Mutex<[Int: [Int32]]>([:])

    init() { fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }

    func post(_ table: RoutingTable, version: Int = 0) {
        slot.withLock {
            $0.table = table
            $0.version = version
        }
        eventfd_write(fd, 1)
    }

    /// This worker runs `version` (or later) and has nothing open with any of `tasks`.
    func settled(_ version: Int, _ tasks: Set<String>) -> Bool {
        applied.withLock { $0.version >= version && $0.busy.isDisjoint(with: tasks) }
    }

    func stop() {
        slot.withLock { $0.stop = true }
        eventfd_write(fd, 1)
    }
}

/// Statistics a worker publishes for the admin endpoint (read under a lock, off the data path).
struct WorkerStats: Sendable {
    var accepted = 0
    var active = 0
    var refused = 0
    var connectFailures = 0
}

/// One thread, one `event_base`, its own SO_REUSEPORT listeners; the kernel spreads connections.
/// Everything here is touched only by this worker's thread.
final class Worker {
    let base: OpaquePointer
    let settings: LBConfig
    let mailbox: WorkerMailbox
    let logger: Logger
    var table = RoutingTable()
    var listeners: [Int: [OpaquePointer]] = [:]
    /// Listening sockets handed over by a predecessor, this worker's share, until adopted.
    var inherited: [Int: [Int32]]
    var routes: [Int: WorkerRoute] = [:]
    var cells: [Int: ServiceCell] = [:]
    var relays: [ObjectIdentifier: TCPRelay] = [:]
    var sessions: [ObjectIdentifier: HTTPSession] = [:]
    var pool: UpstreamPool
    var local = WorkerStats()
    var mailboxEvent: OpaquePointer?
    var statsEvent: OpaquePointer?
    var stopping = false
    /// Certificates for the HTTPS listener (nil without one).
    let tls: TLSContexts?

    /// libevent's common timeouts: events sharing a duration wait in one queue instead of the
    /// timer heap, so re-arming an idle or request deadline on every read is O(1). The durations
    /// are the configured timeouts, a handful, well under libevent's 256 per base.
    var commonTimeouts: [Double: UnsafePointer<Glibc.timeval>] = [:]

    func timeout(_ seconds: Double) -> UnsafePointer<Glibc.timeval> {
        if let t = commonTimeouts[seconds] { return t }
        var tv = Sockets.timeval(seconds)
        let t =
            event_base_init_common_timeout(base, &tv)
            ?? {
                let own = UnsafeMutablePointer<Glibc.timeval>.allocate(capacity: 1)  // kept for the worker's life
                own.initialize(to: tv)
                return UnsafePointer(own)
            }()
        commonTimeouts[seconds] = t
        return t
    }

    init(settings: LBConfig, mailbox: WorkerMailbox, logger: Logger, inherited: [Int: [Int32]] = [:]) {
        base = event_base_new()
        self.inherited = inherited
        // Checked once before the workers start (LBService), so a failure here is not expected.
        tls = settings.httpsPort > 0 ? try? TLSContexts(settings.certificates) : nil
        self.settings = settings
        self.mailbox = mailbox
        self.logger = logger
        pool = UpstreamPool(limit: settings.limits.idleUpstreams, idleSeconds: settings.timeouts.upstreamIdle)
    }

    func count(_ change: (inout WorkerStats) -> Void) { change(&local) }

    deinit { event_base_free(base) }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var connections: Int { relays.count + sessions.count }

    /// Seconds on the loop's cached clock (no syscall).
    /// Monotonic seconds, for the connections' deadlines (a wall-clock step must not fire or
    /// hold back every timeout at once: F14).
    func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1_000_000_000
    }

    func now() -> Double {
        var tv = Glibc.timeval()
        event_base_gettimeofday_cached(base, &tv)
        return Double(tv.tv_sec) + Double(tv.tv_usec) / 1_000_000
    }

    /// Runs the loop until told to stop and every connection has ended.
    func run() {
        mailboxEvent = event_new(
            base, mailbox.fd, Int16(EV_READ | EV_PERSIST),
            { _, _, ctx in
                Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().takeMail()
            }, context)
        event_add(mailboxEvent, nil)
        // Counters leave the thread twice a second, so the request path never takes a lock.
        statsEvent = event_new(
            base, -1, Int16(EV_PERSIST),
            { _, _, ctx in
                Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().publishStats()
            }, context)
        var half = Sockets.timeval(0.5)
        event_add(statsEvent, &half)
        takeMail()
        event_base_dispatch(base)
        publishStats()
        event_free(mailboxEvent)
        event_free(statsEvent)
        closeListeners()
        pool.closeAll()
    }

    private func publishStats() {
        let (stats, services) = (local, cells.mapValues(\.snapshot))
        mailbox.stats.withLock { $0 = stats }
        mailbox.services.withLock { $0 = services }
        publishBusy()
    }

    /// The tasks this worker has requests or connections in progress with.
    private func publishBusy(version: Int? = nil) {
        var busy = Set<String>()
        for s in sessions.values { if let ex = s.exchange { busy.insert(ex.backend.taskId) } }
        for r in relays.values { if let b = r.backend { busy.insert(b.taskId) } }
        mailbox.applied.withLock { a in
            if let version { a.version = version }
            a.busy = busy
        }
    }

    private func takeMail() {
        var counter: eventfd_t = 0
        eventfd_read(mailbox.fd, &counter)
        let (table, version, stop) = mailbox.slot.withLock { s -> (RoutingTable?, Int, Bool) in
            defer { s.table = nil }
            return (s.table, s.version, s.stop)
        }
        if let table {
            apply(table)
            publishBusy(version: version)
        }
        if stop && !stopping { beginStop() }
    }

    /// Graceful stop: no new connections; requests in flight finish, idle keep-alive connections
    /// close at their next request boundary.
    private func beginStop() {
        stopping = true
        closeListeners()
        pool.closeAll()
        // Idle keep-alive connections get a last moment: a request arriving now is answered with
        // `Connection: close`; one that stays idle is closed at this request boundary.
        for session in Array(sessions.values) { session.stopping() }
        stopIfIdle()
    }

    private func closeListeners() {
        for ls in listeners.values { for l in ls { evconnlistener_free(l) } }
        listeners = [:]
        for fds in inherited.values { for fd in fds { close(fd) } }
        inherited = [:]
        mailbox.listening.withLock { $0 = [:] }
    }

    private func stopIfIdle() {
        if stopping && relays.isEmpty && sessions.isEmpty { event_base_loopbreak(base) }
    }

    /// The ports this worker listens on for a routing table.
    private func wantedPorts(_ t: RoutingTable) -> Set<Int> {
        var ports = Set(t.services.keys)
        if settings.httpPort > 0 { ports.insert(settings.httpPort) }
        if settings.httpsPort > 0 && tls != nil { ports.insert(settings.httpsPort) }
        if settings.frameworkVIP > 0 { ports.insert(settings.frameworkVIP) }
        return ports
    }

    /// Takes a new snapshot: opens listeners for new service ports, closes those of removed ones.
    /// Open connections are never touched; pooled connections to departed backends are closed.
    func apply(_ new: RoutingTable) {
        let old = table
        table = new
        // Only the services that changed are looked at: discovery hands unchanged services over
        // with the same backend arrays, so comparing them costs nothing. Sets of every backend on
        // every table (50,000 at scale) held a worker for up to a second per update (issue 12).
        let changed = RoutingTable.changedPorts(from: old, to: new)
        var departed = Set<Backend>()
        var staying = Set<Backend>()
        for port in changed {
            if let s = old.services[port] { departed.formUnion(s.backends) }
            if let s = new.services[port] { staying.formUnion(s.backends) }
        }
        pool.drop(departed.subtracting(staying))
        guard !stopping else { return }
        let wanted = wantedPorts(new)
        for port in listeners.keys where !wanted.contains(port) {
            for l in listeners.removeValue(forKey: port) ?? [] { evconnlistener_free(l) }
        }
        for port in wanted where listeners[port] == nil {
            let ls = (inherited.removeValue(forKey: port) ?? []).compactMap(adopt)
            if !ls.isEmpty { listeners[port] = ls } else if let l = listen(port) { listeners[port] = [l] }
        }
        // Inherited sockets for ports no longer routed are closed, like any removed listener.
        for fds in inherited.values { for fd in fds { close(fd) } }
        inherited = [:]
        let fds = listeners.mapValues { $0.map { evconnlistener_get_fd($0) } }
        mailbox.listening.withLock { $0 = fds }
        for port in changed {
            cells[port]?.keepBackends(Set(new.services[port]?.backends ?? []))
            guard let service = new.services[port] else {
                routes[port] = nil
                continue
            }
            let balancer =
                routes[port].flatMap { $0.service.balance == service.balance ? $0.balancer : nil }
                ?? Balancers.make(service.balance)
            routes[port] = WorkerRoute(service: service, balancer: balancer, cell: cell(port))
        }
    }

    static let listenerFlags = UInt32(LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)

    /// Takes over a listening socket from a predecessor; its queued connections come with it.
    func adopt(_ fd: Int32) -> OpaquePointer? {
        evutil_make_socket_nonblocking(fd)
        let l = evconnlistener_new(
            base,
            { _, fd, sa, _, ctx in
                Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().accepted(fd, sa)
            }, context, Self.listenerFlags, 0, fd)
        if l == nil { close(fd) } else { evconnlistener_set_error_cb(l, nil) }
        return l
    }

    func listen(_ port: Int) -> OpaquePointer? {
        guard var addr = Sockets.address(settings.bind, port) else { return nil }
        let flags = Self.listenerFlags
        let listener = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                evconnlistener_new_bind(
                    base,
                    { _, fd, sa, _, ctx in
                        Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().accepted(fd, sa)
                    }, context, flags, 1024, $0, Int32(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard let listener else {
            logger.error("cannot listen", metadata: ["port": "\(port)", "error": "\(String(cString: strerror(errno)))"])
            return nil
        }
        evconnlistener_set_error_cb(listener, nil)
        return listener
    }

    func accepted(_ fd: Int32, _ sa: UnsafeMutablePointer<sockaddr>?) {
        let port = Sockets.localPort(fd)
        guard connections < settings.limits.maxConnections else { return refuse(fd) }
        if port == settings.httpPort {
            return startSession(fd, sa, entry: .virtualHost, port: port)
        }
        if port == settings.httpsPort, let tls {
            guard let connection = TLSConnection(tls, fd: fd) else { return refuse(fd) }
            return startSession(fd, sa, entry: .virtualHost, port: port, tls: connection)
        }
        if port == settings.frameworkVIP {
            return startRelay(fd, sa, service: port, backends: table.frameworks, picked: nil)
        }
        guard let route = routes[port] else { return refuse(fd) }
        if route.service.mode == .http { return startSession(fd, sa, entry: .service(port), port: port) }
        guard let (first, _) = route.pick(client: Sockets.clientKey(sa), cookie: nil) else {
            route.cell.started()
            route.cell.finished()
            return refuse(fd)  // no backend: in TCP mode the only answer is a closed connection
        }
        startRelay(fd, sa, service: port, backends: [first] + route.alternates(excluding: first), picked: first)
    }

    func refuse(_ fd: Int32) {
        local.refused += 1
        close(fd)
    }

    private func startSession(
        _ fd: Int32, _ sa: UnsafeMutablePointer<sockaddr>?, entry: HTTPSession.Entry, port: Int,
        tls: TLSConnection? = nil
    ) {
        let session = HTTPSession(worker: self, client: fd, entry: entry, peer: sa, localPort: port, tls: tls)
        sessions[ObjectIdentifier(session)] = session
        local.accepted += 1
        local.active += 1
        session.start()
    }

    private func startRelay(
        _ fd: Int32, _ sa: UnsafeMutablePointer<sockaddr>?, service: Int, backends: [Backend], picked: Backend?
    ) {
        guard !backends.isEmpty else { return refuse(fd) }
        let relay = TCPRelay(worker: self, service: service, client: fd, candidates: backends)
        relays[ObjectIdentifier(relay)] = relay
        local.accepted += 1
        local.active += 1
        cell(service).started()
        relay.start()
    }

    /// The counters of a service port (kept when the port leaves the table, so totals never drop).
    func cell(_ port: Int) -> ServiceCell {
        if let c = cells[port] { return c }
        let c = ServiceCell()
        cells[port] = c
        return c
    }

    /// A connection to `backend` for an HTTP request: a pooled one unless `fresh`, else a new one.
    func upstream(to backend: Backend, service: Int, fresh: Bool = false) -> Upstream? {
        if !fresh, let up = pool.take(backend) { return up }
        return Upstream(worker: self, backend: backend, service: service)
    }

    func released(_ up: Upstream, reusable: Bool) {
        if reusable && !stopping { pool.put(up) } else { up.close() }
    }

    func upstreamClosed(_ up: Upstream) {}

    /// An HTTP exchange is over: its counters and its balancer pick are released.
    func ended(_ ex: HTTPSession.Exchange) {
        ex.route.cell.finished()
        if let picked = ex.picked { ex.route.balancer.released(picked) }
    }

    /// A balancer's pick is done with (least-connections counts).
    func released(_ port: Int, _ backend: Backend, failed: Bool) {
        if failed {
            local.connectFailures += 1
            cell(port).connectFailed()
            cell(port).backend(backend).failed()
        }
        routes[port]?.balancer.released(backend)
    }

    func finished(_ relay: TCPRelay) {
        relays[ObjectIdentifier(relay)] = nil
        local.active -= 1
        cell(relay.service).finished()
        stopIfIdle()
    }

    func finished(_ session: HTTPSession) {
        sessions[ObjectIdentifier(session)] = nil
        local.active -= 1
        stopIfIdle()
    }
}
