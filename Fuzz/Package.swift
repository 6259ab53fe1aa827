// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets, one per parser of untrusted input. Built and run by scripts/fuzz
// (`-sanitize=fuzzer,address`, `-enable-testing` for the parsers' internal entry points); each
// target is a library-mode executable whose `LLVMFuzzerTestOneInput` libFuzzer's own main calls.
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "WickFuzz",
    dependencies: [.package(name: "Wick", path: "..")],
    targets: [
        .executableTarget(name: "FuzzGGUF", dependencies: [.product(name: "WickParsers", package: "Wick")], swiftSettings: fuzzer),
        .executableTarget(name: "FuzzRequests", dependencies: [.product(name: "WickParsers", package: "Wick")], swiftSettings: fuzzer),
        .executableTarget(name: "FuzzTemplates", dependencies: [.product(name: "WickParsers", package: "Wick")], swiftSettings: fuzzer),
        .executableTarget(name: "FuzzReplies", dependencies: [.product(name: "WickParsers", package: "Wick")], swiftSettings: fuzzer),
        .executableTarget(name: "FuzzSchemas", dependencies: [.product(name: "WickParsers", package: "Wick")], swiftSettings: fuzzer),
    ],
    swiftLanguageModes: [.v6]
)
