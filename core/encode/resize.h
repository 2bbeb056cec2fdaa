/* Frame -> model input: the fit geometry (letterbox, crop, stretch) and a separable antialiased
 * resampler from packed 8-bit RGB into three float planes. The vertical pass is exact integer
 * arithmetic (weights in Q14), the horizontal pass float in a fixed order, weights from +, -, *, /
 * only: results are bit-identical on every IEEE-754 machine (the patch encoder's golden bytes
 * depend on it). */
#ifndef SP_ENCODE_RESIZE_H
#define SP_ENCODE_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/encode.h"

/* Fills out for a width x height frame into an S x S input cut in P x P patches. `fit` must be
 * resolved (not AUTO). Letterbox content is rounded to whole patches and centred on the patch grid,
 * so every token is either image or padding (aspect error at most P/2 pixels). */
void rs_plan(uint32_t width, uint32_t height, uint32_t S, uint32_t P, sp_fit fit,
             sp_resample resample, const float pad[3], sp_preprocess *out);

/* Taps of one axis: output i reads source samples first[i] .. first[i] + count[i] - 1 with weights
 * w[i * max_taps ...] (summing to 1). */
typedef struct rs_axis {
    uint32_t n;
    uint32_t max_taps;
    uint32_t lo, hi; /* union of the source samples read: [lo, hi) */
    uint32_t *first;
    uint32_t *count;
    float *w;
    int16_t *wq; /* the weights in Q14 (sum exactly 1 << 14), count rounded up to even with zero
                    weights, max_taps rounded up to even; built by rs_axis_quantize */
} rs_axis;

/* Resampler scratch, cached for the last frame geometry (rebuilt when it changes). One per
 * thread. Zero-initialise, release with rs_state_free. */
typedef struct rs_state {
    rs_axis x, y;
    float *row; /* vertical-pass output row */
    size_t row_cap;
    const uint8_t **rows; /* source row pointers of one output row */
    size_t rows_cap;
    /* cache key */
    int valid;
    uint32_t width, height, bpp;
    sp_preprocess pre;
} rs_state;

void rs_state_free(rs_state *st);

/* Builds the taps of one axis (exposed for tests): n outputs covering source [src0, src0 + len)
 * of a source axis of `in` samples. */
sp_status rs_axis_build(rs_axis *a, uint32_t in, double src0, double len, uint32_t n, sp_resample k,
                        sp_error *err);
void rs_axis_free(rs_axis *a);
/* Adds the Q14 weights used by the integer vertical pass. */
sp_status rs_axis_quantize(rs_axis *a, sp_error *err);

/* acc[j] = (sum_t wq[t] * rows[t][j]) / 2^14 for j < len, taps even: exact integer sums, so the
 * SSE2 path and the portable path give the same floats. Exposed for tests. */
void rs_vertical_pass(float *acc, const uint8_t *const *rows, const int16_t *wq, uint32_t taps,
                      size_t len);
void rs_vertical_pass_portable(float *acc, const uint8_t *const *rows, const int16_t *wq,
                               uint32_t taps, size_t len);

/* Resamples img per pre into three planes of S x S floats at planes + c * S * S (c = R, G, B):
 * value = sample * scale[c] + bias[c] where sample is the filtered 0..255 value; the padding gets
 * pad_value[c]. img must be validated. */
sp_status rs_run(rs_state *st, const sp_image *img, const sp_preprocess *pre, uint32_t S,
                 const float scale[3], const float bias[3], const float pad_value[3], float *planes,
                 sp_error *err);

#endif
