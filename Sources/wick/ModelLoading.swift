import GGUF
import Models
import Tokenizers

/// A model file opened for inference: its tokenizer and decoder.
struct LoadedModel {
    let file: GGUFFile
    let tokenizer: Tokenizer
    let transformer: Transformer

    init(path: String, threads: Int) throws {
        file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(gguf: file)
        transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count, threads: threads)
    }
}
