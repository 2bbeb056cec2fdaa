/* The temporal graph: each token of a new frame against the references the window keeps at its
 * own grid position and, if none matches there, in its radius-r neighbourhood; when the camera
 * moved (a shift and a zoom estimated from the anchors, motion.c), against the anchors blended
 * where its content came from instead; optionally against every alive candidate with one SGEMM.
 * References at a position are its anchor (the latest token seen there, docs/streams.md) and the
 * alive candidates taken at that position. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cosine.h"
#include "motion.h"
#include "temporal.h"

/* Halfway between tau and 1: the cell's own features carry less than the whole token, so their
 * agreement is asked to be tighter (bench/quality/real_textures.py: 0.97, 0.98 and 0.99 at tau_t
 * 0.94 give static precision 0.881 / 0.880, 0.880 / 0.878, 0.878 / 0.875 on the object scenes
 * over grass / gravel, and 0.926, 0.922, 0.918 on the photo pan, with the same new-content
 * recall). */
float sp_temporal_own_tau(float tau) {
    return 0.5f * (1.0f + tau);
}

typedef struct best_match {
    float sim;
    int32_t slot; /* candidate credited with the match, -1: an anchor that stands for none */
    bool any;
    bool pass; /* a reference matched: sim >= tau, or the cell's own part (see probe) */
} best_match;

/* A token being matched: its row, and for a split layout (own_d > 0) its own part's norm. A
 * reference at the token's own place (its grid position, or where the camera's motion says its
 * content came from) also matches when the own parts alone agree to tau_own: the cell stayed the
 * same although something moved in its surroundings. Neighbouring positions need the whole
 * token: they show other parts of the picture whose cells may look alike. */
typedef struct probe {
    const float *x;
    float own_norm;
    size_t own_d;
    float tau, tau_own;
} probe;

/* Whether the own parts of the token and of ref (a row of width d) agree to tau_own. */
static bool own_agrees(const probe *pr, const float *ref) {
    if (!pr->own_d)
        return false;
    float rn = cblas_snrm2((int)pr->own_d, ref, 1);
    float den = pr->own_norm * rn;
    return den > 1e-12f && sp_stream_dot(pr->x, ref, pr->own_d) >= pr->tau_own * den;
}

static void consider(best_match *b, const probe *pr, float sim, int32_t slot, bool own) {
    bool pass = sim >= pr->tau || own;
    if (!b->any || (pass && !b->pass) || (pass == b->pass && sim > b->sim)) {
        b->sim = sim;
        b->slot = slot;
        b->any = true;
        b->pass = pass;
    }
}

/* The references at grid position q: its anchor (crediting the candidate that is or represents
 * it), then the other alive candidates taken there; `own`: q is the token's own place. */
static void match_position(const sp_temporal_refs *refs, const probe *pr, size_t q, bool own,
                           best_match *b) {
    const sp_window *w = refs->win;
    size_t d = w->d;
    int32_t self = -1;
    if (refs->anc_kind[q] != SP_ANC_NONE) {
        int32_t aslot = refs->anc_slot[q];
        if (refs->anc_kind[q] == SP_ANC_SELF)
            self = aslot;
        const float *a = refs->anc + q * d;
        float sim = sp_stream_dot(pr->x, a, d);
        consider(b, pr, sim, aslot, own && sim < pr->tau && own_agrees(pr, a));
    }
    for (int32_t c = w->head[q]; c >= 0; c = w->c[c].next)
        if (c != self) {
            const float *a = w->xn + (size_t)c * d;
            float sim = sp_stream_dot(pr->x, a, d);
            consider(b, pr, sim, c, own && sim < pr->tau && own_agrees(pr, a));
        }
}

/* The references of the radius-r neighbourhood of (cy, cx), in raster order, (cy, cx) itself
 * excepted. */
static void match_around(const sp_temporal_refs *refs, const probe *pr, int cy, int cx, int r,
                         best_match *b) {
    int gh = (int)refs->gh, gw = (int)refs->gw;
    for (int dy = -r; dy <= r; dy++) {
        int yy = cy + dy;
        if (yy < 0 || yy >= gh)
            continue;
        for (int dx = -r; dx <= r; dx++) {
            int xq = cx + dx;
            if ((dy == 0 && dx == 0) || xq < 0 || xq >= gw)
                continue;
            match_position(refs, pr, (size_t)yy * (size_t)gw + (size_t)xq, false, b);
        }
    }
}

/* Cells a token's content moved by itself (against the frame's typical displacement), under a
 * still camera, from which the pixels rather than the features decide that no candidate close
 * enough stands for it. */
#define OWN_MOTION (1.0f / 3.0f)

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The median displacement (cells, y then x) of the frame's SEEN tokens: what the picture as a
 * whole did, which the features' motion estimate can miss (a slow pan seen as a still camera).
 * tmp: room for n floats. Zero without SEEN tokens. */
