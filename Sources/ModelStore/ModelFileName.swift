/// What a GGUF file's name says: its quantization (`Q4_K_M` in `Qwen2.5-7B-Instruct-Q4_K_M.gguf`)
/// and, for a model published in parts, which part it is (`-00001-of-00003`).
public struct ModelFileName: Sendable, Equatable {
    /// The name without directories, split suffix and `.gguf`.
    public let stem: String
    /// Lowercase quantization (`q4_k_m`, `iq4_xs`, `f16`), when the name carries one.
    public let quantization: String?
    /// 1-based part number and part count of a split model.
    public let part: (index: Int, count: Int)?

    public static func == (a: ModelFileName, b: ModelFileName) -> Bool {
        a.stem == b.stem && a.quantization == b.quantization && a.part?.index == b.part?.index && a.part?.count == b.part?.count
    }

    /// Nil unless `path` ends in `.gguf`; projector files (`mmproj-…`) are not models.
    public init?(_ path: String) {
        let name = String(path.split(separator: "/").last ?? "")
        guard name.lowercased().hasSuffix(".gguf"), !name.lowercased().hasPrefix("mmproj") else { return nil }
        var stem = String(name.dropLast(5))
        part = Self.splitSuffix(stem)
        if part != nil { stem = String(stem.dropLast("-00001-of-00003".count)) }
        guard !stem.isEmpty else { return nil }
        self.stem = stem
        quantization = Self.quantization(in: stem)
    }

    /// `-NNNNN-of-MMMMM` at the end of a stem, as llama.cpp's splitter names parts.
    static func splitSuffix(_ stem: String) -> (Int, Int)? {
        let b = Array(stem.utf8)
        guard b.count > 15 else { return nil }
        let tail = Array(b[(b.count - 15)...])
        let digits = { (r: Range<Int>) -> Int? in
            tail[r].allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? Int(String(decoding: tail[r], as: UTF8.self)) : nil
        }
        guard tail[0] == UInt8(ascii: "-"), Array(tail[6..<10]) == Array("-of-".utf8),
              let index = digits(1..<6), let count = digits(10..<15), count >= 1, (1...count).contains(index) else { return nil }
        return (index, count)
    }

    /// The last name segment (between `-`, `_` or `.`) that is a quantization type, with its
    /// size suffix joined back (`Q4_K` + `M`, `IQ4` + `XS`, `UD-Q4_K_XL` keeps `q4_k_xl`).
    static func quantization(in stem: String) -> String? {
        let lower = stem.lowercased()
        let parts = lower.split(whereSeparator: { $0 == "-" || $0 == "." }).map(String.init)
        for part in parts.reversed() {
            let pieces = part.split(separator: "_").map(String.init)
            // A quant starts at a piece like q4, iq3, f16, bf16, and runs to the end of the part.
            for (i, piece) in pieces.enumerated() where isQuantHead(piece) {
                return pieces[i...].joined(separator: "_")
            }
        }
        return nil
    }

    private static func isQuantHead(_ piece: String) -> Bool {
        if ["f16", "f32", "bf16", "fp16"].contains(piece) { return true }
        var rest = Substring(piece)
        if rest.hasPrefix("iq") { rest = rest.dropFirst(2) } else if rest.hasPrefix("q") || rest.hasPrefix("tq") { rest = rest.drop(while: { $0 == "t" }).dropFirst() } else { return false }
        return !rest.isEmpty && rest.allSatisfy(\.isNumber)
    }
}

extension ModelFileName {
    /// The complete models among a repository's files, each named by its path in the repository: a
    /// file alone, or every part of a split model (same folder, stem and part count) in part order.
    /// A split model missing a part is left out.
    static func completeModels<File>(_ files: [File], path: (File) -> String) -> [(name: ModelFileName, files: [File])] {
        var groups: [String: [(name: ModelFileName, file: File)]] = [:]
        for file in files {
            let p = path(file)
            guard let name = ModelFileName(p) else { continue }
            let dir = p.split(separator: "/").dropLast().joined(separator: "/")
            groups["\(dir)/\(name.stem)#\(name.part?.count ?? 0)", default: []].append((name, file))
        }
        return groups.values.compactMap { members in
            let sorted = members.sorted { ($0.name.part?.index ?? 1) < ($1.name.part?.index ?? 1) }
            guard sorted.count == (sorted[0].name.part?.count ?? 1),
                  sorted.enumerated().allSatisfy({ ($0.element.name.part?.index ?? 1) == $0.offset + 1 }) else { return nil }
            return (sorted[0].name, sorted.map(\.file))
        }
    }
}
