/* The transformer layer on OpenBLAS (see vit.h). */
#include "vit.h"

#include <cblas.h>
#include <math.h>

size_t vit_scratch_floats(const vit_tower *t, size_t T, size_t B) {
    size_t H = t->hidden, F = t->inter, R = B * T;
    return R * H + R * 3 * H + R * H + T * T + R * F + T;
}

void vit_scratch_bind(const vit_tower *t, size_t T, size_t B, float *block, vit_scratch *s) {
    size_t H = t->hidden, R = B * T;
    s->h = block;
    s->qkv = s->h + R * H;
    s->attn = s->qkv + R * 3 * H;
    s->scores = s->attn + R * H;
    s->mlp = s->scores + T * T;
    s->inv_sum = s->mlp + R * t->inter;
}

void vit_linear(const float *x, size_t T, size_t in, const float *W, const float *b, size_t out,
                float *y, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)out, (int)in, 1.0f, x,
                (int)in, W, (int)in, beta, y, (int)out);
    if (b)
        vm_add_bias(y, T, out, b);
}

void vit_attention(const float *qkv, size_t T, uint32_t H, uint32_t heads, int causal,
                   float *scores, float *inv_sum, float *out) {
    const size_t dh = H / heads, ld = 3 * (size_t)H;
    const float scale = (float)(1.0 / sqrt((double)dh));
    /* One head at a time: scores = scale * Q_h K_h^T, softmax, out_h = P V_h. Standard BLAS has
     * no batched GEMM; these products are a few percent of the layer's FLOPs. The softmax leaves
     * its rows unnormalised and out_h's rows are scaled by 1 / sum instead: T x dh multiplies in
     * place of a pass over T x T scores (the softmax runs on one core while BLAS uses two). */
    for (uint32_t h = 0; h < heads; h++) {
        const float *q = qkv + h * dh, *k = qkv + H + h * dh, *v = qkv + 2 * (size_t)H + h * dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dh, scale, q,
                    (int)ld, k, (int)ld, 0.0f, scores, (int)T);
        vm_softmax_rows_unscaled(scores, T, T, T, causal, inv_sum);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dh, (int)T, 1.0f,
                    scores, (int)T, v, (int)ld, 0.0f, out + h * dh, (int)H);
        for (size_t i = 0; i < T; i++) {
            float *o = out + i * H + h * dh;
            for (size_t j = 0; j < dh; j++)
                o[j] *= inv_sum[i];
        }
    }
}

void vit_layer_forward_batch(const vit_tower *t, const vit_layer *L, float *x, size_t T, size_t B,
                             int causal, vit_scratch *s) {
    const size_t H = t->hidden, F = t->inter, R = B * T;
    vm_layernorm(x, s->h, R, H, L->ln1_w, L->ln1_b, t->eps);
    vit_linear(s->h, R, H, L->qkv_w, L->qkv_b, 3 * H, s->qkv, 0.0f);
    for (size_t b = 0; b < B; b++)
        vit_attention(s->qkv + b * T * 3 * H, T, t->hidden, t->heads, causal, s->scores, s->inv_sum,
                      s->attn + b * T * H);
    vit_linear(s->attn, R, H, L->o_w, L->o_b, H, x, 1.0f); /* residual: accumulate into x */
    vm_layernorm(x, s->h, R, H, L->ln2_w, L->ln2_b, t->eps);
    vit_linear(s->h, R, H, L->fc1_w, L->fc1_b, F, s->mlp, 0.0f);
    vm_activate(t->act, s->mlp, R * F);
    vit_linear(s->mlp, R, F, L->fc2_w, L->fc2_b, H, x, 1.0f);
}

void vit_layer_forward(const vit_tower *t, const vit_layer *L, float *x, size_t T, int causal,
                       vit_scratch *s) {
    vit_layer_forward_batch(t, L, x, T, 1, causal, s);
}

double vit_layer_flops(const vit_tower *t, size_t T) {
    double H = t->hidden, F = t->inter, n = (double)T;
    return 2.0 * n * H * (3 * H) + 2.0 * n * n * H * 2 + 2.0 * n * H * H + 2.0 * n * H * F * 2;
}
