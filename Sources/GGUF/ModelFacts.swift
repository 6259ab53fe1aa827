/// What the CLI shows about a model file (the columns users know from `lms ls`).
public struct ModelFacts: Sendable, Equatable, Codable {
    public struct TypeShare: Sendable, Equatable, Codable {
        public let type: String
        public let tensors: Int
        public let parameters: Int
    }

    public let name: String
    public let architecture: String
    public let parameters: Int
    /// From `general.file_type`, else the type holding most parameters.
    public let quantization: String
    public let tensorTypes: [TypeShare]
    public let contextLength: Int?
    public let embeddingLength: Int?
    public let layers: Int?
    public let headCount: Int?
    public let headCountKV: Int?
    public let vocabularySize: Int?
    public let sizeBytes: Int

    public init(file: GGUFFile, fallbackName: String) {
        name = (try? file.string("general.name")) ?? fallbackName
        architecture = file.architecture ?? "unknown"
        parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        var shares: [GGMLType: (Int, Int)] = [:]
        for t in file.tensors {
            let s = shares[t.type] ?? (0, 0)
            shares[t.type] = (s.0 + 1, s.1 + t.elementCount)
        }
        tensorTypes = shares
            .map { TypeShare(type: $0.key.name, tensors: $0.value.0, parameters: $0.value.1) }
            .sorted { ($0.parameters, $0.type) > ($1.parameters, $1.type) }
        if let code = try? file.integer("general.file_type"), let named = FileType.name(of: code) {
            quantization = named
        } else {
            quantization = tensorTypes.first?.type ?? "unknown"
        }
        contextLength = file.contextLength
        embeddingLength = try? file.integer(file.architectureKey("embedding_length"))
        layers = try? file.integer(file.architectureKey("block_count"))
        headCount = try? file.integer(file.architectureKey("attention.head_count"))
        headCountKV = try? file.integer(file.architectureKey("attention.head_count_kv"))
        vocabularySize = file.metadata["tokenizer.ggml.tokens"]?.array?.count
        sizeBytes = file.fileSize
    }

    /// "135M", "494M", "1.2B", "12B".
    public static func humanCount(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1e9 { return d >= 1e10 ? "\(Int((d / 1e9).rounded()))B" : String(format1(d / 1e9)) + "B" }
        if d >= 1e6 { return "\(Int((d / 1e6).rounded()))M" }
        if d >= 1e3 { return "\(Int((d / 1e3).rounded()))K" }
        return "\(n)"
    }

    /// "95.3 MiB", "7.1 GiB".
    public static func humanBytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : format1(v) + " " + units[u]
    }

    private static func format1(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// `general.file_type` codes (llama.cpp's ftype numbering) and their names.
public enum FileType {
    static let names: [Int: String] = [
        0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
        10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
        16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
        22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
        28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
        38: "MXFP4_MOE",
    ]

    public static func name(of code: Int) -> String? {
        // Bit 10 marks files quantized with a different output tensor type ("guessed"); the rest is the code.
        names[code & ~1024]
    }
}
