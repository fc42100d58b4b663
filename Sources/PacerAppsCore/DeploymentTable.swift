import PacerModel

/// Deployments in progress, by id and by app (one per app): "is this app being deployed?" is asked
/// for every app on every change, and a scan of a thousand deployments each time added up.
public struct DeploymentTable: Sendable, Sequence {
    public private(set) var byId: [String: Deployment] = [:]
    private var byApp: [PathId: String] = [:]

    public init() {}

    public subscript(id: String) -> Deployment? {
        get { byId[id] }
        set {
            if let old = byId[id], byApp[old.appId] == id { byApp[old.appId] = nil }
            if let newValue { byApp[newValue.appId] = id }
            byId[id] = newValue
        }
    }

    @discardableResult
    public mutating func removeValue(forKey id: String) -> Deployment? {
        let old = byId[id]
        self[id] = nil
        return old
    }

    public func of(app: PathId) -> Deployment? { byApp[app].flatMap { byId[$0] } }

    public var values: Dictionary<String, Deployment>.Values { byId.values }
    public var keys: Dictionary<String, Deployment>.Keys { byId.keys }
    public var count: Int { byId.count }
    public var isEmpty: Bool { byId.isEmpty }
    /// Apps being deployed.
    public var appIds: Dictionary<PathId, String>.Keys { byApp.keys }
    public func makeIterator() -> Dictionary<String, Deployment>.Iterator { byId.makeIterator() }
}
