import Foundation

/// One change in an atomic batch.
public enum StoreOp: Sendable, Equatable {
    case put(String, Data)
    case delete(String)
}

public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A small durable key-value store: what the framework keeps (apps, versions, task records, its
/// framework id). `apply` is atomic and durable (on disk, fsynced) when it returns — the API
/// acknowledges a write only after that.
public protocol StateStore: Sendable {
    func get(_ key: String) async throws -> Data?
    /// Every key under `prefix`, with its value.
    func list(prefix: String) async throws -> [String: Data]
    func apply(_ ops: [StoreOp]) async throws
}

extension StateStore {
    public func put(_ key: String, _ value: Data) async throws { try await apply([.put(key, value)]) }
    public func delete(_ key: String) async throws { try await apply([.delete(key)]) }
}

/// For unit tests of code above the store.
public actor InMemoryStore: StateStore {
    var data: [String: Data] = [:]
    public init() {}
    public func get(_ key: String) -> Data? { data[key] }
    public func list(prefix: String) -> [String: Data] { data.filter { $0.key.hasPrefix(prefix) } }
    public func apply(_ ops: [StoreOp]) {
        for op in ops {
            switch op {
            case .put(let k, let v): data[k] = v
            case .delete(let k): data[k] = nil
            }
        }
    }
}
