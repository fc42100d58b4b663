import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PacerAppsCore
import PacerModel
import PacerServerKit
import PacerStore
import XCTest

@testable import PacerApps

/// The framework's `/v2` API in-process: the real router, scheduler and SQLite store, without
/// sockets or processes (HummingbirdTesting's router mode), so each request takes milliseconds.
/// For API behaviour that needs no cluster; the end-to-end suite keeps what needs real processes.
class RouterTestCase: XCTestCase {
    struct Response {
        var status: Int
        var body: Data
        var headers: HTTPFields = [:]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private var directory: URL!
    private(set) var scheduler: Scheduler!
    private var app: Application<RouterResponder<PacerRequestContext>>!
    /// Who may call the API (nil: anyone); a subclass names its principals.
    var authenticator: Authenticator? { nil }
    /// Origins allowed cross-origin access (CORS).
    var corsOrigins: [String] { [] }

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-router-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("state.sqlite").path)
        let settings = AppsSettings()
        scheduler = try await Scheduler(
            repo: AppsRepository(store: store), settings: settings, bus: EventBus(), logger: Logger(label: "test"))
        // What the end-to-end agents offer: specs are checked against the largest agent.
        await scheduler.setLargestAgent(Resources(cpus: 4, mem: 4096, disk: 10_000))
        let info = FrameworkInfoView(
            leader: "127.0.0.1:8080", epoch: nil, masters: ["http://127.0.0.1:5050"], port: 8080, settings: settings,
            store: "sqlite")
        app = Application(
            router: AppsRoutes.router(scheduler, info: info, authenticator: authenticator, corsOrigins: corsOrigins))
    }

    override func tearDown() async throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// One request through the router; JSON unless another content type is given.
    func request(
        _ method: HTTPRequest.Method, _ uri: String, body: String? = nil, contentType: String = "application/json",
        authorization: String? = nil, origin: String? = nil
    ) async throws -> Response {
        var fields: HTTPFields = body == nil ? [:] : [.contentType: contentType]
        if let authorization { fields[.authorization] = authorization }
        if let origin { fields[.origin] = origin }
        let headers = fields
        let buffer = body.map { ByteBuffer(string: $0) }
        return try await app.test(.router) { client in
            try await client.execute(uri: uri, method: method, headers: headers, body: buffer) { r in
                Response(status: Int(r.status.code), body: Data(r.body.readableBytesView), headers: r.headers)
            }
        }
    }

    func post(_ json: String) async throws -> Response { try await request(.post, "/v2/apps", body: json) }

    func sleeper(_ app: String, instances: Int, extra: String = "") -> String {
        #"{"id":"\#(app)","cmd":"sleep 3600","instances":\#(instances),"cpus":0.01,"mem":8\#(extra)}"#
    }
}
