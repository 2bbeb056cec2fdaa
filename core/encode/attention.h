/* Multi-head attention with each head's scores kept in cache, one head per call on one core.
 * Standard BLAS has no batched or per-call single-threaded GEMM (OpenBLAS 0.3.21 sets its thread
 * count process-wide), so the per-head products of a tower (K = head width, 64) ran as two-thread
 * GEMMs at about half the rate of the linear layers, with a T x T score matrix written, read by
 * the softmax and read again. Here a head's K^T and V are packed once, and each block of
 * VA_ROWS query rows computes its scores (VA_ROWS x T, in L1), their softmax and its output rows
 * with an AVX2/FMA register-blocked product; the heads of a layer are split between the two
 * cores of vm_pair. Where AVX2 and FMA are missing the towers use the BLAS path (vit.c).
 *
 * Thread-safety: va_heads touches only its arguments; each thread needs its own workspace. */
#ifndef SP_ENCODE_ATTENTION_H
#define SP_ENCODE_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>

/* Query rows per block (the register block's height). */
#define VA_ROWS 6

/* Whether va_heads can run on this CPU (x86-64 with AVX2 and FMA, YMM state enabled by the OS). */
bool va_available(void);

/* Floats of one thread's workspace for sequences of at most T tokens and heads of width dh. */
size_t va_workspace_floats(size_t T, size_t dh);

/* Heads [h0, h1) of one sequence: qkv [T, 3H] (q, then k, then v, each H = heads x dh wide),
 * out [T, H] (the heads' columns written, the others untouched); scores are scaled by `scale`;
 * causal: row r attends to columns 0..r. ws: va_workspace_floats(T, dh) floats. Requires
 * va_available(). */
void va_heads(const float *qkv, size_t T, size_t H, size_t dh, size_t h0, size_t h1, int causal,
              float scale, float *ws, float *out);

#endif
