/// One model a hub repository offers: a GGUF file, or the parts of a split one.
public struct RepoModel: Sendable, Equatable {
    public let quantization: String?
    /// The name's stem, lowercased (what tells two files of the same quantization apart).
    public let stem: String
    public let files: [HubFile]

    public var sizeBytes: Int64 { files.reduce(0) { $0 + $1.size } }
    /// What the user types after `@` to pick it.
    public var label: String { quantization ?? stem }

    /// The complete models among a repository's files (files of a split model grouped in part
    /// order), smallest first, then by label.
    public static func models(in files: [HubFile]) -> [RepoModel] {
        ModelFileName.completeModels(files, path: \.path).map { model in
            RepoModel(quantization: model.name.quantization, stem: model.name.stem.lowercased(), files: model.files)
        }.sorted { ($0.sizeBytes, $0.label) < ($1.sizeBytes, $1.label) }
    }

    /// The model `@quant` names (a quantization or a file stem, case-insensitive), or nil when none does.
    public static func pick(_ quant: String, in models: [RepoModel]) -> RepoModel? {
        let q = quant.lowercased()
        return models.first { $0.quantization == q } ?? models.first { $0.stem == q }
    }

    /// Quantizations in the order a default is chosen: the usual balance of size and quality first.
    static let preference = ["q4_k_m", "q4_k_s", "q5_k_m", "q4_0", "q5_k_s", "q6_k", "q8_0", "iq4_xs", "q3_k_l", "q3_k_m"]

    /// Whether its weights fit in `memoryBytes` with room for a context.
    public func fits(memoryBytes: Int64) -> Bool { Double(sizeBytes) * 1.2 < Double(memoryBytes) }

    /// The model offered by default: the first of `preference` whose file fits in `memoryBytes`
    /// with room for a context, else the largest that fits, else the smallest.
    public static func defaultChoice(in models: [RepoModel], memoryBytes: Int64) -> RepoModel? {
        let fits = models.filter { $0.fits(memoryBytes: memoryBytes) }
        for q in preference { if let m = fits.first(where: { $0.quantization == q }) { return m } }
        return fits.last ?? models.first
    }
}
