/* The temporal graph (temporal.c): which tokens of a new frame repeat a reference the stream
 * already holds. It reads the window and the anchors it is given and writes only its outputs and
 * scratch; the stream (stream.c) owns all of them. */
#ifndef SP_STREAM_TEMPORAL_H
#define SP_STREAM_TEMPORAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "window.h"

/* What an anchor is: none (start), the candidate taken at that position, or a token GSP pruned
 * in favour of the candidate anc_slot. */
enum { SP_ANC_NONE = 0, SP_ANC_SELF = 1, SP_ANC_REP = 2 };

/* The references a frame is matched against (borrowed): per grid position its anchor (the token
 * last refreshed there, normalised, width win->d), and the window's alive candidates. */
typedef struct sp_temporal_refs {
    const sp_window *win;
    const float *anc;        /* gh * gw rows of width win->d */
    const int32_t *anc_slot; /* candidate that is (or represents) the anchor, or -1 */
    const uint8_t *anc_kind; /* SP_ANC_* */
    uint32_t gh, gw;
} sp_temporal_refs;

/* The largest camera motion between two frames the temporal graph follows, in grid cells each
 * way: 3 cells of a 24 x 24 grid is an eighth of the picture per frame (a fast pan at 2
 * frames/s). */
enum { SP_TEMPORAL_MAX_SHIFT = 3 };

/* The matching rule (sp_stream_params: tau_t, radius, match_all; max_shift). */
typedef struct sp_temporal_rule {
    float tau;
    uint32_t radius;
    uint32_t max_shift; /* largest global shift searched, in cells (0: no camera motion) */
    size_t own_d;       /* the frame's sp_frame.own_d (0: tokens not split) */
    float tau_own;      /* the own parts' threshold at the token's own place (own_d > 0) */
    bool match_all;
} sp_temporal_rule;

/* Scratch of the all-candidates product: `gather` holds n rows of width d and `rows` n entries;
 * the products buffer *prod (*prod_cap floats) grows as needed and stays the caller's. `motion`
 * holds sp_motion_scratch_floats(gh, gw, max_shift) floats (motion.h). */
typedef struct sp_temporal_scratch {
    float *motion;
    float *gather;
    uint32_t *rows;
    float **prod;
    size_t *prod_cap;
} sp_temporal_scratch;

/* Classifies the n = win->npos normalised rows fxn of a frame: match[p] is the candidate slot a
 * redundant token matched (-1 none) and is_new[p] whether it is new. Returns the number of new
 * tokens; on failure (memory, size) sets *status and err and returns 0. */
size_t sp_temporal_classify(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                            const float *fxn, sp_temporal_scratch *scratch, int32_t *match,
                            uint8_t *is_new, sp_error *err, sp_status *status);

/* The own parts' threshold for tau_t (sp_temporal_rule.tau_own). */
float sp_temporal_own_tau(float tau);

/* Cosine (dot of normalised rows) of two rows of width d. */
float sp_stream_dot(const float *a, const float *b, size_t d);

/* out[i] = x[i] / max(|x[i]|, 1e-12) for n rows of width d; out may equal x. */
void sp_stream_normalize(const float *x, size_t n, size_t d, float *out);

#endif
