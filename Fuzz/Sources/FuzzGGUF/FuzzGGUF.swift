import FuzzEntry
import GGUF
@testable import Models
import Tokenizers

/// A GGUF file's bytes read the way a load reads them: the file parsed (every count, length and
/// range checked), the model facts shown by `wick ls`, the tokenizer built from its metadata, the
/// architecture's configuration and the memory estimate. Errors are expected; crashes are not.
func fuzzGGUF(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let file = try? GGUFFile(data: Array(UnsafeRawBufferPointer(start: start, count: count))) else { return 0 }
    for (key, value) in file.metadata { _ = "\(key)=\(value)" }
    for tensor in file.tensors { _ = file.data(of: tensor).count }
    _ = ModelFacts(file: file, fallbackName: "fuzz")
    _ = ArchitectureRegistry.refusal(of: file)
    let tokenizer = try? Tokenizer(gguf: file)
    if let tokenizer { _ = tokenizer.encode("Hello <|im_start|> wörld 123", addSpecial: true) }
    if let config = try? ArchitectureRegistry.config(for: file, vocabularySize: 64, sequenceLength: 256) {
        _ = try? ModelWeights(gguf: file, config: config)
    }
    _ = try? MemoryEstimate(gguf: file, contextLength: 256, threads: 1)
    return 0
}

@main struct Entry {
    static func main() { runFuzzer { data, size in data.map { fuzzGGUF(UnsafeRawPointer($0), size) } ?? 0 } }
}
