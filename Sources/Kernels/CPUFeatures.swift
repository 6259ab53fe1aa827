import Foundation

/// What the CPU can run, read once from /proc/cpuinfo (Linux). `WICK_SIMD=portable` forces the
/// portable path, e.g. to compare paths.
public enum CPUFeatures {
    public static let flags: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }()

    public static var forcedPortable: Bool { ProcessInfo.processInfo.environment["WICK_SIMD"] == "portable" }

    public static var hasAVX2: Bool { flags.isSuperset(of: ["avx2", "fma", "f16c"]) }

    /// Whether the AVX2 paths are in use.
    public static let useAVX2 = hasAVX2 && !forcedPortable
}
