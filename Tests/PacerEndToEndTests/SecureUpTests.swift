import AsyncHTTPClient
import Foundation
import NIOSSL
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// `pacer up --secure`: the production-like one-command cluster. Every part speaks HTTPS with a
/// certificate from a CA it made itself, the API wants the admin token it wrote, and the CLI
/// finds both in the state directory.
class SecureUpTestCase: DiagnosedTestCase {
    var dir = ""
    var up: PacerProcess?
    var port = 0
    var client: HTTPClient?
    var state: String { dir + "/state" }
    var ca: String { state + "/tls/ca.pem" }
    var token: String {
        ((try? String(contentsOfFile: state + "/admin-token", encoding: .utf8)) ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
    var api: String { "https://127.0.0.1:\(port)" }
    var master: String { "https://127.0.0.1:\(port + 1)" }
    var agent: String { "https://127.0.0.1:\(port + 2)" }
    var lbAdmin: String { "https://127.0.0.1:\(port + 4)" }

    /// A client that trusts the cluster's CA (made before the first start, so made afresh here).
    var transport: HTTPTransport {
        if client == nil {
            var config = TLSConfiguration.makeClientConfiguration()
            config.trustRoots = .file(ca)
            client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(tlsConfiguration: config, redirectConfiguration: .disallow))
        }
        return HTTPTransport(client: client!, timeout: .seconds(5))
    }
    var admin: [(String, String)] { [("Authorization", "Bearer \(token)")] }

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-secure-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/cwd", withIntermediateDirectories: true)
    }

    func start(_ extra: [String] = []) async throws {
        let (up, p) = try startUp(in: dir, ["--secure"] + extra, directory: dir + "/cwd")
        self.up = up
        port = p
        try await Eventually.that("the framework knows the agent over HTTPS", within: 30) {
            guard FileManager.default.fileExists(atPath: self.ca) else { return false }
            let r = try? await self.transport.send(.GET, self.api + "/v2/info?embed=pacer", headers: self.admin)
            return r?.text.contains("largestAgent") == true
        }
    }

    func stop() {
        up?.stop(grace: 15)
        up = nil
    }

    override func tearDown() async throws {
        if failed, let up { print("===== up\n\(up.log.suffix(6000))") }
        stop()
        try? await client?.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func sh(_ script: String) -> (status: Int32, out: String) {
        let r = Command.run("/bin/sh", ["-c", script])
        return (r.status, r.out)
    }

    /// The CLI as a user runs it: from the directory holding `.pacer`… here the state directory is
    /// named, as `--state-dir` or `PACER_STATE_DIR` would name it.
    func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try PacerProcess.runToEnd(arguments, environment: ["PACER_STATE_DIR": state])
    }

    func post(_ spec: String, _ headers: [(String, String)]) async throws -> HTTPResult {
        try await transport.send(
            .POST, api + "/v2/apps", body: Data(spec.utf8), headers: headers + [("Content-Type", "application/json")])
    }
}

