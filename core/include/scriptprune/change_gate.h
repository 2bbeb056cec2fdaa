/* The change gate: a cheap test, per sampled frame, of whether the vision encoder must run. The
 * part of the frame the encoder sees is split into the encoder's patch grid (cells); each cell
 * into 4 x 4 blocks whose mean R, G, B (8-bit levels, over a regular sample of the block's pixels)
 * make a small thumbnail. A frame's change is, per cell, the mean absolute difference of its
 * 48 block means against the thumbnail of the last ENCODED frame (not the last sampled one, so a
 * slow drift adds up until it crosses the threshold), and the frame's change is its largest cell
 * change. The encoder runs when that exceeds the threshold, on the first frame, when the frame
 * size changes, when time goes backwards, and at least every max_skip_ns of stream time. A
 * skipped frame's tokens are the last encoded frame's: a stream fed them again records every token
 * as seen again (last_pts and seen advance), exactly as if the encoder had produced them.
 *
 * Units: threshold in 8-bit levels (0 .. 255) of a block mean; times in nanoseconds.
 * Ownership: the gate owns its thumbnails; images are borrowed for the call only.
 * Thread-safety: a gate has one user thread (sp_change_gate_test, _reset, _stats are not
 * concurrent with each other); distinct gates are independent. */
#ifndef SCRIPTPRUNE_CHANGE_GATE_H
#define SCRIPTPRUNE_CHANGE_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "scriptprune/encode.h"
#include "scriptprune/error.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks per cell side: a cell's thumbnail is SP_GATE_BLOCKS x SP_GATE_BLOCKS x 3 means. */
#define SP_GATE_BLOCKS 4
/* Grid sides accepted (cells per row or column). */
#define SP_GATE_MAX_GRID 1024
/* Defaults of core's parameter table (change_threshold, max_skip_s), chosen from bench/gate
 * (docs/performance.md): 2 levels sits well above the block-mean noise of a camera (sensor noise
 * of a few levels averages out over a block) and below what a moving object changes. */
#define SP_GATE_DEFAULT_THRESHOLD 2.0f
#define SP_GATE_DEFAULT_MAX_SKIP_S 10.0

typedef struct sp_change_gate_params {
    float threshold;     /* a cell changed when its mean absolute block difference exceeds this
                            many 8-bit levels; [0, 255]; 0 = any change encodes; default from
                            core's parameter table (change_threshold) */
    int64_t max_skip_ns; /* a frame is encoded when at least this much stream time passed since the
                            last encoded one; 0 = every frame is encoded; default 10 s (the table's
                            max_skip_s) */
    uint32_t grid_w, grid_h; /* cells across and down the region, 1 .. SP_GATE_MAX_GRID;
                                default 16 x 16 */
    /* The region of the frame compared, in frame pixels (clipped to the frame); w or h <= 0 =
       the whole frame. sp_change_gate_params_for_encoder sets it to what the encoder sees. */
    double roi_x, roi_y, roi_w, roi_h;
} sp_change_gate_params;

/* Fills p with the defaults (whole frame, 16 x 16 cells). */
SP_API void sp_change_gate_params_init(sp_change_gate_params *p);
/* Range checks; messages name the field and the accepted range. */
SP_API sp_status sp_change_gate_params_validate(const sp_change_gate_params *p, sp_error *err);
/* Sets p's region and grid to what enc reads of a width x height frame (sp_encoder_plan's source
 * rectangle and patch grid); threshold and max_skip_ns are left as they are. */
SP_API void sp_change_gate_params_for_encoder(sp_change_gate_params *p, const sp_encoder *enc,
                                              uint32_t width, uint32_t height);

/* Why sp_change_gate_test said what it said. */
typedef enum sp_gate_verdict {
    SP_GATE_SKIP = 0,     /* no cell changed beyond the threshold: reuse the last tokens */
    SP_GATE_FIRST = 1,    /* first frame, or the first after a reset, a size change or time
                             going backwards */
    SP_GATE_CHANGED = 2,  /* a cell changed beyond the threshold */
    SP_GATE_MAX_SKIP = 3, /* max_skip_ns passed since the last encoded frame */
} sp_gate_verdict;

/* Stable names: "skip", "first", "changed", "max-skip"; "?" outside the enum. */
SP_API const char *sp_gate_verdict_name(sp_gate_verdict v);

typedef struct sp_change_gate sp_change_gate;

/* A new gate (p validated; NULL p = defaults) in *out, NULL on error. */
SP_API sp_status sp_change_gate_new(const sp_change_gate_params *p, sp_change_gate **out,
                                    sp_error *err);
SP_API void sp_change_gate_free(sp_change_gate *g); /* NULL is a no-op */

/* Tests img at stream time pts (ns) against the last encoded frame. Any verdict other than
 * SP_GATE_SKIP means "encode this frame": the gate then takes img as its new reference (the
 * caller must encode it, or call sp_change_gate_reset if it cannot). change (may be NULL) gets the
 * largest cell change in levels (0 for SP_GATE_FIRST). img is validated (sp_image_validate); an
 * invalid image changes nothing. */
SP_API sp_status sp_change_gate_test(sp_change_gate *g, const sp_image *img, int64_t pts,
                                     sp_gate_verdict *verdict, float *change, sp_error *err);

/* Forgets the reference: the next frame is encoded (e.g. after a seek or a failed encode). */
SP_API void sp_change_gate_reset(sp_change_gate *g);

typedef struct sp_change_gate_stats {
    uint64_t encoded;  /* frames with a verdict other than SP_GATE_SKIP */
    uint64_t skipped;  /* frames with SP_GATE_SKIP */
    uint64_t forced;   /* of encoded: SP_GATE_MAX_SKIP */
    float last_change; /* the last tested frame's change (levels) */
} sp_change_gate_stats;

SP_API void sp_change_gate_get_stats(const sp_change_gate *g, sp_change_gate_stats *out);

#ifdef __cplusplus
}
#endif
#endif
