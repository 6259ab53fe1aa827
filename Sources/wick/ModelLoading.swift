import GGUF
import Models
import Tokenizers

/// A model file opened for inference: its tokenizer and decoder.
struct LoadedModel {
    let file: GGUFFile
    let tokenizer: Tokenizer
    let transformer: Transformer

    /// `sequenceLength`: the longest sequence it will run.
    init(path: String, threads: Int, sequenceLength: Int) throws {
        file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(gguf: file)
        transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count, sequenceLength: sequenceLength, threads: threads)
    }
}
