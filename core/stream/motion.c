/* The camera's motion between the anchors and a new frame: a whole-cell shift chosen by matches,
 * then refined to fractions of a cell, and a zoom, by how close the frame's tokens come to the
 * anchors blended at the positions their content came from. A pan of 12 px a frame over 16 px
 * cells is 3/4 of a cell: the nearest whole cell is 4 px off, and on fine detail 4 px are enough
 * to drop a token below tau_t; the blend of the two anchors the content straddles is not. The
 * same blend follows a zoom, which moves content by a different fraction of a cell at every
 * position. */
#include <cblas.h>
#include <math.h>

#include "alloc.h"
#include "cosine.h"
#include "motion.h"

/* Positions sampled every SAMPLE cells in both directions, at least MIN_PAIRS of them with a
 * reference; a whole-cell shift must match SHIFT_MARGIN more of them than no shift (moving
 * objects or a picture that looks alike shifted, bands or sky, must not move every token's
 * search); a refinement of a moving camera must match SHIFT_MARGIN more or as many FIT_MARGIN
 * closer on average (noise does not move it). No shift is scored with the temporal graph's rule
 * at a token's own place (the own parts may agree), a motion with whole tokens only: smooth
 * content (sky, a retina) agrees in its own parts almost anywhere. */
enum { SAMPLE = 3, MIN_PAIRS = 8 };
static const float SHIFT_MARGIN = 0.03f;
static const float FIT_MARGIN = 0.001f;
/* A still camera takes a zoom only when it matches a tenth more of the samples: blends of
 * neighbouring anchors match up to 6% more of the samples on objects moving in front of a still
 * background (bench/quality/real_textures.py, objects_grass), a zoom of 8% a frame 15 to 40% more
 * (zoom_out_fast). */
static const float ZOOM_MARGIN = 0.1f;

/* The anchors' products with their right, lower, lower-right and lower-left neighbours: the
 * norm of a blend. */
enum { PAIR_R = 0, PAIR_D = 1, PAIR_DR = 2, PAIR_DL = 3, PAIRS = 4 };

bool sp_motion_is_identity(const sp_motion *m) {
    return m->sy == 0.0f && m->sx == 0.0f && m->zoom == 1.0f;
}

static uint32_t samples_along(uint32_t n) {
    return n > SAMPLE / 2 ? (n - SAMPLE / 2 + SAMPLE - 1) / SAMPLE : 0;
}

/* How far (in cells, each way) a sampled token's references can lie: the shift, half a cell of
 * refinement, the zoom at the grid's edge, and the blend's second cell. */
static int memo_radius(uint32_t gh, uint32_t gw, uint32_t max_shift) {
    uint32_t g = gh > gw ? gh : gw;
    return (int)max_shift + 2 + (int)ceilf(SP_MOTION_MAX_ZOOM * (float)g * 0.5f);
}

size_t sp_motion_scratch_floats(uint32_t gh, uint32_t gw, size_t d, uint32_t max_shift) {
    size_t n = (size_t)gh * gw, side = 2 * (size_t)memo_radius(gh, gw, max_shift) + 1;
    size_t samples = (size_t)samples_along(gh) * samples_along(gw);
    size_t memo, pairs;
    if (!sp_mul3_size(samples, side, side, &memo) || !sp_mul_size(n, PAIRS, &pairs) ||
        memo > SIZE_MAX - pairs || d > SIZE_MAX - pairs - memo)
        return 0;
    return pairs + memo + d; /* d: one blended own part */
}

/* Products of one row x with the anchors, remembered in a window of the memo around (py, px)
 * (NAN: not computed yet); positions outside the window are computed each time. */
typedef struct dot_src {
    const sp_temporal_refs *refs;
    const float *x;
    float *memo; /* NULL: no memo */
    long py, px;
    int radius;
} dot_src;

static float anchor_dot(dot_src *s, long qy, long qx) {
    const sp_temporal_refs *r = s->refs;
    size_t d = r->win->d, q = (size_t)qy * r->gw + (size_t)qx;
    long oy = qy - s->py + s->radius, ox = qx - s->px + s->radius, side = 2 * s->radius + 1;
    if (!s->memo || oy < 0 || ox < 0 || oy >= side || ox >= side)
        return sp_stream_dot(s->x, r->anc + q * d, d);
    float *m = s->memo + oy * side + ox;
    if (isnan(*m))
        *m = sp_stream_dot(s->x, r->anc + q * d, d);
    return *m;
}

static bool anchored(const sp_temporal_refs *r, long y, long x) {
    return y >= 0 && x >= 0 && y < (long)r->gh && x < (long)r->gw &&
           r->anc_kind[(size_t)y * r->gw + (size_t)x] != SP_ANC_NONE;
}