final class SecureUpTests: SecureUpTestCase {
    func testEveryPartSpeaksHTTPSTheAPIWantsTheTokenAndTheCLIFindsBoth() async throws {
        try await start()
        // What was made, and how it is kept.
        for (file, mode) in [("admin-token", 0o600), ("tls/ca-key.pem", 0o600), ("tls/server-key.pem", 0o600)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: state + "/" + file)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, mode, file)
        }
        XCTAssertEqual(token.count, 64, "a 256-bit token, hex")
        XCTAssertEqual(sh("openssl verify -CAfile \(ca) \(state)/tls/server.pem").status, 0)
        XCTAssertTrue(
            sh("openssl x509 -in \(state)/tls/server.pem -noout -ext subjectAltName").out.contains("IP Address:127.0.0.1"))

        // HTTPS only, on every part; TLS 1.1 refused.
        for p in [port, port + 1, port + 2, port + 4] {
            XCTAssertNotEqual(sh("curl -s -m 3 http://127.0.0.1:\(p)/ping").status, 0, "plain HTTP on :\(p)")
            XCTAssertEqual(sh("curl -s -m 3 -o /dev/null -w '%{http_code}' --cacert \(ca) https://127.0.0.1:\(p)/ping").status, 0)
            XCTAssertNotEqual(
                sh("curl -s -m 3 --cacert \(ca) --tls-max 1.1 https://127.0.0.1:\(p)/ping").status, 0, "TLS 1.1 on :\(p)")
        }
        // The token, as a bearer token or as the admin's password; nothing without it.
        let anonymous = try await transport.send(.GET, api + "/v2/apps")
        XCTAssertEqual(anonymous.status, 401)
        let basic = try await transport.send(.GET, URLCredentials.embed("admin:" + token, in: api) + "/v2/apps")
        XCTAssertEqual(basic.status, 200, basic.text)
        let lbMetrics = try await transport.send(.GET, lbAdmin + "/metrics")
        XCTAssertEqual(lbMetrics.status, 401, "the LB's admin port wants the token too")
        try await Eventually.that("the LB follows the framework over HTTPS with its own principal", within: 20) {
            try await self.transport.send(.GET, self.lbAdmin + "/metrics", headers: self.admin).text.contains(
                "pacer_lb_framework_connected 1")
        }

        // The CLI: no URL, CA or credentials given — all found through the state directory.
        let spec = dir + "/web.json"
        try #"{"id":"/web","cmd":"sleep 3600","instances":1,"cpus":0.1,"mem":16}"#.write(
            toFile: spec, atomically: true, encoding: .utf8)
        let deployed = try cli(["app", "deploy", spec, "--url", api, "--timeout", "30"])
        XCTAssertEqual(deployed.status, 0, deployed.output)
        let listed = try cli(["app", "list", "--url", api])
        XCTAssertTrue(listed.output.contains("/web"), listed.output)
        let roles = try cli(["cluster", "weight", "--role", "web", "2", "--master", master])
        XCTAssertEqual(roles.status, 0, "an operator change on the master, with the token: \(roles.output)")
        let elsewhere = try cli(["app", "list", "--url", "https://localhost.invalid:\(port)"])
        XCTAssertNotEqual(elsewhere.status, 0)
        XCTAssertFalse(elsewhere.output.contains(token), "the token is never shown")
        XCTAssertFalse(up!.log.contains(token), "nor logged")

        // A restart keeps the CA and the token: clients that trust them keep working.
        let before = try String(contentsOfFile: ca, encoding: .utf8) + token
        stop()
        try await start()
        XCTAssertEqual(try String(contentsOfFile: ca, encoding: .utf8) + token, before)
        let again = try cli(["app", "list", "--url", api])
        XCTAssertTrue(again.output.contains("/web"), again.output)
    }
}

/// RELIABILITY.md's attacks (A1, A2, A11–A14) as real requests to a real `pacer up --secure`
/// cluster with a principals file: each is refused with its status, and the cluster's state —
/// apps and their versions, tasks, agents, frameworks, weights, event subscriptions — is the
/// same after all of them as before.
final class ASuiteTests: SecureUpTestCase {
    func principal(_ arguments: [String], input: String? = nil) throws -> String {
        let r =
            try input.map {
                try PacerProcess.runToEnd(
                    ["-c", "printf '%s\\n' \"$1\" | \"$0\" principal hash-password", PacerProcess.binary, $0],
                    executable: "/bin/sh")
            } ?? PacerProcess.runToEnd(arguments)
        XCTAssertEqual(r.status, 0, r.output)
        return r.output
    }

    /// What an attack must not change.
    func snapshot() async throws -> String {
        struct App: Decodable {
            var id: String
            var version: String?
            var instances: Int
        }
        struct Apps: Decodable { var apps: [App] }
        struct Task: Decodable {
            var id: String
            var state: String?
        }
        struct Tasks: Decodable { var tasks: [Task] }
        let apps = try JSONDecoder().decode(
            Apps.self, from: try await transport.expectOK(.GET, api + "/v2/apps", headers: admin).body)
        let tasks = try JSONDecoder().decode(
            Tasks.self, from: try await transport.expectOK(.GET, api + "/v2/tasks", headers: admin).body)
        let cluster = try WireJSON.masterDecoder().decode(
            ClusterState.self, from: try await transport.expectOK(.GET, master + "/state").body)
        let roles = try await transport.expectOK(.GET, master + "/master/roles").text
        let subscriptions = try await transport.expectOK(.GET, api + "/v2/eventSubscriptions", headers: admin).text
        return """
            apps: \(apps.apps.map { "\($0.id)@\($0.version ?? "")×\($0.instances)" }.sorted())
            tasks: \(tasks.tasks.map { "\($0.id) \($0.state ?? "")" }.sorted())
            agents: \(cluster.agents.map(\.id).sorted()) frameworks: \(cluster.frameworks.count)
            roles: \(roles)
            subscriptions: \(subscriptions)
            """
    }

