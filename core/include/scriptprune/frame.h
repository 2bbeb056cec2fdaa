/* A frame of visual tokens: N rows of D float32 values on an h x w grid (token i at row i / w,
 * column i % w), optional N x E joint-space embeddings used for query relevance, and a timestamp.
 * sp_frame is a borrowed view: it owns nothing and the caller keeps the arrays alive while used. */
#ifndef SCRIPTPRUNE_FRAME_H
#define SCRIPTPRUNE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pts value meaning "no timestamp". Timestamps are nanoseconds, like GStreamer clock times. */
#define SP_PTS_NONE INT64_MIN

/* What the pixels say about a token's cell against the previous encoded frame
 * (sp_pixel_evidence.verdict; scriptprune/pixel_match.h computes it). */
typedef enum sp_pixel_verdict {
    SP_PIXELS_UNKNOWN = 0, /* no evidence: the token's features decide */
    SP_PIXELS_SEEN = 1,    /* the cell's pixels match the previous frame's at (dy, dx) */
    SP_PIXELS_NEW = 2,     /* they match nowhere near: content the previous frame did not show */
} sp_pixel_verdict;

/* Pixel evidence for one token. SEEN: the cell's content was at grid row y + dy, column x + dx
 * (in cells, fractions allowed) of the previous encoded frame. dy and dx are ignored otherwise. */
typedef struct sp_pixel_evidence {
    float dy, dx;
    uint8_t verdict; /* sp_pixel_verdict */
} sp_pixel_evidence;

typedef struct sp_frame {
    const float *tokens; /* n x d, row-major, borrowed */
    size_t n;            /* number of tokens, >= 1 */
    size_t d;            /* token dimension, >= 1 */
    const float *embed;  /* n x e joint-space embeddings, or NULL to use the tokens */
    size_t e;            /* embedding dimension (ignored when embed is NULL) */
    uint32_t grid_h;     /* grid rows; grid_h * grid_w == n */
    uint32_t grid_w;     /* grid columns */
    int64_t pts;         /* presentation time in ns, or SP_PTS_NONE */
    /* The grid cells that show the picture: rows [image_y, image_y + image_h), columns
     * [image_x, image_x + image_w). The rest is the encoder's padding (letterbox fits), which a
     * stream never emits. image_h == 0 or image_w == 0: the whole grid is picture. */
    uint32_t image_y, image_x, image_h, image_w;
    /* Token layout: 0 < own_d < d when dimensions [0, own_d) describe the cell itself and
     * [own_d, d) its surroundings (the patch encoder's, docs/encoders.md), so the temporal graph
     * can tell a cell that stayed the same from one whose neighbourhood changed; 0: not split. */
    size_t own_d;
    /* Optional pixel evidence, n entries (one per token, raster order), against the frame pushed
     * before this one, or NULL: none (the temporal graph decides from the tokens alone). A stream
     * trusts it: a SEEN token repeats what its source position showed, a NEW one is not matched
     * with other positions' tokens (docs/streams.md). */
    const sp_pixel_evidence *evidence;
} sp_frame;

/* A query: m rows of e floats in the joint space (m == 0: no query). Borrowed view. */
typedef struct sp_query {
    const float *rows;
    size_t m;
    size_t e;
} sp_query;

/* Fills f as a view of tokens with a grid guessed from n: square when n is a perfect square, else
 * one row of n. No embeddings, no pts, the whole grid is picture. */
SP_API void sp_frame_view(sp_frame *f, const float *tokens, size_t n, size_t d);

/* Checks shapes (n, d >= 1, h*w == n, e >= 1 with embeddings, the picture rectangle inside the
 * grid), byte sizes that would overflow
 * size_t, and finiteness of every value (NaN/Inf name the row and column). Zero rows are valid:
 * they have similarity 0 to everything. Thread-safe; reads the arrays. */
SP_API sp_status sp_frame_validate(const sp_frame *f, sp_error *err);

/* Checks the n x d values of x are finite; the message names `what` and the row (numbered from
 * row0) and column of the first NaN or infinity. */
SP_API sp_status sp_check_finite(const float *x, size_t row0, size_t n, size_t d, const char *what,
                                 sp_error *err);

/* True when grid cell p (raster order) is outside f's picture rectangle. */
SP_API int sp_frame_is_padding(const sp_frame *f, size_t p);

/* Checks shapes and sizes only (what sp_frame_validate checks, minus the scan of the token and
 * embedding values), and the pixel evidence when present: verdicts 0 to 2, finite displacements
 * for SEEN. */
SP_API sp_status sp_frame_validate_shape(const sp_frame *f, sp_error *err);

/* Checks a query against the embedding dimension it will be compared with (the frame's e, or d
 * when the frame has no embeddings): finite values, matching width. m == 0 is valid. */
SP_API sp_status sp_query_validate(const sp_query *q, size_t expect_e, sp_error *err);

/* The embedding matrix and width relevance uses for f: its embeddings, or the tokens themselves. */
SP_API const float *sp_frame_relevance_rows(const sp_frame *f, size_t *width);

#ifdef __cplusplus
}
#endif
#endif
