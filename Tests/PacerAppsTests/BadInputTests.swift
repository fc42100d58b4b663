import Foundation
import PacerModel
import XCTest

/// A3, A5, A6: bad specs get 400/413/415/422 with a Marathon-style body naming the field; nothing is stored.
final class BadInputTests: RouterTestCase {
    func testBadSpecsAreRefusedAndNothingIsStored() async throws {
        let cases: [(String, Int, String?)] = [
            (#"{"id":"/x","cmd":"sleep 1","cpus":NaN}"#, 400, nil),
            (#"{"id":"/x","cmd":"sleep 1""#, 400, nil),
            (#"{"id":"/x","cmd":"sleep 1","cpus":-1}"#, 422, "/cpus"),
            (#"{"id":"/x","cmd":"sleep 1","cpus":1e308}"#, 422, "/cpus"),
            (#"{"id":"/x","cmd":"sleep 1","instances":1e9}"#, 422, "/instances"),
            (#"{"id":"/x","cmd":"sleep 1","mem":"lots"}"#, 422, "/mem"),
            (#"{"id":"/x","cmd":"sleep 1","cpus":64}"#, 422, "/cpus"),
            (#"{"id":"/x","cmd":"sleep 1","mem":100000000}"#, 422, "/mem"),
            (#"{"id":"/a/../../etc","cmd":"sleep 1"}"#, 422, "/id"),
            (#"{"id":"/UPPER","cmd":"sleep 1"}"#, 422, "/id"),
            (#"{"id":"/%2e%2e","cmd":"sleep 1"}"#, 422, "/id"),
            ("{\"id\":\"/\(String(repeating: "a", count: 1000))\",\"cmd\":\"sleep 1\"}", 422, "/id"),
            (#"{"id":"/x","cmd":"sleep 1","ports":[80,80]}"#, 422, "/portDefinitions/1/port"),
            (#"{"id":"/x"}"#, 422, "/cmd"),
            (String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), 400, nil),
            (#"[1,2,3]"#, 422, nil)
        ]
        for (body, status, path) in cases {
            let r = try await post(body)
            XCTAssertEqual(r.status, status, "\(body.prefix(80)): \(r.text.prefix(300))")
            let error = try? JSONDecoder().decode(APIError.self, from: r.body)
            XCTAssertNotNil(error?.message, "Marathon-style body for \(body.prefix(60))")
            if let path {
                XCTAssertTrue(error?.details.contains { $0.path == path } ?? false, "\(body.prefix(60)) names \(path): \(r.text)")
            }
        }
        let big = "{\"id\":\"/big\",\"cmd\":\"\(String(repeating: "x", count: 2 << 20))\"}"
        let tooBig = try await post(big)
        XCTAssertEqual(tooBig.status, 413)
        let form = try await request(.post, "/v2/apps", body: #"{"id":"/x","cmd":"sleep 1"}"#, contentType: "text/plain")
        XCTAssertEqual(form.status, 415, "a cross-site form post cannot create apps")
        let apps = try await request(.get, "/v2/apps")
        XCTAssertEqual(apps.text, #"{"apps":[]}"#)
        let stored = try await request(.get, "/v2/tasks")
        XCTAssertEqual(stored.text, #"{"tasks":[]}"#)
    }

    func testUnknownIdsAre404AndDuplicatesAre409() async throws {
        let r = try await request(.get, "/v2/apps/nope")
        XCTAssertEqual(r.status, 404)
        let first = try await post(sleeper("/dup", instances: 0))
        let second = try await post(sleeper("/dup", instances: 0))
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual(second.status, 409)
        let del = try await request(.delete, "/v2/apps/nope")
        XCTAssertEqual(del.status, 404)
    }
}
