import Foundation
import PacerAppsCore
import PacerModel
import PacerServerKit

/// Marathon's group API over the core: `/v2/groups`.
extension Scheduler {
    /// The group as `/v2/groups/{id}` shows it: its apps, its subgroups (recursively), its
    /// dependencies; nil when no app or explicit group is at or below that path.
    func groupView(_ id: PathId) -> GroupView? {
        let ids = core.groupIds
        guard ids.contains(id) else { return nil }
        return view(of: id, among: ids)
    }

    private func view(of id: PathId, among ids: Set<PathId>) -> GroupView {
        let apps = core.apps.values.filter { $0.id.parent == id }.sorted { $0.id < $1.id }
            .map { RequestPrincipal.showsSecrets ? $0 : $0.redactingSecrets() }
        let subgroups = ids.filter { !$0.isRoot && $0.parent == id && $0 != id }.sorted()
        let record = core.groups[id]
        let version =
            ([record?.version] + core.apps(under: id).map(\.version)).compactMap { $0 }.max() ?? Timestamp.string(SteadyClock.now)
        return GroupView(
            id: id, apps: apps, groups: subgroups.map { view(of: $0, among: ids) }, dependencies: record?.dependencies ?? [],
            version: version)
    }

    /// POST /v2/groups: a new group (409 when the path is taken).
    func createGroup(_ spec: GroupSpec, force: Bool) async throws(APIError) -> DeploymentResult {
        if core.groupIds.contains(spec.id) || core.apps[spec.id] != nil {
            throw APIError(status: 409, message: "Group '\(spec.id)' already exists; change it with PUT /v2/groups\(spec.id)")
        }
        return try await changeGroup(spec, force: force)
    }

    /// PUT /v2/groups/{id}: `scaleBy`, a `version` to go back to, or the group's new contents.
    func updateGroup(_ spec: GroupSpec, force: Bool) async throws(APIError) -> DeploymentResult {
        if let factor = spec.scaleBy {
            let now = SteadyClock.instant
            let (deploymentId, directives) = try core.scaleGroup(spec.id, by: factor, now: now, force: force)
            try await commit(directives)
            await keepVersion(of: spec.id, at: now)
            return DeploymentResult(version: Timestamp.string(now), deploymentId: deploymentId)
        }
        if let version = spec.version { return try await revertGroup(spec.id, to: version, force: force) }
        return try await changeGroup(spec, force: force)
    }

    func revertGroup(_ id: PathId, to version: String, force: Bool) async throws(APIError) -> DeploymentResult {
        let snapshot: Data?
        do { snapshot = try await repo.groupVersions(of: id)[version] } catch {
            throw APIError(status: 503, message: "the state store did not answer: \(error); retry")
        }
        guard let snapshot else { throw APIError.notFound("Group '\(id)' has no version \(version)") }
        var spec = try GroupSpec.request(from: snapshot, at: id)
        spec.version = nil
        return try await changeGroup(spec, force: force)
    }

    private func changeGroup(_ spec: GroupSpec, force: Bool) async throws(APIError) -> DeploymentResult {
        let coming = Set(spec.allApps.map(\.id))
        for app in spec.allApps { try validate(app, alsoComing: coming) }
        let now = SteadyClock.instant
        let (deploymentId, directives) = try core.putGroup(spec, now: now, force: force)
        try await commit(directives)
        await keepVersion(of: spec.id, at: now)
        for app in spec.allApps {
            if let stored = core.apps[app.id] { await announce(Announcement(app: stored, uri: "/v2/groups\(spec.id)")) }
        }
        return DeploymentResult(version: Timestamp.string(now), deploymentId: deploymentId)
    }

    /// The group as it is now, kept for GET …/versions and PUT {"version"}. Best effort: the change
    /// itself is stored already; a lost snapshot loses only that one way back.
    private func keepVersion(of id: PathId, at now: Instant) async {
        guard let view = groupView(id), let data = try? JSONEncoder().encode(view) else { return }
        try? await repo.putGroupVersion(id, version: Timestamp.string(now), data)
    }

    func removeGroup(_ id: PathId, force: Bool) async throws(APIError) -> DeploymentResult {
        let (deploymentId, directives) = try core.removeGroup(id, now: SteadyClock.instant, force: force)
        try await commit(directives)
        return DeploymentResult(version: Timestamp.string(SteadyClock.now), deploymentId: deploymentId)
    }

    func groupVersions(_ id: PathId) async throws(APIError) -> [String] {
        do { return try await repo.groupVersions(of: id).keys.sorted(by: >) } catch {
            throw APIError(status: 503, message: "the state store did not answer: \(error); retry")
        }
    }

    func groupVersion(_ id: PathId, _ version: String) async throws(APIError) -> Data? {
        do { return try await repo.groupVersions(of: id)[version] } catch {
            throw APIError(status: 503, message: "the state store did not answer: \(error); retry")
        }
    }
}
