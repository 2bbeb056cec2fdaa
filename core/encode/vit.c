/* The transformer layer on OpenBLAS (see vit.h). */
#include "vit.h"

#include <cblas.h>
#include <math.h>

#include "attention.h"

/* A fused-attention workspace, rounded to whole 64-byte lines so that the two do not share one. */
static size_t attn_ws_floats(const vit_tower *t, size_t T) {
    return (va_workspace_floats(T, t->hidden / t->heads) + 15) / 16 * 16;
}

size_t vit_scratch_floats(const vit_tower *t, size_t T, size_t B) {
    size_t H = t->hidden, F = t->inter, R = B * T;
    return R * H + R * 3 * H + R * H + T * T + R * F + T + 2 * attn_ws_floats(t, T);
}

void vit_scratch_bind(const vit_tower *t, size_t T, size_t B, float *block, vit_scratch *s) {
    size_t H = t->hidden, R = B * T;
    s->h = block;
    s->qkv = s->h + R * H;
    s->attn = s->qkv + R * 3 * H;
    s->scores = s->attn + R * H;
    s->mlp = s->scores + T * T;
    s->inv_sum = s->mlp + R * t->inter;
    s->attn_ws[0] = s->inv_sum + T;
    s->attn_ws[1] = s->attn_ws[0] + attn_ws_floats(t, T);
    s->fused = va_available();
    s->pair = NULL;
}

/* The elementwise kernels as two-part jobs for vm_pair: each half takes a contiguous range of
 * rows (or of values), so the results are those of one call over everything. */
static size_t half_lo(size_t n, int half) {
    return half ? n / 2 : 0;
}

static size_t half_hi(size_t n, int half) {
    return half ? n : n / 2;
}

typedef struct ln_job {
    const float *x;
    float *y;
    size_t rows, dim;
    const float *w, *b;
    float eps;
} ln_job;

static void ln_half(void *arg, int half) {
    const ln_job *j = arg;
    size_t lo = half_lo(j->rows, half), hi = half_hi(j->rows, half);
    vm_layernorm(j->x + lo * j->dim, j->y + lo * j->dim, hi - lo, j->dim, j->w, j->b, j->eps);
}

static void layernorm2(vm_pair *pair, const float *x, float *y, size_t rows, size_t dim,
                       const float *w, const float *b, float eps) {
    ln_job j = {x, y, rows, dim, w, b, eps};
    vm_pair_run(pair, ln_half, &j);
}

typedef struct bias_act_job {
    float *y;
    size_t rows, cols;
    const float *b;
    int act; /* apply act after the bias */
    vm_act kind;
} bias_act_job;

static void bias_act_half(void *arg, int half) {
    const bias_act_job *j = arg;
    size_t lo = half_lo(j->rows, half), hi = half_hi(j->rows, half);
    float *y = j->y + lo * j->cols;
    if (j->b)
        vm_add_bias(y, hi - lo, j->cols, j->b);
    if (j->act)
        vm_activate(j->kind, y, (hi - lo) * j->cols);
}

typedef struct softmax_job {
    float *s;
    size_t T;
    int causal;
    float *inv_sum;
} softmax_job;

static void softmax_half(void *arg, int half) {
    const softmax_job *j = arg;
    size_t lo = half_lo(j->T, half), hi = half_hi(j->T, half);
    /* a causal row r covers columns 0..r whatever range it is in, so pass the offset rows */
    if (j->causal) {
        for (size_t r = lo; r < hi; r++) {
            size_t n = r + 1 < j->T ? r + 1 : j->T;
            vm_softmax_rows_unscaled(j->s + r * j->T, 1, n, j->T, 0, j->inv_sum + r);
            for (size_t c = n; c < j->T; c++)
                j->s[r * j->T + c] = 0.0f;
        }
        return;
    }
    vm_softmax_rows_unscaled(j->s + lo * j->T, hi - lo, j->T, j->T, 0, j->inv_sum + lo);
}

void vit_linear(const float *x, size_t T, size_t in, const float *W, const float *b, size_t out,
                float *y, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)out, (int)in, 1.0f, x,
                (int)in, W, (int)in, beta, y, (int)out);
    if (b)
        vm_add_bias(y, T, out, b);
}

