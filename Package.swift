// swift-tools-version:6.0
import PackageDescription

// Hot code is compiled with full optimisation in release builds (`swift build -c release`);
// debug builds stay fast to compile for the unit tests.
let package = Package(
    name: "Wick",
    products: [
        .executable(name: "wick", targets: ["wick"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "GGUF"),
        .target(name: "Tokenizers", dependencies: ["GGUF"]),
        .executableTarget(
            name: "wick",
            dependencies: [
                "GGUF", "Tokenizers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "GGUF"]),
        // Tests on the real models fetched by scripts/fetch-test-models.
        .testTarget(name: "IntegrationTests", dependencies: ["GGUF", "Tokenizers"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