static void typical_shift(const sp_pixel_evidence *ev, size_t n, float *tmp, float shift[2]) {
    for (int axis = 0; axis < 2; axis++) {
        size_t k = 0;
        for (size_t p = 0; p < n; p++)
            if (ev[p].verdict == SP_PIXELS_SEEN)
                tmp[k++] = axis ? ev[p].dx : ev[p].dy;
        qsort(tmp, k, sizeof *tmp, cmp_float);
        shift[axis] = k ? tmp[k / 2] : 0.0f;
    }
}

/* What the pixels decided for token p (see sp_temporal_rule.evidence): true when they settled it,
 * with *slot the candidate credited (-1: none) or *fresh set. SEEN: the candidate of an anchor
 * around its source whose content lies within half a cell of it (off: where, from the token's
 * cell), whatever the features say (two patches of grass look alike; the pixels at the source are
 * the cell's); with none that close, new when its content moved on its own, else the features
 * decide. NEW: not the anchor at its place nor its neighbours (the pixels showed something else
 * there a frame ago; a neighbour that looks alike is not where it came from); only the candidates
 * taken at its own position earlier in the window, which it may show again (ground an object
 * uncovers that the window saw before), and only while the camera is still (when it moves, its
 * position showed other content). */
static bool pixel_verdict(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                          const probe *pr, size_t p, bool still, const float shift[2],
                          int32_t *slot, bool *fresh, float off[2]) {
    const sp_pixel_evidence *ev = &rule->evidence[p];
    int gw = (int)refs->gw, gh = (int)refs->gh;
    if (ev->verdict == SP_PIXELS_SEEN) {
        /* the (up to) four anchors around the source: the one whose candidate's content lies
         * closest to it (anchors that followed a moving part carry where their candidate's content
         * is), within half a cell each way, else the features decide */
        float sy = (float)(p / (size_t)gw) + ev->dy, sx = (float)(p % (size_t)gw) + ev->dx;
        long y0 = (long)floorf(sy), x0 = (long)floorf(sx);
        float best = INFINITY;
        for (long qy = y0; qy <= y0 + 1; qy++)
            for (long qx = x0; qx <= x0 + 1; qx++) {
                if (qy < 0 || qx < 0 || qy >= gh || qx >= gw)
                    continue;
                size_t q = (size_t)qy * (size_t)gw + (size_t)qx;
                if (refs->anc_kind[q] == SP_ANC_NONE)
                    continue;
                float oy = (float)qy - sy, ox = (float)qx - sx;
                if (refs->anc_off) {
                    oy += refs->anc_off[2 * q];
                    ox += refs->anc_off[2 * q + 1];
                }
                float far = fmaxf(fabsf(oy), fabsf(ox));
                if (far <= 0.5f && far < best) {
                    best = far;
                    *slot = refs->anc_slot[q];
                    off[0] = oy;
                    off[1] = ox;
                }
            }
        if (best <= 0.5f) {
            *fresh = false;
            return true;
        }
        /* Seen, but no candidate stands for it within half a cell. When its content moved on
         * its own (a third of a cell or more from the frame's typical displacement, under a
         * still camera: an object), the features at its place and around would credit another
         * part of the object (on the real-texture object scenes 18% of the cup's credits pointed
         * more than 12 px away, the anchors then carrying the error on): it is new. Content that
         * drifted less (a zoom: at most a quarter of a cell a frame in those scenes), or a
         * moving camera (the features compare it with the anchors blended at its source), is
         * left to the features, which hold. */
        bool moved = fmaxf(fabsf(ev->dy - shift[0]), fabsf(ev->dx - shift[1])) >= OWN_MOTION;
        *fresh = still && moved;
        *slot = -1;
        return *fresh;
    }
    if (ev->verdict != SP_PIXELS_NEW)
        return false;
    *fresh = true;
    *slot = -1;
    if (!still)
        return true;
    const sp_window *w = refs->win;
    int32_t self = refs->anc_kind[p] == SP_ANC_SELF ? refs->anc_slot[p] : -1;
    best_match b = {.sim = -INFINITY, .slot = -1, .any = false, .pass = false};
    for (int32_t c = w->head[p]; c >= 0; c = w->c[c].next)
        if (c != self) {
            const float *a = w->xn + (size_t)c * w->d;
            float sim = sp_stream_dot(pr->x, a, w->d);
            consider(&b, pr, sim, c, sim < pr->tau && own_agrees(pr, a));
        }
    if (b.any && b.pass) {
        *slot = b.slot;
        *fresh = false;
    }
    return true;
}

/* is_new value of a token the pixel evidence calls new, until sp_temporal_classify returns: the
 * all-candidates product leaves it new (a token that looks like one elsewhere is not where it came
 * from). */
enum { PIXEL_NEW = 2 };

static void settle(uint8_t *is_new, size_t n) {
    for (size_t p = 0; p < n; p++)
        is_new[p] = is_new[p] != 0;
}

/* Matches every token of the frame under one motion: none (its own position, then its radius-r
 * neighbourhood) or the camera's (only the anchor blended where its content came from, and the
 * candidates taken at the nearest cell: its own position and neighbours show other parts of the
 * picture that may look alike, grass next to grass, and content entering at the border has no
 * origin). Returns the number of new tokens. */
