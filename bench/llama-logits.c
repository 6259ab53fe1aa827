// llama.cpp's logits for the last position of a prompt, by a direct llama_decode (no server), with
// the prompt fed in one batch or token by token: the reference for bench/logits-vs-llama and a
// measure of how far llama.cpp's own result moves with its batching.
// Usage: llama-logits MODEL PROMPT OUT.f32 batch|steps   (2 threads, context 2048)
#include "llama.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s MODEL PROMPT OUT batch|steps\n", argv[0]); return 2; }
    llama_backend_init();
    struct llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) return 1;
    struct llama_context_params params = llama_context_default_params();
    params.n_ctx = 2048; params.n_threads = 2; params.n_threads_batch = 2;
    struct llama_context *ctx = llama_init_from_model(model, params);
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    static llama_token tokens[4096];
    int n = llama_tokenize(vocab, argv[2], (int) strlen(argv[2]), tokens, 4096, true, true);
    if (n <= 0) return 1;
    if (strcmp(argv[4], "steps") == 0) {
        for (int i = 0; i < n; i++) if (llama_decode(ctx, llama_batch_get_one(tokens + i, 1))) return 1;
    } else if (llama_decode(ctx, llama_batch_get_one(tokens, n))) return 1;
    FILE *out = fopen(argv[3], "wb");
    if (!out) return 1;
    fwrite(llama_get_logits_ith(ctx, -1), sizeof(float), (size_t) llama_vocab_n_tokens(vocab), out);
    fclose(out);
    printf("%d\n", n);
    return 0;
}
