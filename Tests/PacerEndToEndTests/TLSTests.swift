import AsyncHTTPClient
import Foundation
import NIOSSL
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Every API over HTTPS: master, agent and framework serve TLS (1.2 or newer) from certificate
/// files, call each other over HTTPS verifying the cluster CA, and a task runs; a client that does
/// not trust the CA, or speaks TLS 1.1, or plain HTTP, gets nothing; SIGHUP reloads a renewed
/// certificate without dropping the connections that are open; and with `--tls-client-ca` a client
/// without a certificate is refused (mutual TLS).
final class TLSTests: DiagnosedTestCase {
    var cluster: TestCluster?
    var dir = ""

    override func tearDown() async throws {
        if let cluster, failed { print(cluster.logs) }
        await cluster?.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func sh(_ script: String) -> (status: Int32, out: String) {
        let r = Command.run("/bin/sh", ["-c", script])
        return (r.status, r.out)
    }

    /// A CA, and a certificate for 127.0.0.1 signed by it (`serial` tells renewals apart).
    func makeCertificates(serial: Int) {
        let script = """
            set -e; cd \(dir)
            [ -f ca.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=pacer-test-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key.new -out server.csr -subj /CN=127.0.0.1 2>/dev/null
            printf "subjectAltName=IP:127.0.0.1,DNS:localhost" > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial \(serial) -out server.pem.new -days 2 -extfile server.ext 2>/dev/null
            mv server.key.new server.key; mv server.pem.new server.pem
            """
        XCTAssertEqual(sh(script).status, 0)
    }

    func testTheClusterSpeaksHTTPSOnlyAndReloadsItsCertificate() async throws {
        dir = NSTemporaryDirectory() + "pacer-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        makeCertificates(serial: 1)
        let tls = ["--tls-cert", dir + "/server.pem", "--tls-key", dir + "/server.key", "--ca", dir + "/ca.pem"]
        let cluster = try TestCluster(masterArgs: tls, agentArgs: tls, frameworkArgs: tls, scheme: "https")
        self.cluster = cluster
        var config = TLSConfiguration.makeClientConfiguration()
        config.trustRoots = .file(dir + "/ca.pem")
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: config))
        let transport = HTTPTransport(client: client, timeout: .seconds(5))

