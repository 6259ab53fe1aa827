import ArgumentParser
import Foundation
import GGUF
import Tokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of TEXT as the model's tokenizer encodes it.")

    @Option(help: "Path to a GGUF file.") var model: String
    @Flag(help: "Print a JSON array.") var json = false
    @Flag(help: "Parse special tokens written in the text (e.g. <|im_start|>).") var special = false
    @Flag(help: "Add BOS (and EOS) as the model asks.") var bos = false
    @Argument(help: "The text; '-' reads standard input verbatim.") var text: String

    func run() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: model))
        let input = text == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : text
        let ids = tokenizer.encode(input, addSpecial: bos, parseSpecial: special)
        if json {
            print("[" + ids.map(String.init).joined(separator: ",") + "]")
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the text of token ids.")

    @Option(help: "Path to a GGUF file.") var model: String
    @Argument(help: "Token ids.") var ids: [Int32]

    func run() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: model))
        let count = tokenizer.vocabulary.count
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= count }) {
            throw ValidationError("token id \(bad) is outside the vocabulary (0..<\(count))")
        }
        FileHandle.standardOutput.write(Data(tokenizer.decode(ids).utf8))
        print("")
    }
}
