#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Foundation
import Logging
import PacerLBCore
import Synchronization

/// How the control side talks to a worker thread: a routing snapshot in a slot, and an eventfd
/// that wakes the worker's loop to take it. The lock is taken once per snapshot, never per request.
final class WorkerMailbox: Sendable {
    let fd: Int32
    /// The next snapshot, whether to stop, and (set by the worker) whether its loop has ended.
    let slot = Mutex<(table: RoutingTable?, stop: Bool, finished: Bool)>((nil, false, false))
    let stats = Mutex(WorkerStats())

    init() { fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }

    func post(_ table: RoutingTable) {
        slot.withLock { $0.table = table }
        eventfd_write(fd, 1)
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
    var listeners: [Int: OpaquePointer] = [:]
    var balancers: [Int: (BalanceAlgorithm, any Balancer)] = [:]
    var relays: [ObjectIdentifier: TCPRelay] = [:]
    var mailboxEvent: OpaquePointer?
    var stopping = false

    init(settings: LBConfig, mailbox: WorkerMailbox, logger: Logger) {
        base = event_base_new()
        self.settings = settings
        self.mailbox = mailbox
        self.logger = logger
    }

    func count(_ change: (inout WorkerStats) -> Void) { mailbox.stats.withLock { change(&$0) } }

    deinit { event_base_free(base) }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Runs the loop until told to stop and every connection has ended.
    func run() {
        mailboxEvent = event_new(base, mailbox.fd, Int16(EV_READ | EV_PERSIST), { _, _, ctx in
            Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().takeMail()
        }, context)
        event_add(mailboxEvent, nil)
        takeMail()
        event_base_dispatch(base)
        event_free(mailboxEvent)
        for l in listeners.values { evconnlistener_free(l) }
        listeners = [:]
    }

    func takeMail() {
        var counter: eventfd_t = 0
        eventfd_read(mailbox.fd, &counter)
        let (table, stop) = mailbox.slot.withLock { s -> (RoutingTable?, Bool) in
            defer { s.table = nil }
            return (s.table, s.stop)
        }
        if let table { apply(table) }
        if stop && !stopping {
            stopping = true
            // Graceful stop: no new connections; existing ones finish on their own.
            for l in listeners.values { evconnlistener_free(l) }
            listeners = [:]
            if relays.isEmpty { event_base_loopbreak(base) }
        }
    }

    /// Takes a new snapshot: opens listeners for new service ports, closes those of removed ones.
    /// Open connections are never touched.
    func apply(_ new: RoutingTable) {
        table = new
        guard !stopping else { return }
        for port in listeners.keys where new.services[port] == nil {
            evconnlistener_free(listeners.removeValue(forKey: port))
            balancers[port] = nil
        }
        for port in new.services.keys where listeners[port] == nil {
            guard var addr = Sockets.address(settings.bind, port) else { continue }
            let flags = UInt32(LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
            let listener = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    evconnlistener_new_bind(base, { _, fd, sa, _, ctx in
                        Unmanaged<Worker>.fromOpaque(ctx!).takeUnretainedValue().accepted(fd, sa)
                    }, context, flags, 1024, $0, Int32(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard let listener else {
                logger.error("cannot listen", metadata: ["port": "\(port)", "error": "\(String(cString: strerror(errno)))"])
                continue
            }
            evconnlistener_set_error_cb(listener, nil)
            listeners[port] = listener
        }
        for (port, service) in new.services where balancers[port]?.0 != service.balance {
            balancers[port] = (service.balance, Balancers.make(service.balance))
        }
    }

    func accepted(_ fd: Int32, _ sa: UnsafeMutablePointer<sockaddr>?) {
        var local = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let port = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
        } ? Int(UInt16(bigEndian: local.sin_port)) : 0
        guard let service = table.services[port], relays.count < settings.limits.maxConnections,
              var entry = balancers[port] else {
            count { $0.refused += 1 }
            close(fd)
            return
        }
        // The first pick, then the others in turn: a refused connect moves on to the next backend.
        let key = Sockets.clientKey(sa)
        var order: [Backend] = []
        if let first = entry.1.pick(service.backends, client: key) {
            order = [first] + service.backends.filter { $0 != first }.prefix(2)
        }
        balancers[port] = entry
        guard !order.isEmpty else {
            count { $0.refused += 1 }
            close(fd)  // no backend: in TCP mode the only answer is a closed connection
            return
        }
        let relay = TCPRelay(worker: self, service: port, client: fd, candidates: order)
        relays[ObjectIdentifier(relay)] = relay
        count { $0.accepted += 1; $0.active += 1 }
        relay.start()
    }

    func released(_ port: Int, _ backend: Backend, failed: Bool) {
        if failed { count { $0.connectFailures += 1 } }
        if var entry = balancers[port] {
            entry.1.released(backend)
            balancers[port] = entry
        }
    }

    func finished(_ relay: TCPRelay) {
        relays[ObjectIdentifier(relay)] = nil
        count { $0.active -= 1 }
        if stopping && relays.isEmpty { event_base_loopbreak(base) }
    }
}
