/// Env values that look like secrets (named `*_PASSWORD`, `*_TOKEN`, `*_SECRET`) are accepted and
/// given to the task, but not shown back to readers who are not admins, nor put in events.
extension AppDefinition {
    public static let redacted = "<redacted>"

    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["PASSWORD", "TOKEN", "SECRET"].contains { upper == $0 || upper.hasSuffix("_" + $0) }
    }

    public func redactingSecrets() -> AppDefinition {
        var copy = self
        for key in env.keys where Self.looksSecret(key) { copy.env[key] = Self.redacted }
        return copy
    }
}
