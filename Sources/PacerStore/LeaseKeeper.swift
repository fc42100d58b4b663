import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Renews a leader's lease on a thread of its own, with blocking calls answered on the HTTP
/// client's event loops. A renewal must not wait for Swift's cooperative thread pool: a leader
/// busy placing 50,000 tasks kept both of its threads occupied past its 2 s lease and lost it
/// (issue 12). The deadline is kept on the monotonic clock from when a renewal was *sent*.
final class LeaseKeeper: Sendable {
    private struct State {
        var deadline: ContinuousClock.Instant
        var stopped = false
    }
    private let state: Mutex<State>
    private let endpoints: [String]
    private let client: HTTPClient
    private let lease: String
    private let ttl: Int

    init(endpoints: [String], client: HTTPClient, lease: String, ttl: Int, deadline: ContinuousClock.Instant) {
        self.endpoints = endpoints
        self.client = client
        self.lease = lease
        self.ttl = ttl
        state = Mutex(State(deadline: deadline))
    }

    var deadline: ContinuousClock.Instant { state.withLock { $0.deadline } }

    func stop() { state.withLock { $0.stopped = true } }

    /// Renews every sixth of the TTL until stopped or the deadline passes; then calls `ended`
    /// (with true if leadership was lost, false if stopped). A sixth, not etcd's customary third:
    /// killing etcd's leader member stalls every keepalive until the members elect another (up to
    /// 1.6 s measured here), and a lease last renewed a third of a 2 s TTL before that had only
    /// 1.3 s left — both leaders lost their leases in F6 about one run in four.
    func start(ended: @escaping @Sendable (Bool) -> Void) {
        let thread = Thread { [self] in
            var member = 0
            var pause = Double(ttl) / 6
            while true {
                // Never sleeps past the deadline: a failed renewal is retried soon, and the end of
                // the lease is noticed when it comes, not a renewal interval later.
                let left = self.deadline - ContinuousClock.now
                let leftSeconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
                Thread.sleep(forTimeInterval: max(0, min(pause, leftSeconds)))
                if state.withLock({ $0.stopped }) { return ended(false) }
                let sent = ContinuousClock.now
                let deadline = self.deadline
                guard sent < deadline else { return ended(true) }
                var renewed = false
                for attempt in 0..<endpoints.count where ContinuousClock.now < deadline {
                    if renew(endpoints[(member + attempt) % endpoints.count], until: deadline) {
                        member = (member + attempt) % endpoints.count
                        renewed = true
                        break
                    }
                }
                if renewed {
                    state.withLock { $0.deadline = sent + .seconds(ttl) }
                    pause = Double(ttl) / 6
                } else if ContinuousClock.now >= deadline {
                    return ended(!state.withLock { $0.stopped })
                } else {
                    pause = 0.1
                }
            }
        }
        thread.name = "pacer-lease"
        thread.start()
    }

    /// One keepalive to one member, waited for here at most a quarter of the TTL (never past the
    /// deadline); true if the lease lives. A member without an etcd leader (the leader member was
    /// just killed) holds a keepalive until its own timeout: one attempt waiting out the whole lease
    /// never reached the other members, nor this one again once the election (0.5 s) was over,
    /// and both leaders lost their leases in F6 once in four runs.
    private func renew(_ endpoint: String, until deadline: ContinuousClock.Instant) -> Bool {
        let left = min(deadline - ContinuousClock.now, .milliseconds(ttl * 250))
        let nanos = left.components.seconds * 1_000_000_000 + left.components.attoseconds / 1_000_000_000
        guard nanos > 0, var request = try? HTTPClient.Request(url: endpoint + "/v3/lease/keepalive", method: .POST) else {
            return false
        }
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .string(#"{"ID":"\#(lease)"}"#)
        guard let response = try? client.execute(request: request, deadline: .now() + .nanoseconds(nanos)).wait(),
            response.status == .ok, let body = response.body
        else { return false }
        struct KeepAlive: Decodable {
            struct R: Decodable { var TTL: String? }
            var result: R?
        }
        let answer = try? JSONDecoder().decode(KeepAlive.self, from: Data(body.readableBytesView))
        return (answer?.result?.TTL.flatMap { Int($0) } ?? 0) > 0
    }
}
