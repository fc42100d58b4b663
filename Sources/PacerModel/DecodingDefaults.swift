/// Marathon's JSON leaves out whatever has its default, so most fields decode as "the value if the
/// key is there, else the default". One spelling for that, instead of `decodeIfPresent … ?? default`
/// in every initialiser; the type comes from the property being assigned.
extension KeyedDecodingContainer {
    /// The value under `key`, or `fallback` when the key is absent or null. A present value of the
    /// wrong type still fails, with its coding path.
    public func value<T: Decodable>(_ key: Key, or fallback: @autoclosure () -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback()
    }

    /// The value under `key`, or nil when the key is absent or null.
    public func optional<T: Decodable>(_ key: Key) throws -> T? {
        try decodeIfPresent(T.self, forKey: key)
    }
}