        try await Eventually.that("the framework knows the agent (agent → master, framework → master over HTTPS)", within: 30) {
            (try? await transport.send(.GET, cluster.frameworkURL + "/v2/info?embed=pacer"))?.text.contains("largestAgent")
                == true
        }
        let posted = try await transport.send(
            .POST, cluster.frameworkURL + "/v2/apps",
            body: Data(#"{"id":"/tls","cmd":"sleep 3600","instances":1,"cpus":0.1,"mem":16}"#.utf8))
        XCTAssertEqual(posted.status, 201, posted.text)
        try await Eventually.that("the task runs (master → agent over HTTPS)", within: 30) {
            (try? await transport.send(.GET, cluster.frameworkURL + "/v2/apps/tls/tasks"))?.text.contains("TASK_RUNNING") == true
        }

        let port = cluster.frameworkPort
        let ca = dir + "/ca.pem"
        // The load balancer follows the framework over HTTPS, trusting the cluster CA; so does the CLI.
        // Its admin port serves HTTPS too.
        let lb = try TestLB(
            cluster: cluster, frameworks: [cluster.frameworkURL],
            extra: "framework_ca: \(ca)\nadmin_tls_cert: \(dir)/server.pem\nadmin_tls_key: \(dir)/server.key")
        defer { lb.process.stop() }
        let admin = "https://127.0.0.1:\(lb.adminPort)"
        try await Eventually.that("the LB follows the framework over HTTPS", within: 20) {
            (try? await transport.send(.GET, admin + "/metrics"))?.text.contains("pacer_lb_framework_connected 1") == true
        }
        XCTAssertNotEqual(sh("curl -sf http://127.0.0.1:\(lb.adminPort)/healthz").status, 0, "the admin port speaks HTTPS only")
        let listed = try PacerProcess.runToEnd(["app", "list", "--url", cluster.frameworkURL, "--ca", ca])
        XCTAssertEqual(listed.status, 0, listed.output)
        XCTAssertTrue(listed.output.contains("/tls"), listed.output)
        let untrusted = try PacerProcess.runToEnd(["app", "list", "--url", cluster.frameworkURL])
        XCTAssertNotEqual(untrusted.status, 0, "without the CA the CLI refuses the server: \(untrusted.output)")
        XCTAssertEqual(sh("curl -sf --cacert \(ca) https://127.0.0.1:\(port)/ping").out, "pong")
        XCTAssertNotEqual(sh("curl -sf https://127.0.0.1:\(port)/ping").status, 0, "a client that does not trust the CA")
        XCTAssertNotEqual(sh("curl -sf --cacert \(ca) --tls-max 1.1 https://127.0.0.1:\(port)/ping").status, 0, "TLS 1.1")
        XCTAssertNotEqual(sh("curl -sf http://127.0.0.1:\(port)/ping").status, 0, "plain HTTP")
        for p in [cluster.masterPort, cluster.agentPort] {
            XCTAssertEqual(sh("curl -sf --cacert \(ca) -o /dev/null -w '%{http_code}' https://127.0.0.1:\(p)/health").out, "200")
        }

        // SIGHUP: a renewed certificate is served to new connections; an open one keeps going.
        let serial = { () -> String in
            self.sh("echo | openssl s_client -connect 127.0.0.1:\(port) -CAfile \(ca) 2>/dev/null | openssl x509 -noout -serial")
                .out
        }
        XCTAssertTrue(serial().contains("serial=01"), serial())
        let stream =
            "curl -sN -u \(TestCluster.adminCredentials) --cacert \(ca) --max-time 4 https://127.0.0.1:\(port)/v2/events -o \(dir)/events.txt; echo $?"
        let longPoll = Task.detached { Command.run("/bin/sh", ["-c", stream]) }
        try await Task.sleep(for: .milliseconds(500))
        makeCertificates(serial: 2)
        cluster.framework.signal(SIGHUP)
        try await Eventually.that("the new certificate is served", within: 10) { serial().contains("serial=02") }
        let streamed = await longPoll.value.out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(streamed, "28", "the open event stream ran until curl's own --max-time (28), not cut by the reload")
        XCTAssertTrue(cluster.framework.log.contains("TLS certificate reloaded"), cluster.framework.log.suffix(2000).description)
        try await client.shutdown()
    }

    func testMutualTLSRefusesAClientWithoutACertificate() async throws {
        dir = NSTemporaryDirectory() + "pacer-mtls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        makeCertificates(serial: 1)
        let port = FreePorts.block(1)
        let master = try PacerProcess(
            name: "master",
            arguments: [
                "master", "--port", "\(port)", "--state-dir", dir + "/m", "--tls-cert", dir + "/server.pem", "--tls-key",
                dir + "/server.key", "--tls-client-ca", dir + "/ca.pem"
            ], logDir: dir)
        defer { master.stop() }
        let ca = dir + "/ca.pem"
        let withCert = "curl -sf --cacert \(ca) --cert \(dir)/server.pem --key \(dir)/server.key https://127.0.0.1:\(port)/health"
        try await Eventually.that("a client with a certificate from the CA is served", within: 10) {
            self.sh(withCert).out == "ok"
        }
        XCTAssertNotEqual(sh("curl -sf --cacert \(ca) https://127.0.0.1:\(port)/health").status, 0, "no client certificate")
    }
}

/// The framework's store over TLS: etcd with `--client-cert-auth` takes the framework's reads
/// and writes only with its client certificate (`etcds://`, `--store-ca/--store-cert/--store-key`).
final class EtcdTLSTests: XCTestCase {
    func testTheStoreIsReachedOverTLSWithAClientCertificateOnly() async throws {
        let dir = NSTemporaryDirectory() + "pacer-etcdtls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = """
            set -e; cd \(dir)
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=etcd-ca 2>/dev/null
            for n in server client; do
              openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
              printf "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth" > $n.ext
              openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext 2>/dev/null
            done
            """
        XCTAssertEqual(Command.run("/bin/sh", ["-c", script]).status, 0)
        let binary = try XCTUnwrap(EtcdCluster.binary, "etcd is not installed: make test installs etcd-server")
        let (client, peer) = (FreePorts.block(1), FreePorts.block(1))
        let etcd = try PacerProcess(
            name: "etcd",
            arguments: [
                "--name", "tls", "--data-dir", dir + "/data", "--listen-client-urls", "https://127.0.0.1:\(client)",
                "--advertise-client-urls", "https://127.0.0.1:\(client)", "--listen-peer-urls", "http://127.0.0.1:\(peer)",
                "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)", "--initial-cluster", "tls=http://127.0.0.1:\(peer)",
                "--cert-file", dir + "/server.pem", "--key-file", dir + "/server.key", "--client-cert-auth",
                "--trusted-ca-file", dir + "/ca.pem"
            ], logDir: dir, executable: binary)
        defer { etcd.stop() }
        let store = "etcds://127.0.0.1:\(client)/tls"
        let withCert = [
            "--store", store, "--store-ca", dir + "/ca.pem", "--store-cert", dir + "/client.pem", "--store-key",
            dir + "/client.key"
        ]
        let port = FreePorts.block(1)
        let framework = try PacerProcess(
            name: "framework",
            arguments: ["framework", "--port", "\(port)", "--state-dir", dir + "/f", "--master", "http://127.0.0.1:1"] + withCert,
            logDir: dir)
        defer { framework.stop() }
        try await Eventually.that("the framework leads over its TLS store", within: 20) {
            (try? await HTTPTransport(timeout: .seconds(2)).send(.GET, "http://127.0.0.1:\(port)/v2/info"))?.status == 200
        }
        let backup = try PacerProcess.runToEnd(["framework", "backup", dir + "/b.json"] + withCert)
        XCTAssertEqual(backup.status, 0, backup.output)
        let snapshot =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/b.json"))) as? [String: Any]
        XCTAssertNotNil((snapshot?["entries"] as? [String: Any])?["schema/version"], "the leader stamped the store over TLS")
        let noCert = try PacerProcess.runToEnd([
            "framework", "backup", dir + "/c.json", "--store", store, "--store-ca", dir + "/ca.pem"
        ])
        XCTAssertNotEqual(noCert.status, 0, "etcd refuses a client without a certificate: \(noCert.output)")
    }
}
