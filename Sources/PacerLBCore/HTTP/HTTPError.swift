/// Why a request (or a backend's response) was refused, as the status the client gets.
/// Every one of these closes the connection: after a framing error nothing later on it can be trusted.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public static func bad(_ reason: String) -> HTTPError { HTTPError(400, reason) }
    public var description: String { "\(status) \(reason)" }

    /// The whole response the client gets: small, closing, never cached.
    public var response: [UInt8] { HTTPError.response(status, reason) }

    public static func response(_ status: Int, _ reason: String) -> [UInt8] {
        let body = "\(status) \(phrase(status)): \(reason)\n"
        return Array(
            ("HTTP/1.1 \(status) \(phrase(status))\r\ncontent-type: text/plain\r\ncache-control: no-cache\r\n"
                + "content-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n" + body).utf8)
    }

    /// A permanent redirect (HAPROXY_{n}_REDIRECT_TO_HTTPS), closing like the errors.
    public static func redirect(to location: String) -> [UInt8] {
        Array(("HTTP/1.1 301 Moved Permanently\r\nlocation: \(location)\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").utf8)
    }

    public static func phrase(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 431: "Request Header Fields Too Large"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }
}