void vit_attention(const float *qkv, size_t T, uint32_t H, uint32_t heads, int causal,
                   float *scores, float *inv_sum, vm_pair *pair, float *out) {
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
        softmax_job sj = {scores, T, causal, inv_sum};
        vm_pair_run(pair, softmax_half, &sj);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dh, (int)T, 1.0f,
                    scores, (int)T, v, (int)ld, 0.0f, out + h * dh, (int)H);
        for (size_t i = 0; i < T; i++) {
            float *o = out + i * H + h * dh;
            for (size_t j = 0; j < dh; j++)
                o[j] *= inv_sum[i];
        }
    }
}

/* The fused attention of B sequences: their (sequence, head) pairs split in two halves, one per
 * core; a head is computed whole by one thread, so the result does not depend on the split. */
typedef struct fused_attn_job {
    const float *qkv;
    size_t T, H, heads, B;
    int causal;
    float *const *ws;
    float *out;
} fused_attn_job;

static void fused_attn_half(void *arg, int half) {
    const fused_attn_job *j = arg;
    size_t items = j->B * j->heads, dh = j->H / j->heads;
    float scale = (float)(1.0 / sqrt((double)dh));
    for (size_t it = half_lo(items, half); it < half_hi(items, half); it++) {
        size_t b = it / j->heads, h = it % j->heads;
        va_heads(j->qkv + b * j->T * 3 * j->H, j->T, j->H, dh, h, h + 1, j->causal, scale,
                 j->ws[half], j->out + b * j->T * j->H);
    }
}

void vit_attention_fused(const float *qkv, size_t T, size_t B, uint32_t H, uint32_t heads,
                         int causal, float *const ws[2], vm_pair *pair, float *out) {
    fused_attn_job j = {qkv, T, H, heads, B, causal, ws, out};
    vm_pair_run(pair, fused_attn_half, &j);
}

void vit_linear_act(vm_pair *pair, const float *x, size_t T, size_t in, const float *W,
                    const float *b, size_t out, float *y, float beta, int act, vm_act kind) {
    vit_linear(x, T, in, W, NULL, out, y, beta);
    bias_act_job j = {y, T, out, b, act, kind};
    vm_pair_run(pair, bias_act_half, &j);
}

void vit_layer_forward_batch(const vit_tower *t, const vit_layer *L, float *x, size_t T, size_t B,
                             int causal, vit_scratch *s) {
    const size_t H = t->hidden, F = t->inter, R = B * T;
    layernorm2(s->pair, x, s->h, R, H, L->ln1_w, L->ln1_b, t->eps);
    vit_linear_act(s->pair, s->h, R, H, L->qkv_w, L->qkv_b, 3 * H, s->qkv, 0.0f, 0, t->act);
    if (s->fused) {
        vit_attention_fused(s->qkv, T, B, t->hidden, t->heads, causal, s->attn_ws, s->pair,
                            s->attn);
    } else {
        for (size_t b = 0; b < B; b++)
            vit_attention(s->qkv + b * T * 3 * H, T, t->hidden, t->heads, causal, s->scores,
                          s->inv_sum, s->pair, s->attn + b * T * H);
    }
    /* residual: accumulate into x */
    vit_linear_act(s->pair, s->attn, R, H, L->o_w, L->o_b, H, x, 1.0f, 0, t->act);
    layernorm2(s->pair, x, s->h, R, H, L->ln2_w, L->ln2_b, t->eps);
    vit_linear_act(s->pair, s->h, R, H, L->fc1_w, L->fc1_b, F, s->mlp, 0.0f, 1, t->act);
    vit_linear_act(s->pair, s->mlp, R, F, L->fc2_w, L->fc2_b, H, x, 1.0f, 0, t->act);
}

void vit_layer_forward(const vit_tower *t, const vit_layer *L, float *x, size_t T, int causal,
                       vit_scratch *s) {
    vit_layer_forward_batch(t, L, x, T, 1, causal, s);
}

double vit_layer_flops(const vit_tower *t, size_t T) {
    double H = t->hidden, F = t->inter, n = (double)T;
    return 2.0 * n * H * (3 * H) + 2.0 * n * n * H * 2 + 2.0 * n * H * H + 2.0 * n * H * F * 2;
}
