import Foundation

/// Marathon's group (`/v2/groups`) as a client sends it, every id made absolute: a node of the
/// app tree with its apps, subgroups and dependencies. A field left out (nil) leaves that part of
/// the stored group as it is; given, it replaces it (apps or subgroups not listed are removed).
public struct GroupSpec: Sendable, Equatable {
    public var id: PathId
    public var apps: [AppDefinition]?
    public var groups: [GroupSpec]?
    public var dependencies: [PathId]?
    /// `PUT {"scaleBy": f}`: every app below the group scaled by f (rounded up).
    public var scaleBy: Double?
    /// `PUT {"version": v}`: the group as it was at that version.
    public var version: String?

    public init(id: PathId, apps: [AppDefinition]? = nil, groups: [GroupSpec]? = nil, dependencies: [PathId]? = nil) {
        self.id = id
        self.apps = apps
        self.groups = groups
        self.dependencies = dependencies
    }

    static let fields: Set<String> = ["id", "apps", "groups", "dependencies", "scaleBy", "version", "pods", "enforceRole"]

    /// Decodes a request body. `at`: the group the URL names (PUT), nil for POST (the body's id,
    /// relative to the root). Errors name the field by its path in the body (`/groups/0/apps/1/cpus`).
    public static func request(from data: Data, at: PathId?) throws(APIError) -> GroupSpec {
        let object = try JSONBody.object(data)
        let id: PathId
        if let at {
            id = at
            if let given = object["id"] as? String, (try? PathId(given, in: at.parent)) != at, (try? PathId(group: given)) != at {
                throw APIError.invalid([FieldError(path: "/id", "the id in the body (\(given)) differs from the URL's (\(at))")])
            }
        } else {
            guard let raw = object["id"] as? String else { throw APIError.invalid([FieldError(path: "/id", "is required")]) }
            do { id = raw.hasPrefix("/") ? try PathId(group: raw) : try PathId(raw, in: .root) } catch {
                throw APIError.invalid([FieldError(path: "/id", error.message)])
            }
        }
        return try parse(object, id: id, path: "")
    }

    static func parse(_ o: [String: Any], id: PathId, path: String) throws(APIError) -> GroupSpec {
        var errors: [FieldError] = []
        for key in o.keys.sorted() where !fields.contains(key) {
            errors.append(
                FieldError(
                    path: "\(path)/\(key)", "unknown field: a group has id, apps, groups, dependencies, scaleBy and version"))
        }
        if let pods = o["pods"], !((pods as? [Any])?.isEmpty ?? (pods is NSNull)) {
            errors.append(FieldError(path: "\(path)/pods", "pods are not supported (leave pods empty)"))
        }
        if let enforce = o["enforceRole"], !(enforce is NSNull), (enforce as? Bool) != false {
            errors.append(
                FieldError(
                    path: "\(path)/enforceRole", "enforceRole is not supported: give apps their `role` (leave enforceRole false)")
            )
        }
        if !errors.isEmpty { throw .invalid(errors) }
        var spec = GroupSpec(id: id)
        if let raw = o["dependencies"], !(raw is NSNull) {
            guard let list = raw as? [String] else {
                throw .invalid([FieldError(path: "\(path)/dependencies", "expected an array of ids")])
            }
            var deps: [PathId] = []
            for (i, d) in list.enumerated() {
                do { deps.append(try PathId(d, in: id.parent)) } catch {
                    throw .invalid([FieldError(path: "\(path)/dependencies/\(i)", error.message)])
                }
            }
            spec.dependencies = deps
        }
        if let raw = o["scaleBy"], !(raw is NSNull) {
            guard let f = (raw as? NSNumber)?.doubleValue, !(raw is Bool), f > 0, f <= 10_000 else {
                throw .invalid([
                    FieldError(
                        path: "\(path)/scaleBy", "expected a number > 0 (the factor every app's instances are multiplied by)")
                ])
            }
            spec.scaleBy = f
        }
        if let raw = o["version"], !(raw is NSNull) {
            guard let v = raw as? String else {
                throw .invalid([FieldError(path: "\(path)/version", "expected a version string")])
            }
            spec.version = v
        }
        if let raw = o["apps"], !(raw is NSNull) {
            guard let list = raw as? [Any] else {
                throw .invalid([FieldError(path: "\(path)/apps", "expected an array of apps")])
            }
            var apps: [AppDefinition] = []
            for (i, item) in list.enumerated() {
                apps.append(try app(item, group: id, path: "\(path)/apps/\(i)"))
            }
            spec.apps = apps
        }
        if let raw = o["groups"], !(raw is NSNull) {
            guard let list = raw as? [Any] else {
                throw .invalid([FieldError(path: "\(path)/groups", "expected an array of groups")])
            }
            var groups: [GroupSpec] = []
            for (i, item) in list.enumerated() {
                let at = "\(path)/groups/\(i)"
                guard let g = item as? [String: Any], let raw = g["id"] as? String else {
                    throw .invalid([FieldError(path: "\(at)/id", "a group needs an id")])
                }
                let child: PathId
                do { child = try PathId(raw, in: id) } catch { throw .invalid([FieldError(path: "\(at)/id", error.message)]) }
                guard child.parent == id else {
                    throw .invalid([FieldError(path: "\(at)/id", "\(child) is not a direct subgroup of \(id)")])
                }
                groups.append(try parse(g, id: child, path: at))
            }
            spec.groups = groups
        }
        return spec
    }

