/* A pre-LN transformer tower (the encoder of CLIP/SigLIP, vision and text) in float32 on OpenBLAS:
 * x += attn(LN1(x)); x += MLP(LN2(x)). Weights are row-major [out, in] as Hugging Face stores them;
 * q, k and v are fused into one [3H, H] matrix at load so that one SGEMM computes all three. */
#ifndef SP_ENCODE_VIT_H
#define SP_ENCODE_VIT_H

#include <stddef.h>
#include <stdint.h>

#include "pair.h"
#include "vmath.h"

typedef struct vit_layer {
    float *ln1_w, *ln1_b;
    float *qkv_w, *qkv_b; /* [3H, H], [3H]: q rows, then k, then v */
    float *o_w, *o_b;     /* [H, H], [H] */
    float *ln2_w, *ln2_b;
    float *fc1_w, *fc1_b; /* [I, H], [I] */
    float *fc2_w, *fc2_b; /* [H, I], [H] */
} vit_layer;

typedef struct vit_tower {
    uint32_t hidden, heads, inter, layers;
    float eps;
    vm_act act;
    vit_layer *layer; /* layers entries */
} vit_tower;

/* Scratch for B sequences of at most T rows each: h [B T, H], qkv [B T, 3H], attn [B T, H],
 * mlp [B T, I], scores [T, T] and inv_sum [T] (the BLAS attention path, one sequence at a time),
 * and two workspaces of the fused attention kernel (attention.h), one per core. */
typedef struct vit_scratch {
    float *h, *qkv, *attn, *scores, *mlp, *inv_sum;
    float *attn_ws[2];
    int fused;     /* attention takes the fused kernel (va_available() when bound) */
    vm_pair *pair; /* splits the elementwise kernels across two cores; NULL: one (not owned) */
} vit_scratch;

/* Floats of scratch for B sequences of T tokens of tower t (B >= 1). */
size_t vit_scratch_floats(const vit_tower *t, size_t T, size_t B);
/* Carves a scratch block of vit_scratch_floats(t, T, B) floats into the buffers (pair NULL) and
 * picks the attention path for this CPU. */
void vit_scratch_bind(const vit_tower *t, size_t T, size_t B, float *block, vit_scratch *s);

/* y[T, out] = x[T, in] W^T (+ b), W row-major [out, in]; beta = 1 accumulates into y. */
void vit_linear(const float *x, size_t T, size_t in, const float *W, const float *b, size_t out,
                float *y, float beta);

/* vit_linear, then the bias and (act != 0) the activation `kind` in one pass over y, that pass
 * split across pair's two cores (pair NULL: one). */
void vit_linear_act(vm_pair *pair, const float *x, size_t T, size_t in, const float *W,
                    const float *b, size_t out, float *y, float beta, int act, vm_act kind);

/* Multi-head scaled dot-product attention of the fused qkv [T, 3H] into out [T, H] on BLAS (the
 * path where the fused kernel of attention.h cannot run); scores holds T x T floats and
 * inv_sum T. */
void vit_attention(const float *qkv, size_t T, uint32_t H, uint32_t heads, int causal,
                   float *scores, float *inv_sum, vm_pair *pair, float *out);

/* The same for B sequences stacked in qkv [B T, 3H] and out [B T, H] with the fused kernel
 * (requires va_available()): the (sequence, head) pairs split between the caller and pair's
 * helper, ws[0] and ws[1] their workspaces (va_workspace_floats each). */
void vit_attention_fused(const float *qkv, size_t T, size_t B, uint32_t H, uint32_t heads,
                         int causal, float *const ws[2], vm_pair *pair, float *out);

/* One layer in place on x [T, H]. */
void vit_layer_forward(const vit_tower *t, const vit_layer *L, float *x, size_t T, int causal,
                       vit_scratch *s);

/* One layer in place on B sequences of T tokens stacked in x [B T, H]: the linear layers are one
 * GEMM over all B T rows (the weights are read once for the batch), attention runs within each
 * sequence. Row for row the arithmetic of vit_layer_forward, but not always the same bits: a BLAS
 * may split a product between its threads and kernels differently for another row count, which
 * changes the order of the sums (OpenBLAS 0.3.21 on 2 threads does). B = 1 is
 * vit_layer_forward. */
void vit_layer_forward_batch(const vit_tower *t, const vit_layer *L, float *x, size_t T, size_t B,
                             int causal, vit_scratch *s);

/* FLOPs of one layer on T tokens (matrix products only), for benchmarks. */
double vit_layer_flops(const vit_tower *t, size_t T);

#endif
