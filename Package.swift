// swift-tools-version:6.0
import PackageDescription

// Hot code is compiled with full optimisation in release builds (`swift build -c release`);
// debug builds stay fast to compile for the unit tests.
let package = Package(
    name: "Wick",
    products: [
        .executable(name: "wick", targets: ["wick"]),
        // For the fuzz targets (Fuzz/, a package of its own built by scripts/fuzz).
        .library(name: "WickParsers", targets: ["GGUF", "Tokenizers", "Models", "Templates", "Grammar", "Server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .target(name: "GGUF"),
        .target(name: "Tokenizers", dependencies: ["GGUF"]),
        // One target per SIMD level, compiled with that level's features; `Kernels` picks one at run time.
        .target(name: "CachePrefetch"),
        .target(name: "KernelsAVX2", dependencies: ["CachePrefetch"], swiftSettings: [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c"])]),
        .target(
            name: "KernelsAVX512",
            dependencies: ["KernelsAVX2"],
            swiftSettings: [.unsafeFlags(["-Xcc", "-mavx512f", "-Xcc", "-mavx512bw", "-Xcc", "-mavx512vl", "-Xcc", "-mavx512vnni",
                                          "-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c"])]
        ),
        .target(name: "Kernels", dependencies: ["GGUF", "KernelsAVX2", "KernelsAVX512"]),
        .target(name: "Models", dependencies: ["GGUF", "Kernels"]),
        .target(name: "Templates"),
        .target(
            name: "ModelStore",
            dependencies: ["GGUF", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        .target(name: "Grammar", dependencies: ["Templates"]),
        .target(name: "Engine", dependencies: ["Models", "Tokenizers", "Grammar"]),
        .target(
            name: "Server",
            dependencies: ["Engine", "Grammar", "Models", "Tokenizers", "Templates", "GGUF", "ModelStore", "Kernels", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "UnixSignals", package: "swift-service-lifecycle")],
            // The web interface at `/`, compiled into the binary (`WebInterface`).
            resources: ["index.html", "style.css", "app.js", "api.js", "models.js", "load.js", "chat.js", "server.js", "discover.js", "logs.js"].map { .embedInCode("Web/" + $0) }
        ),
        .executableTarget(
            name: "wick",
            dependencies: [
                "GGUF", "Tokenizers", "Kernels", "Models", "Engine", "Grammar", "Server", "ModelStore", "Templates",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "GGUF", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "GGUF", "TestSupport"]),
        // Tests on the real models fetched by scripts/fetch-test-models.
        .testTarget(name: "IntegrationTests", dependencies: ["GGUF", "Tokenizers", "Models", "Engine"], exclude: ["Fixtures"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Tokenizers", "GGUF", "TestSupport"]),
        .testTarget(name: "GrammarTests", dependencies: ["Grammar", "Templates", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "GGUF", "Kernels", "TestSupport"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore", "GGUF", "TestSupport"]),
        .testTarget(name: "TemplatesTests", dependencies: ["Templates"], exclude: ["Fixtures"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Templates", "Engine", "Grammar", "GGUF", "ModelStore", "TestSupport", .product(name: "Hummingbird", package: "hummingbird"),
                                                        .product(name: "NIOCore", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
