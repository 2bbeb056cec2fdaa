/* The temporal graph (temporal.c): which tokens of a new frame repeat a reference the stream
 * already holds (the references and the rule: temporal_refs.h). It reads the window and the
 * anchors it is given and writes only its outputs and scratch; the stream (stream.c) owns all of
 * them. */
#ifndef SP_STREAM_TEMPORAL_H
#define SP_STREAM_TEMPORAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "temporal_refs.h"

/* Scratch of the all-candidates product: `gather` holds n rows of width d and `rows` n entries;
 * the products buffer *prod (*prod_cap floats) grows as needed and stays the caller's. `motion`
 * holds sp_motion_scratch_floats(gh, gw, max_shift) floats (motion.h). */
typedef struct sp_temporal_scratch {
    float *motion;
    float *gather;
    uint32_t *rows;
    float **prod;
    size_t *prod_cap;
    /* 2 per position (y, x), written: for a token the pixel evidence matched, where the credited
     * candidate's content lies from its cell, in cells (the anchor offset it leaves); 0 for the
     * others. */
    float *match_off;
} sp_temporal_scratch;

/* Classifies the n = win->npos normalised rows fxn of a frame: match[p] is the candidate slot a
 * redundant token matched (-1 none) and is_new[p] whether it is new. Returns the number of new
 * tokens; on failure (memory, size) sets *status and err and returns 0. */
size_t sp_temporal_classify(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                            const float *fxn, sp_temporal_scratch *scratch, int32_t *match,
                            uint8_t *is_new, sp_error *err, sp_status *status);

/* The own parts' threshold for tau_t (sp_temporal_rule.tau_own). */
float sp_temporal_own_tau(float tau);

#endif
