import ModelStore

/// A hub model as Ollama names it, `hf.co/OWNER/REPO[:TAG]` (or `huggingface.co/…`), which is how
/// `ollama pull` takes Hugging Face models: the tag is the quantization (`latest`: the default choice).
struct OllamaModelName: Equatable {
    let spec: ModelSpec

    init?(_ name: String) {
        let lower = name.lowercased()
        guard let prefix = ["hf.co/", "huggingface.co/"].first(where: { lower.hasPrefix($0) }) else { return nil }
        var rest = String(name.dropFirst(prefix.count)), tag: String?
        if let colon = rest.lastIndex(of: ":") {
            tag = String(rest[rest.index(after: colon)...])
            rest = String(rest[..<colon])
        }
        guard tag?.isEmpty != true, let base = try? ModelSpec(parsing: rest), base.choice == nil else { return nil }
        spec = ModelSpec(owner: base.owner, repo: base.repo, choice: tag?.lowercased() == "latest" ? nil : tag)
    }

    /// What the download jobs take: `OWNER/REPO[@QUANT]`.
    var specText: String { "\(spec.owner)/\(spec.repo)" + (spec.choice.map { "@" + $0 } ?? "") }

    /// The downloaded model it names: of its repository, of its quantization when the tag gives one
    /// (the only one of the repository otherwise).
    func stored(in models: [StoredModel]) -> StoredModel? {
        let repo = models.filter { $0.owner.lowercased() == spec.owner.lowercased() && $0.repo.lowercased() == spec.repo.lowercased() }
        guard let choice = spec.choice?.lowercased() else { return repo.count == 1 ? repo[0] : nil }
        let matching = repo.filter { $0.quantization?.lowercased() == choice || $0.key.lowercased().hasSuffix("@" + choice) }
        return matching.count == 1 ? matching[0] : nil
    }
}
