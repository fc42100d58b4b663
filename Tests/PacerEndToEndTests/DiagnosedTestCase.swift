import Foundation
import XCTest

/// Base of every end-to-end test that prints its processes' logs when it fails. It keeps the
/// failures' messages and prints them again as the last thing its `tearDown` does: CI shows the
/// end of a long log, and kilobytes of process logs printed after a failure used to push the one
/// line saying what failed out of view. Subclasses print their logs first, then call
/// `super.tearDown()`.
class DiagnosedTestCase: XCTestCase {
    private var failures: [String] = []

    /// Whether this test has failed so far (an assertion or a thrown error).
    var failed: Bool { testRun.map { $0.failureCount + $0.unexpectedExceptionCount > 0 } ?? false }

    override func recordFailure(
        withDescription description: String, inFile filePath: String, atLine lineNumber: Int, expected: Bool
    ) {
        failures.append("\((filePath as NSString).lastPathComponent):\(lineNumber): \(description)")
        super.recordFailure(withDescription: description, inFile: filePath, atLine: lineNumber, expected: expected)
    }

    override func tearDown() async throws {
        if !failures.isEmpty { print("===== \(name) failed:\n" + failures.joined(separator: "\n")) }
        failures = []
        try await super.tearDown()
    }
}