static size_t match_frame(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                          const float *fxn, const sp_motion *mo, float *motion_scratch,
                          float *own_blend, float *match_off, int32_t *match, uint8_t *is_new) {
    size_t n = refs->win->npos, d = refs->win->d;
    int r = (int)rule->radius;
    int gw = (int)refs->gw;
    bool still = sp_motion_is_identity(mo);
    size_t fresh = 0;
    float shift[2] = {0.0f, 0.0f};
    /* Used under a still camera only. match_off is written per token below: free until then. */
    if (rule->evidence && still)
        typical_shift(rule->evidence, n, match_off, shift);
    for (size_t p = 0; p < n; p++) {
        probe pr = {
            .x = fxn + p * d, .own_d = rule->own_d, .tau = rule->tau, .tau_own = rule->tau_own};
        if (pr.own_d)
            pr.own_norm = cblas_snrm2((int)pr.own_d, pr.x, 1);
        best_match b = {.sim = -INFINITY, .slot = -1, .any = false, .pass = false};
        int y = (int)(p / (size_t)gw), xx = (int)(p % (size_t)gw);
        int32_t slot = -1;
        bool pnew = false;
        float *off = match_off + 2 * p;
        off[0] = off[1] = 0.0f;
        if (rule->evidence && pixel_verdict(refs, rule, &pr, p, still, shift, &slot, &pnew, off)) {
            match[p] = pnew ? -1 : slot;
            is_new[p] = pnew ? PIXEL_NEW : 0;
            fresh += pnew;
            continue;
        }
        if (!still) {
            float fy, fx, c;
            size_t q;
            sp_motion_source(refs, mo, p, &fy, &fx);
            if (sp_motion_match(refs, motion_scratch, pr.x, fy, fx, &c, &q)) {
                bool own = c < pr.tau && pr.own_d &&
                           sp_motion_blend_own(refs, fy, fx, pr.own_d, own_blend) &&
                           own_agrees(&pr, own_blend);
                consider(&b, &pr, c, refs->anc_slot[q], own);
                match_position(refs, &pr, q, true, &b);
            }
        } else {
            match_position(refs, &pr, p, true, &b);
            if (!b.pass && r > 0)
                match_around(refs, &pr, y, xx, r, &b);
        }
        bool redundant = b.any && b.pass;
        match[p] = redundant ? b.slot : -1;
        is_new[p] = !redundant;
        fresh += !redundant;
    }
    return fresh;
}

size_t sp_temporal_classify(const sp_temporal_refs *refs, const sp_temporal_rule *rule,
                            const float *fxn, sp_temporal_scratch *scratch, int32_t *match,
                            uint8_t *is_new, sp_error *err, sp_status *status) {
    const sp_window *win = refs->win;
    size_t n = win->npos, d = win->d; /* one anchor per grid position */
    float tau = rule->tau;
    *status = SP_OK;
    sp_motion mo = {0.0f, 0.0f, 1.0f};
    sp_motion_reset(refs, scratch->motion);
    if (rule->max_shift > 0)
        sp_motion_estimate(refs, rule, fxn, scratch->motion, &mo);
    /* scratch->gather is free until the all-candidates product: the blended own part */
    size_t fresh = match_frame(refs, rule, fxn, &mo, scratch->motion, scratch->gather,
                               scratch->match_off, match, is_new);
    if (!rule->match_all || fresh == 0 || win->n == 0) {
        settle(is_new, n);
        return fresh;
    }

    /* The whole kept set: the tokens still new against every used slot, one SGEMM (holes are
     * skipped when the best is taken). */
    size_t m = 0, wn = win->hi;
    uint32_t *rows = scratch->rows;
    for (size_t p = 0; p < n; p++)
        if (is_new[p] == 1) { /* not the tokens the pixels call new */
            memcpy(scratch->gather + m * d, fxn + p * d, d * sizeof(float));
            rows[m++] = (uint32_t)p;
        }
    size_t need;
    if (!sp_mul_size(m, wn, &need)) {
        *status = sp_error_set(err, SP_ERR_OVERFLOW, "stream: product %zu x %zu too large", m, wn);
        return 0;
    }
    if (need > *scratch->prod_cap) {
        float *g = sp_alloc_array(need, sizeof(float));
        if (!g) {
            *status = sp_error_set(err, SP_ERR_NOMEM,
                                   "stream: out of memory for %zu x %zu similarities", m, wn);
            return 0;
        }
        sp_free(*scratch->prod);
        *scratch->prod = g;
        *scratch->prod_cap = need;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)wn, (int)d, 1.0f,
                scratch->gather, (int)d, win->xn, (int)d, 0.0f, *scratch->prod, (int)wn);
    for (size_t i = 0; i < m; i++) {
        const float *row = *scratch->prod + i * wn;
        size_t bj = SIZE_MAX;
        for (size_t j = 0; j < wn; j++)
            if (sp_window_alive(win, j) && (bj == SIZE_MAX || row[j] > row[bj]))
                bj = j;
        if (bj != SIZE_MAX && row[bj] >= tau) {
            match[rows[i]] = (int32_t)bj;
            is_new[rows[i]] = 0;
            fresh--;
        }
    }
    settle(is_new, n);
    return fresh;
}
