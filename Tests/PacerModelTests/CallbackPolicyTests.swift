import PacerModel
import XCTest

/// A11: callbacks never reach link-local addresses (instance metadata), and with an allow-list
/// only the hosts on it.
final class CallbackPolicyTests: XCTestCase {
    func testLinkLocalIsAlwaysRefusedAndTheAllowListIsObeyed() {
        let open = CallbackPolicy()
        XCTAssertNil(open.refusal(host: "hooks.example.com", addresses: ["10.1.2.3"]))
        XCTAssertNotNil(open.refusal(host: "169.254.169.254", addresses: []))
        XCTAssertNotNil(open.refusal(host: "metadata.evil.example", addresses: ["169.254.169.254"]), "a name pointing there")
        XCTAssertNotNil(open.refusal(host: "[fe80::1]", addresses: []))
        XCTAssertNotNil(open.refusal(host: "x", addresses: ["::ffff:169.254.1.1"]))
        XCTAssertNil(open.refusal(host: "169.255.0.1", addresses: []), "just outside 169.254/16")

        let listed = CallbackPolicy(allow: ["hooks.example.com", "*.corp.example", "10.0.0.0/8"])
        XCTAssertNil(listed.refusal(host: "hooks.example.com", addresses: ["192.0.2.1"]))
        XCTAssertNil(listed.refusal(host: "a.b.corp.example", addresses: []))
        XCTAssertNil(listed.refusal(host: "internal", addresses: ["10.9.8.7"]))
        XCTAssertNotNil(listed.refusal(host: "evil.example", addresses: ["192.0.2.9"]))
        XCTAssertNotNil(listed.refusal(host: "corp.example.evil", addresses: []))
        XCTAssertNotNil(listed.refusal(host: "10.0.0.1", addresses: ["169.254.0.1"]), "link-local wins over the list")
    }
}
