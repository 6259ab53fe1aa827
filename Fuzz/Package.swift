// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets, one per parser of untrusted input. Built and run by scripts/fuzz
// (`-sanitize=fuzzer,address`, `-enable-testing` for the parsers' internal entry points); each
// target's main hands its entry to libFuzzer's driver (`FuzzEntry`, `FuzzDriver`).
let parsers: [Target.Dependency] = [.product(name: "WickParsers", package: "Wick"), "FuzzEntry"]

let package = Package(
    name: "WickFuzz",
    dependencies: [.package(name: "Wick", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .target(name: "FuzzEntry", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "FuzzGGUF", dependencies: parsers),
        .executableTarget(name: "FuzzRequests", dependencies: parsers),
        .executableTarget(name: "FuzzTemplates", dependencies: parsers),
        .executableTarget(name: "FuzzReplies", dependencies: parsers),
        .executableTarget(name: "FuzzSchemas", dependencies: parsers),
    ],
    swiftLanguageModes: [.v6]
)
