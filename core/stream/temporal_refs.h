/* What a new frame is matched against, and under which rule: the terms the temporal graph
 * (temporal.c) and the camera motion estimate (motion.c) share. The stream (stream.c) owns
 * everything these borrow. */
#ifndef SP_STREAM_TEMPORAL_REFS_H
#define SP_STREAM_TEMPORAL_REFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/frame.h"
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
    const float *anc_off;    /* 2 per position: where the anchor's candidate's content lies from
                                the anchor's cell, in cells (y, x); NULL: all 0 */
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
    /* The frame's pixel evidence (sp_frame.evidence, one per position) or NULL: a SEEN token
     * repeats the anchor at its source, a NEW one is matched with its own position's earlier
     * candidates only, an UNKNOWN one as without evidence. */
    const sp_pixel_evidence *evidence;
    bool match_all;
} sp_temporal_rule;

#endif