/* The product of the anchor at q with its neighbour k (PAIR_*), computed when first asked for
 * (NAN: not yet) and kept until sp_motion_reset. Both anchors exist (the caller checked). */
static float pair(const sp_temporal_refs *r, float *pairs, int k, size_t q) {
    static const long dy[PAIRS] = {0, 1, 1, 1}, dx[PAIRS] = {1, 0, 1, -1};
    size_t n = (size_t)r->gh * r->gw, d = r->win->d;
    float *v = pairs + (size_t)k * n + q;
    if (isnan(*v)) {
        size_t o = (size_t)((long)q + dy[k] * (long)r->gw + dx[k]);
        *v = sp_stream_dot(r->anc + q * d, r->anc + o * d, d);
    }
    return *v;
}

/* The blend's cosine (see sp_motion_match) with products from src. */
static bool blend_cos(const sp_temporal_refs *r, float *pairs, dot_src *src, float fy, float fx,
                      float *cos, size_t *nearest) {
    long ny = (long)floorf(fy + 0.5f), nx = (long)floorf(fx + 0.5f);
    if (!anchored(r, ny, nx))
        return false;
    *nearest = (size_t)ny * r->gw + (size_t)nx;
    long y0 = (long)floorf(fy), x0 = (long)floorf(fx);
    float wy = fy - (float)y0, wx = fx - (float)x0;
    const long cy[4] = {y0, y0, y0 + 1, y0 + 1}, cx[4] = {x0, x0 + 1, x0, x0 + 1};
    const float w[4] = {(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx};
    for (int k = 0; k < 4; k++)
        if (w[k] > 0 && !anchored(r, cy[k], cx[k])) {
            *cos = anchor_dot(src, ny, nx);
            return true;
        }
    float num = 0, norm2 = 0;
    for (int k = 0; k < 4; k++)
        if (w[k] > 0) {
            num += w[k] * anchor_dot(src, cy[k], cx[k]);
            norm2 += w[k] * w[k];
        }
    /* cells 0 1 / 2 3: the six pairs, from the neighbour products of cells 0, 1 and 2 */
    size_t c0 = (size_t)y0 * r->gw + (size_t)x0, c1 = c0 + 1, c2 = c0 + r->gw;
    if (w[0] > 0 && w[1] > 0)
        norm2 += 2 * w[0] * w[1] * pair(r, pairs, PAIR_R, c0);
    if (w[0] > 0 && w[2] > 0)
        norm2 += 2 * w[0] * w[2] * pair(r, pairs, PAIR_D, c0);
    if (w[0] > 0 && w[3] > 0)
        norm2 += 2 * w[0] * w[3] * pair(r, pairs, PAIR_DR, c0);
    if (w[1] > 0 && w[2] > 0)
        norm2 += 2 * w[1] * w[2] * pair(r, pairs, PAIR_DL, c1);
    if (w[1] > 0 && w[3] > 0)
        norm2 += 2 * w[1] * w[3] * pair(r, pairs, PAIR_D, c1);
    if (w[2] > 0 && w[3] > 0)
        norm2 += 2 * w[2] * w[3] * pair(r, pairs, PAIR_R, c2);
    *cos = norm2 > 1e-12f ? num / sqrtf(norm2) : 0.0f;
    return true;
}

void sp_motion_reset(const sp_temporal_refs *refs, float *scratch) {
    size_t n = (size_t)refs->gh * refs->gw;
    for (size_t i = 0; i < PAIRS * n; i++)
        scratch[i] = NAN;
}

void sp_motion_source(const sp_temporal_refs *refs, const sp_motion *m, size_t p, float *fy,
                      float *fx) {
    float y = (float)(p / refs->gw), x = (float)(p % refs->gw);
    float cy = 0.5f * (float)(refs->gh - 1), cx = 0.5f * (float)(refs->gw - 1);
    *fy = cy + m->zoom * (y - cy) + m->sy;
    *fx = cx + m->zoom * (x - cx) + m->sx;
}

bool sp_motion_match(const sp_temporal_refs *refs, float *scratch, const float *x, float fy,
                     float fx, float *cos, size_t *nearest) {
    dot_src src = {.refs = refs, .x = x, .memo = NULL};
    return blend_cos(refs, scratch, &src, fy, fx, cos, nearest);
}

bool sp_motion_blend_own(const sp_temporal_refs *refs, float fy, float fx, size_t own_d,
                         float *out) {
    long y0 = (long)floorf(fy), x0 = (long)floorf(fx);
    float wy = fy - (float)y0, wx = fx - (float)x0;
    const long cy[4] = {y0, y0, y0 + 1, y0 + 1}, cx[4] = {x0, x0 + 1, x0, x0 + 1};
    const float w[4] = {(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx};
    size_t d = refs->win->d;
    for (size_t t = 0; t < own_d; t++)
        out[t] = 0.0f;
    for (int k = 0; k < 4; k++) {
        if (!(w[k] > 0))
            continue;
        if (!anchored(refs, cy[k], cx[k]))
            return false;
        const float *a = refs->anc + ((size_t)cy[k] * refs->gw + (size_t)cx[k]) * d;
        for (size_t t = 0; t < own_d; t++)
            out[t] += w[k] * a[t];
    }
    return true;
}

/* The sampled positions and their memos. */
typedef struct sampler {
    const sp_temporal_refs *refs;
    const sp_temporal_rule *rule;
    const float *fxn;
    float *pairs;
    float *own; /* one blended own part (rule->own_d floats) */
    float *memo;
    int radius;
    uint32_t ny, nx;
} sampler;

static dot_src sample_src(const sampler *s, uint32_t i, uint32_t j, size_t *p) {
    const sp_temporal_refs *r = s->refs;
    long y = SAMPLE / 2 + (long)i * SAMPLE, x = SAMPLE / 2 + (long)j * SAMPLE;
    size_t side = 2 * (size_t)s->radius + 1;
    *p = (size_t)y * r->gw + (size_t)x;
    return (dot_src){.refs = r,
                     .x = s->fxn + *p * r->win->d,
                     .memo = s->memo + ((size_t)i * s->nx + j) * side * side,
                     .py = y,
                     .px = x,
                     .radius = s->radius};
}

/* Whether the own parts (rule->own_d > 0) of x and ref agree to rule->tau_own: the temporal
 * graph's rule at a token's own place (temporal.c), so that the estimate counts the matches the
 * graph will make. */
static bool own_match(const sampler *s, const float *x, const float *ref) {
    size_t o = s->rule->own_d;
    if (!o)
        return false;
    float den = cblas_snrm2((int)o, x, 1) * cblas_snrm2((int)o, ref, 1);
    return den > 1e-12f && sp_stream_dot(x, ref, o) >= s->rule->tau_own * den;
}

/* The share of the sampled tokens whose content's origin under a whole-cell shift holds an
 * anchor they match (cosine >= tau, or the own parts agree); -INFINITY when fewer than MIN_PAIRS
 * have one. */
static float shift_score(const sampler *s, float tau, int sy, int sx) {
    size_t hits = 0, count = 0;
    for (uint32_t i = 0; i < s->ny; i++)
        for (uint32_t j = 0; j < s->nx; j++) {
            size_t p;
            dot_src src = sample_src(s, i, j, &p);
            long ay = src.py + sy, ax = src.px + sx;
            if (!anchored(s->refs, ay, ax))
                continue;
            const float *a =
                s->refs->anc + ((size_t)ay * s->refs->gw + (size_t)ax) * s->refs->win->d;
            hits +=
                anchor_dot(&src, ay, ax) >= tau || (sy == 0 && sx == 0 && own_match(s, src.x, a));
            count++;
        }
    return count >= MIN_PAIRS ? (float)hits / (float)count : -INFINITY;
}

/* How well a motion explains the sampled tokens: the share whose blended anchor at their
 * content's origin they match (cosine >= tau), and the mean cosine of those matches. */
typedef struct fit {
    float share, close;
} fit;

static fit fit_score(const sampler *s, const sp_motion *m, float tau) {
    bool still = sp_motion_is_identity(m);
    float sum = 0;
    size_t count = 0, hits = 0;
    for (uint32_t i = 0; i < s->ny; i++)
        for (uint32_t j = 0; j < s->nx; j++) {
            size_t p, q;
            dot_src src = sample_src(s, i, j, &p);
            float fy, fx, c;
            sp_motion_source(s->refs, m, p, &fy, &fx);
            if (!blend_cos(s->refs, s->pairs, &src, fy, fx, &c, &q))
                continue;
            count++;
            if (c >= tau || (still && s->rule->own_d &&
                             sp_motion_blend_own(s->refs, fy, fx, s->rule->own_d, s->own) &&
                             own_match(s, src.x, s->own))) {
                sum += c;
                hits++;
            }
        }
    if (count < MIN_PAIRS)
        return (fit){-INFINITY, -INFINITY};
    return (fit){(float)hits / (float)count, hits ? sum / (float)hits : 0.0f};
}

/* Whether candidate c explains the samples better than the best so far: clearly more matches
 * (SHIFT_MARGIN), or, once the camera is known to move, as many matches that are closer on
 * average (FIT_MARGIN). A still camera is not moved by closeness alone: with objects moving in
 * front of a still background, a blend of neighbouring anchors comes closer to a token that
 * changed, not to the background. */
static bool better(fit c, fit best, bool moving) {
    if (c.share > best.share + (moving ? SHIFT_MARGIN : ZOOM_MARGIN))
        return true;
    return moving && c.share >= best.share && c.close > best.close + FIT_MARGIN;
}

/* Tries the shifts (sy + k step, sx + l step), |k|, |l| <= reach, at the current zoom; keeps the
 * best. */
static void refine_shift(const sampler *s, float tau, float step, int reach, float limit,
                         sp_motion *m, fit *best) {
    sp_motion base = *m;
    for (int k = -reach; k <= reach; k++)
        for (int l = -reach; l <= reach; l++) {
            sp_motion c = {base.sy + (float)k * step, base.sx + (float)l * step, base.zoom};
            if ((k == 0 && l == 0) || fabsf(c.sy) > limit || fabsf(c.sx) > limit)
                continue;
            fit f = fit_score(s, &c, tau);
            if (better(f, *best, !sp_motion_is_identity(m))) {
                *best = f;
                *m = c;
            }
        }
}

/* Zooms tried: 1 + k Z / ZOOM_STEPS and 1 / (1 + k Z / ZOOM_STEPS), k = 1..ZOOM_STEPS; then,
 * once one is taken, half a step either side of it. */
enum { ZOOM_STEPS = 4 };

/* Takes the motion m with its zoom set to `zoom` if it explains the samples better than *best
 * (closeness counts once *cur, the best so far, moves). */
static void try_zoom(const sampler *s, float tau, const sp_motion *m, float zoom, sp_motion *cur,
                     fit *best) {
    sp_motion c = *m;
    c.zoom = zoom;
    fit sc = fit_score(s, &c, tau);
    if (better(sc, *best, !sp_motion_is_identity(cur))) {
        *best = sc;
        *cur = c;
    }
}

static void refine_zoom(const sampler *s, float tau, sp_motion *m, fit *best) {
    const float step = SP_MOTION_MAX_ZOOM / ZOOM_STEPS;
    sp_motion base = *m;
    for (int k = 1; k <= ZOOM_STEPS; k++) {
        float f = 1.0f + (float)k * step;
        try_zoom(s, tau, &base, f, m, best);
        try_zoom(s, tau, &base, 1.0f / f, m, best);
    }
    if (m->zoom == base.zoom)
        return;
    sp_motion coarse = *m;
    try_zoom(s, tau, &coarse, coarse.zoom * (1.0f + 0.5f * step), m, best);
    try_zoom(s, tau, &coarse, coarse.zoom / (1.0f + 0.5f * step), m, best);
}

void sp_motion_estimate(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                        const float *fxn, float *scratch, sp_motion *out) {
    *out = (sp_motion){0.0f, 0.0f, 1.0f};
    size_t n = (size_t)refs->gh * refs->gw;
    uint32_t max_shift = rule->max_shift;
    float tau = rule->tau;
    int radius = memo_radius(refs->gh, refs->gw, max_shift);
    sampler s = {.refs = refs,
                 .rule = rule,
                 .fxn = fxn,
                 .pairs = scratch,
                 .memo = scratch + PAIRS * n,
                 .radius = radius,
                 .ny = samples_along(refs->gh),
                 .nx = samples_along(refs->gw)};
    size_t side = 2 * (size_t)radius + 1, memo = (size_t)s.ny * s.nx * side * side;
    s.own = s.memo + memo;
    for (size_t i = 0; i < memo; i++)
        s.memo[i] = NAN;
    /* whole cells, by matches */
    int m = (int)max_shift, by = 0, bx = 0;
    float best = shift_score(&s, tau, 0, 0);
    if (best >= 1.0f) /* every sampled token repeats in place: a still camera */
        return;
    for (int dy = -m; dy <= m; dy++)
        for (int dx = -m; dx <= m; dx++) {
            if (dy == 0 && dx == 0)
                continue;
            float sc = shift_score(&s, tau, dy, dx);
            if (sc > best + SHIFT_MARGIN) {
                best = sc;
                by = dy;
                bx = dx;
            }
        }
    out->sy = (float)by;
    out->sx = (float)bx;
    /* the zoom, then fractions of a cell once the camera is known to move */
    fit f = fit_score(&s, out, tau);
    float limit = (float)max_shift + 0.5f;
    if (f.share == -INFINITY)
        return;
    bool still = sp_motion_is_identity(out);
    if (still && f.share + ZOOM_MARGIN >= 1.0f)
        return; /* no zoom can match a tenth more: spare the search */
    if (!still)
        refine_shift(&s, tau, 0.25f, 2, limit, out, &f);
    refine_zoom(&s, tau, out, &f);
    if (sp_motion_is_identity(out))
        return;
    refine_shift(&s, tau, 0.25f, 1, limit, out, &f);
    refine_shift(&s, tau, 0.125f, 1, limit, out, &f);
}
