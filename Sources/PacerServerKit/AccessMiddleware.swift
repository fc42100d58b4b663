import Crypto
import Foundation
import Hummingbird
import NIOCore
import PacerModel
import Synchronization

/// The principal a request was authenticated as, for handlers that check the apps a body names
/// or filter what they list. nil: the API has no authentication configured (everything allowed).
public enum RequestPrincipal {
    @TaskLocal public static var current: Principal?

    /// Whether the request may change `app` (true without authentication).
    public static func mayChange(_ app: PathId) -> Bool { current?.mayChange(app) ?? true }
    public static func mayRead(_ app: PathId) -> Bool { current?.mayRead(app) ?? true }
    /// Whether env values that look like secrets are shown (to admins, and without authentication).
    public static var showsSecrets: Bool { current.map { $0.role == .admin } ?? true }

    /// Throws 403 unless the request may read every one of `apps` (a group: the principal's
    /// paths must cover it, or it would see apps it may not).
    public static func requireRead(_ apps: some Sequence<PathId>) throws(APIError) {
        guard let p = current, !p.readsAll else { return }
        for app in apps where !p.paths.contains(where: { $0.contains(app) }) {
            throw APIError(
                status: 403,
                message:
                    "\(p.name) (\(p.role.rawValue)) may not read \(app): ask for what is under \(p.paths.map(\.description).joined(separator: ", "))"
            )
        }
    }

    /// Throws 403 unless the request may change every one of `apps`.
    public static func requireChange(_ apps: some Sequence<PathId>) throws(APIError) {
        guard let p = current else { return }
        for app in apps where !p.mayChange(app) {
            throw APIError(status: 403, message: "\(p.name) (\(p.role.rawValue)) may not change \(app)")
        }
    }
}

/// A request context that knows the client's address (failed logins are counted per address).
public struct PacerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Authenticates against the principals and remembers what verified (bcrypt is slow on purpose),
/// and counts failed attempts per client address.
public final class Authenticator: Sendable {
    private let principals: Principals
    /// Failed attempts an address may make per window before it is refused for the rest of it.
    public let failureLimit: Int
    public let window: Duration
    private struct State {
        /// SHA-256 of an `Authorization` header that verified → who, and until when it is trusted.
        var verified: [[UInt8]: (principal: Principal, until: ContinuousClock.Instant)] = [:]
        var failures: [String: (count: Int, since: ContinuousClock.Instant)] = [:]
    }
    private let state = Mutex(State())

    public init(_ principals: Principals, failureLimit: Int = 10, window: Duration = .seconds(60)) {
        self.principals = principals
        self.failureLimit = failureLimit
        self.window = window
    }

    public enum Outcome: Sendable, Equatable {
        case authenticated(Principal)
        case refused
        /// Too many failures from this address: refused without looking at the credentials.
        case throttled(retryAfter: Int)
    }

    /// Throttling stops guessing, so it counts only credentials that were wrong — a request
    /// without any (a probe, a browser before its login prompt) is refused but not counted — and
    /// a header that verified before still passes: a throttled address shared with an attacker
    /// (NAT, a proxy) does not lock out the people already signed in. A right password not seen
    /// before still waits out the window, so a guess that happens to be right is not confirmed.
    public func authenticate(_ header: String?, from address: String) -> Outcome {
        let now = ContinuousClock.now
        guard let header else { return .refused }
        let key = Array(SHA256.hash(data: Array(header.utf8)))
        if let hit = state.withLock({ $0.verified[key] }), hit.until > now { return .authenticated(hit.principal) }
        if let wait = throttled(address, now) { return .throttled(retryAfter: wait) }
        guard let credential = Principals.Credential(header: header), let principal = principals.verify(credential) else {
            return failed(address, now)
        }
        state.withLock { s in
            if s.verified.count > 10_000 { s.verified.removeAll() }  // bounded, whatever the callers send
            s.verified[key] = (principal, now + .seconds(300))
        }
        return .authenticated(principal)
    }

    private func throttled(_ address: String, _ now: ContinuousClock.Instant) -> Int? {
        state.withLock { s in
            guard let f = s.failures[address] else { return nil }
            if now - f.since > window {
                s.failures[address] = nil
                return nil
            }
            guard f.count >= failureLimit else { return nil }
            return max(1, Int((window - (now - f.since)).components.seconds))
        }
    }

    private func failed(_ address: String, _ now: ContinuousClock.Instant) -> Outcome {
        state.withLock { s in
            if s.failures.count > 10_000 { s.failures.removeAll() }
            let f = s.failures[address] ?? (0, now)
            s.failures[address] = (f.count + 1, f.since)
        }
        return .refused
    }
}

/// Every request but `/ping` is authenticated (HTTP Basic or a bearer token), then allowed or
/// refused by its principal's role (`Access.decide`); the handler runs with the principal in
/// `RequestPrincipal.current`. 401 with `WWW-Authenticate` when unauthenticated, 403 when not
/// allowed, 429 after too many failures from one address.
public struct AccessMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    private let authenticator: Authenticator
    private static var open: Set<String> { ["/ping"] }

    public init(_ authenticator: Authenticator) { self.authenticator = authenticator }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        switch authenticator.authenticate(request.headers[.authorization], from: address) {
        case .throttled(let retryAfter):
            var r = JSONResponse.error(APIError(status: 429, message: "too many failed logins from \(address); retry later"))
            r.headers[.retryAfter] = "\(retryAfter)"
            return r
        case .refused:
            var r = JSONResponse.error(APIError(status: 401, message: "credentials required (HTTP Basic or a bearer token)"))
            r.headers[.wwwAuthenticate] = #"Basic realm="Pacer", Bearer realm="Pacer""#
            return r
        case .authenticated(let principal):
            switch Access.decide(principal, method: request.method.rawValue, path: request.uri.path) {
            case .deny(let why): return JSONResponse.error(APIError(status: 403, message: why))
            case .allow, .checkInHandler:
                return try await RequestPrincipal.$current.withValue(principal) { try await next(request, context) }
            }
        }
    }
}