    func testEveryAttackIsRefusedAndChangesNothing() async throws {
        let viewerHash = try principal([], input: "view-pw").trimmingCharacters(in: .whitespacesAndNewlines)
        let minted = try principal(["principal", "new-token"])
        let field = { (name: String) in
            minted.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
            } ?? ""
        }
        let deployerToken = field("token")
        let file = dir + "/principals.yaml"
        try """
        principals:
          - {name: grafana, role: viewer, password_bcrypt: "\(viewerHash)"}
          - {name: team-a, role: deployer, paths: [/team-a], token_sha256: "\(field("token_sha256"))"}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        try await start(["--principals", file])

        let viewer = [("Authorization", "Basic " + Data("grafana:view-pw".utf8).base64EncodedString())]
        let deployer = [("Authorization", "Bearer \(deployerToken)")]
        for (id, env) in [("/team-a/web", ""), ("/team-b/api", #","env":{"DB_PASSWORD":"hunter2"}"#)] {
            let r = try await post(#"{"id":"\#(id)","cmd":"sleep 3600","instances":1,"cpus":0.05,"mem":16\#(env)}"#, admin)
            XCTAssertEqual(r.status, 201, r.text)
        }
        let teamATask = try await Eventually.value("both apps run", within: 30) { () -> String? in
            let t = try await self.transport.send(.GET, self.api + "/v2/tasks", headers: self.admin).text
            guard t.components(separatedBy: "TASK_RUNNING").count - 1 == 2 else { return nil }
            return t.firstMatch(of: /"id":"(team-a_web[^"]+)"/).map { String($0.output.1) }
        }
        let allTasks = try await transport.send(.GET, api + "/v2/tasks", headers: admin).text
        let teamBTask = try XCTUnwrap(allTasks.firstMatch(of: /"id":"(team-b_api[^"]+)"/).map { String($0.output.1) })
        // Seen once with the right credentials: the throttling at the end must not lock these out.
        for who in [viewer, deployer] {
            let ok = try await transport.send(.GET, api + "/v2/apps", headers: who)
            XCTAssertEqual(ok.status, 200, ok.text)
        }
        let before = try await snapshot()

        var refusals: [(String, Int, Int)] = []  // what, expected, got
        func expect(_ what: String, _ status: Int, _ r: HTTPResult) { refusals.append((what, status, r.status)) }
        func send(_ method: String, _ url: String, _ body: String? = nil, _ headers: [(String, String)] = []) async throws
            -> HTTPResult
        {
            try await transport.send(
                .init(rawValue: method), url, body: body.map { Data($0.utf8) },
                headers: headers
                    + (body == nil || headers.contains { $0.0 == "Content-Type" } ? [] : [("Content-Type", "application/json")]))
        }
        let spec = #"{"id":"/team-a/evil","cmd":"id","instances":1,"cpus":0.01,"mem":8}"#

        // A1: no credentials, wrong ones, garbage, the wrong role.
        expect("A1 anonymous read", 401, try await send("GET", api + "/v2/apps"))
        expect("A1 anonymous create", 401, try await send("POST", api + "/v2/apps", spec))
        expect("A1 wrong password", 401, try await send("POST", URLCredentials.embed("admin:guess", in: api) + "/v2/apps", spec))
        expect(
            "A1 10 KB garbage Basic", 401,
            try await send("GET", api + "/v2/apps", nil, [("Authorization", "Basic " + String(repeating: "A", count: 10_000))]))
        expect("A1 wrong token", 401, try await send("DELETE", api + "/v2/apps/team-b/api", nil, [("Authorization", "Bearer x")]))
        expect("A1 viewer creates", 403, try await send("POST", api + "/v2/apps", spec, viewer))
        expect("A1 viewer scales", 403, try await send("PUT", api + "/v2/apps/team-a/web", #"{"instances":0}"#, viewer))
        expect("A1 deployer outside its paths", 403, try await send("DELETE", api + "/v2/apps/team-b/api", nil, deployer))
        expect(
            "A1 deployer kills another team's task", 403,
            try await send("POST", api + "/v2/tasks/delete", #"{"ids":["\#(teamBTask)"]}"#, deployer))
        expect(
            "A1 deployer reads another team's logs", 403,
            try await send("GET", api + "/v2/tasks/\(teamBTask)/files/read?path=stdout&offset=0&length=10", nil, deployer))
        // A1: a forged drain acknowledgement (only a load balancer may say it drained a task).
        let drained = #"{"lb":"forged","taskIds":["\#(teamATask)"]}"#
        expect("A1 anonymous drain ack", 401, try await send("POST", api + "/v2/tasks/drained", drained))
        expect("A1 deployer drain ack", 403, try await send("POST", api + "/v2/tasks/drained", drained, deployer))
        expect("A1 viewer drain ack", 403, try await send("POST", api + "/v2/tasks/drained", drained, viewer))
        // A1: the cluster's own links — a fake agent, a framework without its secret, an operator
        // change, a LAUNCH and a file read straight at the agent.
        let register =
            #"{"type":"REGISTER","agentId":"stray","register":{"agent":{"id":"stray","hostname":"evil","url":"http://127.0.0.1:1","resources":{"cpus":64,"mem":65536}},"tasks":[],"boot":"b","sequence":1}}"#
        expect("A1 fake agent", 401, try await send("POST", master + "/api/v1/agent", register))
        let subscribe = #"{"type":"SUBSCRIBE","subscribe":{"frameworkInfo":{"name":"evil","failoverTimeoutSeconds":60}}}"#
        expect("A1 framework without its secret", 401, try await send("POST", master + "/api/v1/scheduler", subscribe))
        expect(
            "A1 anonymous weight change", 401, try await send("PUT", master + "/master/weights", #"[{"role":"*","weight":9}]"#))
        expect(
            "A1 weight change with the viewer's password", 401,
            try await send("PUT", master + "/master/weights", #"[{"role":"*","weight":9}]"#, viewer))
        expect(
            "A1 LAUNCH straight at the agent", 401,
            try await send("POST", agent + "/api/v1", #"{"type":"LAUNCH","launch":{"frameworkId":"x","tasks":[]}}"#))
        expect("A1 file read straight at the agent", 401, try await send("GET", agent + "/files/browse?path=/"))
        expect("A1 LB stats without the token", 401, try await send("GET", lbAdmin + "/stats"))

        // A11: callbacks to instance metadata.
        expect(
            "A11 metadata callback", 422,
            try await send(
                "POST", api + "/v2/eventSubscriptions?callbackUrl=http://169.254.169.254/latest/meta-data/", nil, admin))
        // A13: cross-site form posts, even with the browser's remembered credentials.
        let basicAdmin = [("Authorization", "Basic " + Data("admin:\(token)".utf8).base64EncodedString())]
        for type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
            expect("A13 \(type) post", 415, try await send("POST", api + "/v2/apps", spec, basicAdmin + [("Content-Type", type)]))
        }
        let crossOrigin = try await send("GET", api + "/v2/apps", nil, admin + [("Origin", "https://evil.example")])
        XCTAssertFalse(
            crossOrigin.headers.contains { $0.0.lowercased().hasPrefix("access-control-") }, "CORS is closed by default")

        for (what, want, got) in refusals { XCTAssertEqual(got, want, what) }

        // A12: path tricks, sent byte for byte (curl --path-as-is), as the deployer of /team-a.
        for path in [
            "/v2/apps/team-a/../team-b/api", "/v2/apps/team-a/%2E%2E/team-b/api", "/v2/apps/team-a%2F..%2Fteam-b%2Fapi",
            "/v2//apps/team-b/api", "/v2/apps/team-a/./../team-b/api", "/v2/apps/team-a/%252E%252E/team-b/api"
        ] {
            let code = sh(
                "curl -s --path-as-is -o /dev/null -w '%{http_code}' --cacert \(ca) -X DELETE -H 'Authorization: Bearer \(deployerToken)' 'https://127.0.0.1:\(port)\(path)'"
            ).out
            XCTAssertTrue(["400", "403", "404"].contains(code), "A12 \(path): \(code)")
        }
        // A14: plaintext and old TLS on the API.
        XCTAssertNotEqual(sh("curl -s -m 3 http://127.0.0.1:\(port)/v2/apps").status, 0, "A14 plain HTTP")
        XCTAssertNotEqual(sh("curl -s -m 3 --cacert \(ca) --tls-max 1.1 https://127.0.0.1:\(port)/ping").status, 0, "A14 TLS 1.1")
        XCTAssertNotEqual(sh("curl -s -m 3 https://127.0.0.1:\(port)/ping").status, 0, "A14 a server the client cannot verify")
        // A2: secrets in specs are redacted for readers who are not admins.
        let asViewer = try await send("GET", api + "/v2/apps/team-b/api", nil, viewer).text
        XCTAssertFalse(asViewer.contains("hunter2"), asViewer)
        XCTAssertTrue(asViewer.contains("<redacted>"), asViewer)

        // A1: guessing from one address is throttled; people already signed in are not locked out.
        var last = 0
        for _ in 0..<10 { last = try await send("GET", URLCredentials.embed("admin:guess", in: api) + "/v2/apps").status }
        XCTAssertEqual(last, 429, "the tenth failure a minute from one address")
        let stillIn = try await send("GET", api + "/v2/apps", nil, deployer)
        XCTAssertEqual(stillIn.status, 200, "a header that verified before")

        let after = try await snapshot()
        XCTAssertEqual(after, before, "an attack changed the cluster")
        print("A-suite: \(refusals.count) refusals by status, 6 path tricks, 3 TLS checks, 1 redaction, throttling: all held")
    }

    /// A14 with mutual TLS: a master that wants client certificates from its CA refuses one from
    /// another CA and one from its own CA that has expired; a valid one is served.
    func testMutualTLSRefusesForeignAndExpiredClientCertificates() async throws {
        let script = """
            set -e; cd \(dir)
            for ca in good other; do
              openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $ca-ca.key -out $ca-ca.pem \\
                -days 2 -subj /CN=$ca-ca 2>/dev/null
            done
            printf "subjectAltName=IP:127.0.0.1" > san.ext
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
            openssl x509 -req -in server.csr -CA good-ca.pem -CAkey good-ca.key -set_serial 1 -days 2 -extfile san.ext -out server.pem 2>/dev/null
            for who in good other; do
              openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null
              openssl x509 -req -in $who.csr -CA $who-ca.pem -CAkey $who-ca.key -set_serial 2 -days 2 -out $who.pem 2>/dev/null
            done
            # Expired: signed by the right CA, valid for one day in 2020 (openssl ca sets the dates).
            mkdir -p ca; : > ca/index.txt; echo 03 > ca/serial
            printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=ca/index.txt\\nnew_certs_dir=ca\\nserial=ca/serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n' > ca.cnf
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout expired.key -out expired.csr -subj /CN=expired 2>/dev/null
            openssl ca -batch -config ca.cnf -cert good-ca.pem -keyfile good-ca.key -startdate 20200101000000Z \\
              -enddate 20200102000000Z -in expired.csr -out expired.pem -notext 2>/dev/null
            """
        let made = sh(script)
        XCTAssertEqual(made.status, 0, made.out)
        XCTAssertTrue(sh("openssl x509 -in \(dir)/expired.pem -noout -enddate").out.contains("2020"))
        XCTAssertEqual(sh("openssl verify -CAfile \(dir)/good-ca.pem \(dir)/other.pem").status == 0, false)
        let p = FreePorts.block(1)
        let master = try PacerProcess(
            name: "master",
            arguments: [
                "master", "--port", "\(p)", "--state-dir", dir + "/m", "--tls-cert", dir + "/server.pem", "--tls-key",
                dir + "/server.key", "--tls-client-ca", dir + "/good-ca.pem"
            ], logDir: dir)
        defer { master.stop() }
        let curl = { (who: String) in
            "curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert \(self.dir)/good-ca.pem --cert \(self.dir)/\(who).pem --key \(self.dir)/\(who).key https://127.0.0.1:\(p)/health"
        }
        try await Eventually.that("a client with a valid certificate from the CA is served", within: 15) {
            self.sh(curl("good")).out == "200"
        }
        XCTAssertNotEqual(sh(curl("other")).out, "200", "a certificate from another CA")
        XCTAssertNotEqual(sh(curl("expired")).out, "200", "an expired certificate from the right CA")
        XCTAssertNotEqual(
            sh("curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert \(dir)/good-ca.pem https://127.0.0.1:\(p)/health").out,
            "200",
            "no certificate")
    }
}
