import Foundation
import GGUF
@testable import Server

/// A complete but tiny chat model written to a temporary file: a llama-style decoder (2 layers,
/// embedding 32) with a SentencePiece vocabulary of control tokens and the 256 byte tokens, and a
/// ChatML template with Hermes-style tool calls. Its answers are noise; its shapes are real.
enum TinyChatModel {
    static let template = """
    {%- if tools %}<|im_start|>system\nTools: {{ tools | tojson }} Call them as <tool_call>{"name": ..., "arguments": ...}</tool_call><|im_end|>\n{% endif %}\
    {%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
    {%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}
    """

    static func file(template: String = template) throws -> String {
        let tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"] + (0..<256).map { String(format: "<0x%02X>", $0) }
        let n = tokens.count
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("llama.context_length", .uint32(512))
        w.set("llama.embedding_length", .uint32(32))
        w.set("llama.block_count", .uint32(2))
        w.set("llama.feed_forward_length", .uint32(64))
        w.set("llama.attention.head_count", .uint32(2))
        w.set("llama.attention.head_count_kv", .uint32(1))
        w.set("tokenizer.ggml.model", .string("llama"))
        w.set("tokenizer.ggml.tokens", strings: tokens)
        w.set("tokenizer.ggml.scores", floats: [Float](repeating: 0, count: n))
        w.set("tokenizer.ggml.token_type", int32s: [2, 3, 3, 3, 3] + [Int32](repeating: 6, count: 256))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.chat_template", .string(template))
        func tensor(_ name: String, _ dims: [Int]) {
            w.addTensor(name, dimensions: dims, floats: (0..<dims.reduce(1, *)).map { Float(($0 * 7919) % 13) / 13 - 0.5 })
        }
        tensor("token_embd.weight", [32, n])
        tensor("output_norm.weight", [32])
        for l in 0..<2 {
            let p = "blk.\(l)."
            tensor(p + "attn_norm.weight", [32])
            tensor(p + "attn_q.weight", [32, 32])
            tensor(p + "attn_k.weight", [32, 16])
            tensor(p + "attn_v.weight", [32, 16])
            tensor(p + "attn_output.weight", [32, 32])
            tensor(p + "ffn_norm.weight", [32])
            tensor(p + "ffn_gate.weight", [32, 64])
            tensor(p + "ffn_up.weight", [32, 64])
            tensor(p + "ffn_down.weight", [64, 32])
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wick-tiny-\(UUID().uuidString).gguf").path
        try Data(w.bytes()).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func load(queue: InferenceQueue = InferenceQueue(threads: 1, maxQueued: 4), contextLength: Int = 256,
                     template: String = template) throws -> ChatModel {
        let path = try file(template: template)
        return try ChatModel(file: GGUFFile(path: path), path: path, id: "tiny", contextLength: contextLength, queue: queue)
    }
}
