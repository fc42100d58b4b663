// swift-tools-version:6.0
// Pacer: run long-lived services on a cluster and reach them through a load balancer.
// Dependencies point down only: Model ← cores ← store/client/server kit ← shells ← CLI.
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
/// `PACER_SCHEMA_REHEARSAL=1 swift build` builds the current code as if it were the next release:
/// its framework store schema is one higher, with a migration that rewrites every record. The
/// rolling-upgrade test runs it beside the normal build (`make test` makes both); only the apps
/// shell is compiled differently, so the second build costs one module, not the whole package.
let rehearsal: [SwiftSetting] =
    ProcessInfo.processInfo.environment["PACER_SCHEMA_REHEARSAL"] == "1" ? [.define("PACER_SCHEMA_REHEARSAL")] : []

let package = Package(
    name: "pacer",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "pacer", targets: ["pacer"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1")
    ],
    targets: [
        // L0: values, Codable, validation. No I/O.
        .target(name: "PacerModel", swiftSettings: strict),
        // L1: pure cores. Events in, directives out; time and ids passed in.
        .target(
            name: "PacerMasterCore",
            dependencies: [
                "PacerModel", .product(name: "DequeModule", package: "swift-collections")
            ], swiftSettings: strict),
        .target(name: "PacerAgentCore", dependencies: ["PacerModel"], swiftSettings: strict),
        .target(name: "PacerAppsCore", dependencies: ["PacerModel"], swiftSettings: strict),
        // Routing tables, balancing algorithms, LB configuration: pure, no sockets.
        .target(
            name: "PacerLBCore", dependencies: ["PacerModel", .product(name: "Yams", package: "Yams")], swiftSettings: strict),
        // L2: persistence, wire clients, shared HTTP server plumbing.
        .target(
            name: "PacerStore",
            dependencies: [
                "PacerModel", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl")
            ], swiftSettings: strict),
        .target(
            name: "PacerClient",
            dependencies: [
                "PacerModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log")
            ], swiftSettings: strict),
        .target(
            name: "PacerServerKit",
            dependencies: [
                "PacerModel", "CPacerSys",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams")
            ], resources: [.embedInCode("openapi.yaml")], swiftSettings: strict),
        // libevent + OpenSSL: the load balancer's data path. Only PacerLB imports it.
        .systemLibrary(name: "CLibevent", pkgConfig: "libevent", providers: [.apt(["libevent-dev", "libssl-dev"])]),
        // System calls Swift cannot import directly (glibc _np spawn actions, prctl).
        .target(name: "CPacerSys"),
        // L3: shells that own a core and do the I/O.
        .target(
            name: "PacerMaster",
            dependencies: [
                "PacerMasterCore", "PacerServerKit", "PacerClient", "PacerStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ], swiftSettings: strict),
        .target(
            name: "PacerAgent",
            dependencies: [
                "PacerAgentCore", "PacerServerKit", "PacerClient", "CPacerSys",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ], swiftSettings: strict),
        // Simulated agents: the agent core behind real HTTP, tasks without processes (`pacer agent --simulate`).
        .target(
            name: "PacerAgentSim",
            dependencies: [
                "PacerAgentCore", "PacerServerKit", "PacerClient",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ], swiftSettings: strict),
        .target(
            name: "PacerApps",
            dependencies: [
                "PacerAppsCore", "PacerStore", "PacerServerKit", "PacerClient", "PacerConsole",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ], swiftSettings: strict + rehearsal),
        .target(
            name: "PacerLB",
            dependencies: [
                "PacerLBCore", "PacerClient", "CLibevent", "CPacerSys", "PacerServerKit",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ],
            // The data path's objects each belong to one worker thread, so the runtime's exclusivity
            // checks on their properties only cost: 2.9 % of the LB's CPU at L7 (perf: AccessSet::insert,
            // swift_begin/endAccess and their thread-local lookups). Debug builds (the tests) keep them.
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // L4: the one executable; wiring only.
        .executableTarget(
            name: "pacer",
            dependencies: [
                "PacerMaster", "PacerMasterCore", "PacerAgent", "PacerAgentSim", "PacerApps", "PacerClient", "PacerLB",
                "PacerServerKit", "PacerStore", "PacerLBCore", "PacerModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams")
            ], swiftSettings: strict),
        // The web console (/ui/): pages rendered from the framework's own API, as a client of it
        // with the viewer's credentials, so it shows exactly what that principal may see.
        .target(
            name: "PacerConsole",
            dependencies: [
                "PacerModel", "PacerClient", "PacerServerKit", "PacerLBCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache")
            ],
            resources: [
                .embedInCode("Resources/layout.mustache"), .embedInCode("Resources/apps.mustache"),
                .embedInCode("Resources/app.mustache"), .embedInCode("Resources/deployments.mustache"),
                .embedInCode("Resources/logs.mustache"), .embedInCode("Resources/traffic.mustache"),
                .embedInCode("Resources/cluster.mustache"), .embedInCode("Resources/events.mustache"),
                .embedInCode("Resources/console.css"), .embedInCode("Resources/console.js")
            ], swiftSettings: strict),
        .target(
            name: "PacerTestKit",
            dependencies: [
                "PacerModel", "PacerClient", "PacerServerKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client")
            ], swiftSettings: strict),

        .testTarget(name: "PacerModelTests", dependencies: ["PacerModel"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PacerConsoleTests", dependencies: ["PacerConsole"]),
        .testTarget(name: "PacerMasterCoreTests", dependencies: ["PacerMasterCore", "PacerTestKit"]),
        .testTarget(name: "PacerAgentCoreTests", dependencies: ["PacerAgentCore"]),
        .testTarget(
            name: "PacerAgentTests",
            dependencies: [
                "PacerAgent", "PacerAgentCore", "PacerAgentSim", "PacerClient", "PacerMaster", "PacerModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird")
            ]),
        .testTarget(name: "PacerAppsCoreTests", dependencies: ["PacerAppsCore"]),
        .testTarget(name: "PacerStoreTests", dependencies: ["PacerStore", "PacerTestKit", "PacerClient"]),
        .testTarget(
            name: "PacerAppsTests",
            dependencies: [
                "PacerApps", "PacerAppsCore", "PacerClient", "PacerModel", "PacerServerKit", "PacerStore", "PacerTestKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log")
            ]),
        .testTarget(name: "PacerLBCoreTests", dependencies: ["PacerLBCore"]),
        .testTarget(name: "PacerLBTests", dependencies: ["PacerLB", "CLibevent"]),
        .testTarget(
            name: "PacerSimulationTests", dependencies: ["PacerMasterCore", "PacerAgentCore", "PacerAppsCore", "PacerTestKit"]),
        .testTarget(
            name: "PacerEndToEndTests",
            dependencies: [
                "PacerTestKit", "PacerClient", "PacerModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl")
            ])
    ]
)
