/* The camera's motion between two frames (motion.c), estimated from the anchors: a shift in
 * fractions of a cell and a zoom about the grid's centre, and the anchor seen at a fractional grid
 * position (the bilinear blend of the four around it). The temporal graph (temporal.c) matches a
 * token with the anchor its content came from under that motion. */
#ifndef SP_STREAM_MOTION_H
#define SP_STREAM_MOTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "temporal_refs.h"

/* Content at grid position p = (y, x) of the new frame was at c + zoom (p - c) + (sy, sx) in the
 * anchors' frame, c the grid's centre: zoom > 1 is a zoom out (the picture shows more; content
 * moves towards the centre), zoom < 1 a zoom in. */
typedef struct sp_motion {
    float sy, sx, zoom;
} sp_motion;

/* The largest zoom per frame the estimate tries, either way (zoom in [1 / (1 + Z), 1 + Z]): 10%
 * a frame is a fast zoom at 2 frames/s (2 x in 3.5 s). */
#define SP_MOTION_MAX_ZOOM 0.1f

bool sp_motion_is_identity(const sp_motion *m);

/* Scratch the estimate needs for a gh x gw grid of d-wide tokens searching shifts up to
 * max_shift cells, in floats; 0 on overflow. */
size_t sp_motion_scratch_floats(uint32_t gh, uint32_t gw, size_t d, uint32_t max_shift);

/* The motion since the anchors were taken, under rule (tau, own_d, tau_own, max_shift). First the
 * whole-cell shift (|sy|, |sx| <= max_shift) under which most tokens of a sparse grid match the
 * anchor their content came from (as the temporal graph matches: cosine >= tau, or the own parts
 * agree), no shift unless one matches clearly more of them (a margin); then the zoom, taken when
 * it matches clearly more, or, once the camera is known to move, as many more closely; then, if
 * the camera moves, the shift to a quarter and an eighth of a cell. scratch:
 * sp_motion_scratch_floats floats, reset with sp_motion_reset, which then hold what
 * sp_motion_match needs (the anchors' products with their neighbours) until the anchors change. */
void sp_motion_estimate(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                        const float *fxn, float *scratch, sp_motion *out);

/* Where the content of position p came from under m, as a fractional grid position. */
void sp_motion_source(const sp_temporal_refs *refs, const sp_motion *m, size_t p, float *fy,
                      float *fx);

/* The cosine of the normalised row x with the anchor seen at (fy, fx): the normalised bilinear
 * blend of the anchors of the (up to) four cells around it, or the nearest cell's anchor alone
 * when another cell the blend needs is outside the grid or has none. *nearest is the nearest
 * cell. Returns false when that cell is outside the grid or has no anchor. scratch: as filled by
 * sp_motion_estimate for the same anchors. */
bool sp_motion_match(const sp_temporal_refs *refs, float *scratch, const float *x, float fy,
                     float fx, float *cos, size_t *nearest);

/* Forgets the anchors' products in scratch: call when the anchors changed, before the others. */
void sp_motion_reset(const sp_temporal_refs *refs, float *scratch);

/* The bilinear blend (unnormalised) of the first own_d dimensions of the anchors around (fy, fx),
 * into out; false unless every cell the blend needs holds an anchor. */
bool sp_motion_blend_own(const sp_temporal_refs *refs, float fy, float fx, size_t own_d,
                         float *out);

#endif
