import Foundation

/// Credentials written into an address (`http://user:password@host:8080`), as Marathon's clients
/// and marathon-lb take them: sent as HTTP Basic, and taken out of the address itself.
public enum URLCredentials {
    /// The address without its user part, and the `Authorization` value it asked for (if any).
    public static func split(_ url: String) -> (url: String, authorization: String?) {
        guard let scheme = url.range(of: "://") else { return (url, nil) }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return (url, nil) }
        let userinfo = String(authority[..<at])
        let stripped = String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
        let parts = userinfo.split(separator: ":", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
        let pair = parts.count == 2 ? "\(parts[0]):\(parts[1])" : "\(parts.first ?? ""):"
        return (stripped, "Basic " + Data(pair.utf8).base64EncodedString())
    }

    /// `user:password` written into `url` (percent-encoded where the address needs it).
    public static func embed(_ credentials: String, in url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let parts = credentials.split(separator: ":", maxSplits: 1).map(String.init)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let encoded = parts.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(separator: ":")
        return String(url[..<scheme.upperBound]) + encoded + "@" + String(url[scheme.upperBound...])
    }
}
