import Foundation

/// What the CPU can run, read once from /proc/cpuinfo (Linux). `WICK_SIMD=portable` forces the
/// portable path and `WICK_SIMD=avx2` stops at AVX2, e.g. to compare paths.
public enum CPUFeatures {
    public static let flags: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }()

    /// The path asked for with `WICK_SIMD` (portable, avx2), if any.
    public static var requested: String? { ProcessInfo.processInfo.environment["WICK_SIMD"] }

    public static var forcedPortable: Bool { requested == "portable" }

    public static var hasAVX2: Bool { flags.isSuperset(of: ["avx2", "fma", "f16c"]) }

    public static var hasVNNI: Bool { hasAVX2 && flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"]) }

    /// Whether the AVX2 paths are in use.
    public static let useAVX2 = hasAVX2 && !forcedPortable
}