    /// One app of a group: Marathon's app fields only, its id relative to the group or under it.
    static func app(_ item: Any, group: PathId, path: String) throws(APIError) -> AppDefinition {
        guard var o = item as? [String: Any] else { throw .invalid([FieldError(path: path, "expected an app object")]) }
        do throws(APIError) {
            try AppDefinition.checkFields(o)
            guard let raw = o["id"] as? String else { throw APIError.invalid([FieldError(path: "/id", "is required")]) }
            let id: PathId
            do { id = try PathId(raw, in: group) } catch { throw APIError.invalid([FieldError(path: "/id", error.message)]) }
            guard id.parent == group else {
                throw APIError.invalid([
                    FieldError(path: "/id", "\(id) is not an app of group \(group) (put it in the group of its path)")
                ])
            }
            o["id"] = id.description
            let data: Data
            do { data = try JSONSerialization.data(withJSONObject: o) } catch {
                throw APIError.badRequest("Invalid JSON: \(error)")
            }
            return try JSONBody.decode(AppDefinition.self, from: data)
        } catch {
            throw APIError(
                status: error.status, message: error.message,
                details: error.details.map { .init(path: path + ($0.path == "/" ? "" : $0.path), errors: $0.errors) })
        }
    }

    /// Every app in the spec, nested groups included.
    public var allApps: [AppDefinition] { (apps ?? []) + (groups ?? []).flatMap(\.allApps) }
}

/// A group as `/v2/groups` answers with it (Marathon's keys: id, apps, groups, pods, dependencies, version).
public struct GroupView: Encodable, Sendable {
    public var id: PathId
    public var apps: [AppDefinition]
    public var groups: [GroupView]
    public var dependencies: [PathId]
    public var version: String

    public init(id: PathId, apps: [AppDefinition], groups: [GroupView], dependencies: [PathId], version: String) {
        self.id = id
        self.apps = apps
        self.groups = groups
        self.dependencies = dependencies
        self.version = version
    }

    enum Keys: String, CodingKey { case id, apps, groups, pods, dependencies, version }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(id.isRoot ? "/" : id.description, forKey: .id)
        try c.encode(apps, forKey: .apps)
        try c.encode(groups, forKey: .groups)
        try c.encode([String](), forKey: .pods)
        try c.encode(dependencies, forKey: .dependencies)
        try c.encode(version, forKey: .version)
    }
}
