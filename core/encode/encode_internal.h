/* Internals shared by the encoder front end and its backends. */
#ifndef SP_ENCODE_INTERNAL_H
#define SP_ENCODE_INTERNAL_H

#include <stddef.h>

#include "alloc.h"
#include "resize.h"
#include "scriptprune/encode.h"

typedef struct patch_model patch_model;
typedef struct clip_model clip_model;
typedef struct clip_scratch clip_scratch;

struct sp_encoder {
    sp_encoder_kind kind;
    sp_encoder_info info;
    float pad[3];   /* padding colour, [0, 1] RGB */
    float scale[3]; /* 0..255 sample -> model input: v * scale + bias */
    float bias[3];
    float pad_value[3]; /* padding in model input units */
    patch_model *patch;
    clip_model *clip;
    /* text_model_dir: the model of the joint space (embed, pooled, text queries), fed the same
     * input renormalised to its own mean and std: x * jscale + jbias */
    clip_model *joint;
    float jscale[3], jbias[3];
};

/* Buffers for `batch` frames at once (slot b for frame b of a batch); sp_encode uses slot 0,
 * sp_encode_batch grows them to its batch. */
struct sp_encode_ctx {
    const sp_encoder *enc;
    size_t batch;   /* frames the buffers hold, >= 1 */
    rs_state *rs;   /* [batch]: each slot keeps the taps of its last frame size */
    float *input;   /* [batch] x 3 planes of S x S: the preprocessed frames */
    float *scratch; /* patch backend scratch (one frame at a time) */
    clip_scratch *clip;
    clip_scratch *joint;
    float *jinput;  /* [batch] x 3 planes of S x S for the joint model */
    float *jtokens; /* [batch] x its hidden-state tokens (unused, n x its width) */
};

/* Byte offsets of R, G, B in a pixel of a valid format. */
void enc_pixfmt_offsets(sp_pixfmt f, size_t off[3]);

/* Mean R, G, B of img over rows [y0, y1) and columns [x0, x1) (non-empty), from a regular sample
 * of at most `samples` pixels per side; off and bpp as enc_pixfmt_offsets and sp_pixfmt_bpp give
 * them for img's format. The thumbnails of the change gate and the pixel matcher. */
void enc_block_mean(const sp_image *img, const size_t off[3], size_t bpp, uint32_t y0, uint32_t y1,
                    uint32_t x0, uint32_t x1, uint32_t samples, float out[3]);

/* Sizes r->evidence to r->n entries (keeps nothing). */
sp_status enc_reserve_evidence(sp_encoding *r, sp_error *err);

/* Makes room in q for k more rows of width e and returns where they go (uninitialised), or NULL
 * (err set); enc_rows_commit then counts them. */
float *enc_rows_append(sp_query_rows *q, size_t k, size_t e, sp_error *err);
void enc_rows_commit(sp_query_rows *q, size_t k, size_t e);

/* The arguments every exemplar encoding checks: a context, an output, a known mode. */
sp_status enc_exemplar_args(const sp_encode_ctx *ctx, const sp_query_rows *out, sp_exemplar mode,
                            sp_error *err);

/* Grows a float array to at least n elements (keeps nothing). */
sp_status enc_reserve(float **p, size_t *cap, size_t n, const char *what, sp_error *err);

#endif
