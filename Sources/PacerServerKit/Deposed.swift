import Foundation
import Logging

/// A deposed leader stops at once (crash-only, as Marathon does; its supervisor starts it again,
/// and it campaigns as a follower). It exits rather than unwinding: unwinding cancels the HTTP
/// server's task, and NIO traps when a server is cancelled while an accepted connection still
/// waits to be served (swift-nio#3481), which kept a deposed replica alive in the crash reporter
/// for over ten seconds (FrameworkHATests.testF25TwentyAbdicationsDuringDeploys). The fenced store
/// already refuses a deposed leader's writes, so nothing in flight needs finishing.
public func exitDeposed(_ logger: Logger, _ what: String) -> Never {
    logger.critical("\(what) leadership lost; exiting so a new leader can take over")
    exit(EXIT_FAILURE)
}
