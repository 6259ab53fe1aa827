"""Small GGUF files for the GGUF fuzz target's corpus, written with llama.cpp's GGUF writer (the
`gguf` package): a llama model with a byte-level BPE vocabulary and a bert encoder with a
WordPiece one, every tensor a few values. Not committed: scripts/fuzz writes them at run time."""
import sys
import numpy as np
import gguf

out = sys.argv[1]
rng = np.random.default_rng(0)


def tensor(w, name, *shape):
    w.add_tensor(name, rng.standard_normal(shape).astype(np.float32))


def llama(path):
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1); w.add_context_length(64); w.add_embedding_length(8); w.add_feed_forward_length(16)
    w.add_head_count(2); w.add_head_count_kv(1); w.add_layer_norm_rms_eps(1e-5); w.add_rope_freq_base(10000.0)
    tokens = ["<s>", "</s>", "a", "b", "c", "Ġ", "ab", "Ġa", "<|im_start|>", "<|im_end|>", "1", "2", "3", "w", "ö", "H"]
    w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("default"); w.add_token_list(tokens)
    w.add_token_types([3, 3] + [1] * 6 + [3, 3] + [1] * 6); w.add_token_merges(["a b", "Ġ a"])
    w.add_bos_token_id(0); w.add_eos_token_id(1)
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    tensor(w, "token_embd.weight", 16, 8); tensor(w, "output_norm.weight", 8)
    tensor(w, "blk.0.attn_norm.weight", 8); tensor(w, "blk.0.ffn_norm.weight", 8)
    tensor(w, "blk.0.attn_q.weight", 8, 8); tensor(w, "blk.0.attn_k.weight", 4, 8); tensor(w, "blk.0.attn_v.weight", 4, 8)
    tensor(w, "blk.0.attn_output.weight", 8, 8)
    tensor(w, "blk.0.ffn_gate.weight", 16, 8); tensor(w, "blk.0.ffn_up.weight", 16, 8); tensor(w, "blk.0.ffn_down.weight", 8, 16)
    write(w)


def bert(path):
    w = gguf.GGUFWriter(path, "bert")
    w.add_block_count(1); w.add_context_length(32); w.add_embedding_length(8); w.add_feed_forward_length(16)
    w.add_head_count(2); w.add_layer_norm_eps(1e-12); w.add_causal_attention(False); w.add_pooling_type(gguf.PoolingType.CLS)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "a"]
    w.add_tokenizer_model("bert"); w.add_token_list(tokens); w.add_token_types([3, 2, 3, 3, 1, 1, 1, 1])
    w.add_token_type_count(2)
    tensor(w, "token_embd.weight", 8, 8); tensor(w, "token_types.weight", 2, 8); tensor(w, "position_embd.weight", 32, 8)
    tensor(w, "token_embd_norm.weight", 8); tensor(w, "token_embd_norm.bias", 8)
    for name, shape in [("attn_q", (8, 8)), ("attn_k", (8, 8)), ("attn_v", (8, 8)), ("attn_output", (8, 8)), ("ffn_up", (16, 8)), ("ffn_down", (8, 16))]:
        tensor(w, f"blk.0.{name}.weight", *shape); tensor(w, f"blk.0.{name}.bias", shape[0])
    for norm in ["attn_output_norm", "layer_output_norm"]:
        tensor(w, f"blk.0.{norm}.weight", 8); tensor(w, f"blk.0.{norm}.bias", 8)
    write(w)


def write(w):
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


llama(f"{out}/llama.gguf")
bert(f"{out}/bert.gguf")
