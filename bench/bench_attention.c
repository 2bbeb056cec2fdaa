/* bench-attention: one layer's multi-head attention of the towers, the BLAS path (per head two
 * OpenBLAS products and the T x T scores, the softmax split across the cores) against the fused
 * kernel (core/encode/attention.h, the heads split across the cores), called alternately in one
 * process so that both see the same machine. Prints one JSON line per shape: best and median ms
 * of each path and their GFLOP/s (the two products' 4 T^2 H FLOPs).
 *
 *   bench-attention [--reps N] [--threads N]
 *
 * Shapes: LLaVA-1.5's tower (577 tokens, 1024 wide, 16 heads), ViT-B/16 (197, 768, 12), SigLIP
 * so400m (729, 1152, 16 heads of 72) and CLIP's text tower (77, 512, 8, causal). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "bench_util.h"
#include "pair.h"
#include "vit.h"

typedef struct shape {
    const char *name;
    size_t T, H, heads;
    int causal;
} shape;

int main(int argc, char **argv) {
    size_t reps = 20;
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-attention [--reps N] [--threads N]\n");
            return 2;
        }
    }
    if (reps < 1 || threads < 1) {
        fprintf(stderr, "bench-attention: --reps and --threads must be >= 1\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    if (!va_available()) {
        printf("{\"bench\":\"attention\",\"fused\":false,\"reason\":\"no AVX2/FMA\"}\n");
        return 0;
    }
    const shape shapes[] = {{"llava-1.5 tower", 577, 1024, 16, 0},
                            {"vit-b/16", 197, 768, 12, 0},
                            {"siglip-so400m", 729, 1152, 16, 0},
                            {"clip text", 77, 512, 8, 1}};
    vm_pair *pair = NULL;
    if (vm_pair_new(&pair, NULL) != SP_OK) {
        fprintf(stderr, "bench-attention: cannot start the helper thread\n");
        return 1;
    }
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const shape *sh = &shapes[si];
        size_t T = sh->T, H = sh->H;
        vit_tower t = {
            .hidden = (uint32_t)H, .heads = (uint32_t)sh->heads, .inter = (uint32_t)H, .layers = 1};
        float *block = malloc(vit_scratch_floats(&t, T, 1) * sizeof(float));
        float *tokens = bench_tokens(T, 3 * H, 16, 7 + si);
        double *tb = malloc(reps * sizeof(double)), *tf = malloc(reps * sizeof(double));
        if (!block || !tokens || !tb || !tf) {
            fprintf(stderr, "bench-attention: out of memory\n");
            return 1;
        }
        vit_scratch s;
        vit_scratch_bind(&t, T, 1, block, &s);
        s.pair = pair;
        for (size_t r = 0; r <= reps; r++) {
            double a = bench_now_ms();
            vit_attention(tokens, T, (uint32_t)H, (uint32_t)sh->heads, sh->causal, s.scores,
                          s.inv_sum, pair, s.attn);
            double b = bench_now_ms();
            vit_attention_fused(tokens, T, 1, (uint32_t)H, (uint32_t)sh->heads, sh->causal,
                                s.attn_ws, pair, s.attn);
            double c = bench_now_ms();
            if (r > 0) { /* the first round warms the caches and the threads */
                tb[r - 1] = b - a;
                tf[r - 1] = c - b;
            }
        }
        /* bench_median sorts in place: the best is then the first */
        double tb_med = bench_median(tb, reps), tf_med = bench_median(tf, reps);
        double flop = 4.0 * (double)T * (double)T * (double)H;
        printf("{\"bench\":\"attention\",\"shape\":\"%s\",\"tokens\":%zu,\"hidden\":%zu,"
               "\"heads\":%zu,\"causal\":%s,\"threads\":%d,\"reps\":%zu,"
               "\"blas_ms_best\":%.3f,\"blas_ms_median\":%.3f,\"fused_ms_best\":%.3f,"
               "\"fused_ms_median\":%.3f,\"blas_gflops\":%.1f,\"fused_gflops\":%.1f}\n",
               sh->name, T, H, sh->heads, sh->causal ? "true" : "false", threads, reps, tb[0],
               tb_med, tf[0], tf_med, flop / (tb[0] * 1e6), flop / (tf[0] * 1e6));
        free(block);
        free(tokens);
        free(tb);
        free(tf);
    }
    vm_pair_free(pair);
    return 0;
}
