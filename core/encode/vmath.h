/* Elementwise and row-wise kernels of the transformer towers that are not matrix products:
 * exp, activations, softmax, layer norm, bias. Vectorised with vec.h because they would otherwise
 * cost a fifth of a ViT-B forward pass next to OpenBLAS. Relative error of exp about 2e-7. */
#ifndef SP_ENCODE_VMATH_H
#define SP_ENCODE_VMATH_H

#include <stddef.h>

typedef enum vm_act {
    VM_ACT_QUICK_GELU = 0, /* x * sigmoid(1.702 x): OpenAI CLIP */
    VM_ACT_GELU_TANH,      /* tanh approximation of GELU: SigLIP (gelu_pytorch_tanh) */
    VM_ACT_GELU_ERF,       /* GELU with erf (not the tanh form), erf within 2e-7: LLaVA */
} vm_act;

/* x[i] = exp(x[i]); inputs below -87 give about 1e-38 (not 0), above 88 about 1.6e38. */
void vm_exp(float *x, size_t n);
void vm_activate(vm_act act, float *x, size_t n);
/* In-place softmax of each of `rows` rows of `cols` values (row i at s + i * ld). With causal set,
 * row i only covers columns 0..i and the rest become 0. */
void vm_softmax_rows(float *s, size_t rows, size_t cols, size_t ld, int causal);
/* vm_softmax_rows without the final division: row i becomes exp(s - max) and inv_sum[i] gets
 * 1 / sum, so that a caller multiplying the rows into a narrower matrix (attention: P V with 64
 * columns against T) can scale the product instead, saving a pass over the T x T scores. */
void vm_softmax_rows_unscaled(float *s, size_t rows, size_t cols, size_t ld, int causal,
                              float *inv_sum);
/* y = (x - mean) / sqrt(var + eps) * w + b per row of dim values (rows at x + i * dim). */
void vm_layernorm(const float *x, float *y, size_t rows, size_t dim, const float *w, const float *b,
                  float eps);
/* y[i][j] += b[j] */
void vm_add_bias(float *y, size_t rows, size_t cols, const float *b);

#endif
