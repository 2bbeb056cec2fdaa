/* The temporal graph: each token of a new frame against the references the window keeps at its
 * own grid position and, if none matches there, in its radius-r neighbourhood; optionally against
 * every alive candidate with one SGEMM. References at a position are its anchor (the token last
 * refreshed there, docs/streams.md) and the alive candidates taken at that position. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "stream_internal.h"

float sp_stream_dot(const float *a, const float *b, size_t d) {
    /* Dot products between one token and a handful of scattered references: too few and too
     * scattered to batch into a GEMM, so a level-1 BLAS call each. */
    return cblas_sdot((int)d, a, 1, b, 1);
}

void sp_stream_normalize(const float *x, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) {
        float nrm = cblas_snrm2((int)d, x + i * d, 1);
        float inv = 1.0f / (nrm > 1e-12f ? nrm : 1e-12f);
        if (out != x)
            memcpy(out + i * d, x + i * d, d * sizeof(float));
        cblas_sscal((int)d, inv, out + i * d, 1);
    }
}

typedef struct best_match {
    float sim;
    int32_t slot; /* candidate credited with the match, -1: an anchor that stands for none */
    bool any;
} best_match;

static void consider(best_match *b, float sim, int32_t slot) {
    if (!b->any || sim > b->sim) {
        b->sim = sim;
        b->slot = slot;
        b->any = true;
    }
}

/* The references at grid position q: its anchor (crediting the candidate that is or represents
 * it), then the other alive candidates taken there. */
static void match_position(const sp_stream *s, const float *x, size_t q, best_match *b) {
    const sp_window *w = &s->win;
    int32_t self = -1;
    if (s->anc_kind[q] != SP_ANC_NONE) {
        int32_t aslot = s->anc_slot[q];
        if (s->anc_kind[q] == SP_ANC_SELF)
            self = aslot;
        consider(b, sp_stream_dot(x, s->anc + q * s->d, s->d), aslot);
    }
    for (int32_t c = w->head[q]; c >= 0; c = w->c[c].next)
        if (c != self)
            consider(b, sp_stream_dot(x, w->xn + (size_t)c * s->d, s->d), c);
}

size_t sp_temporal_classify(sp_stream *s, sp_error *err, sp_status *status) {
    size_t n = s->n, d = s->d;
    int r = (int)s->p.radius;
    int gh = (int)s->gh, gw = (int)s->gw;
    float tau = s->p.tau_t;
    size_t fresh = 0;
    *status = SP_OK;
    for (size_t p = 0; p < n; p++) {
        const float *x = s->fxn + p * d;
        best_match b = {.sim = -INFINITY, .slot = -1, .any = false};
        match_position(s, x, p, &b);
        if (!(b.any && b.sim >= tau) && r > 0) {
            int y = (int)(p / (size_t)gw), xx = (int)(p % (size_t)gw);
            for (int dy = -r; dy <= r; dy++) {
                int yy = y + dy;
                if (yy < 0 || yy >= gh)
                    continue;
                for (int dx = -r; dx <= r; dx++) {
                    int xq = xx + dx;
                    if ((dy == 0 && dx == 0) || xq < 0 || xq >= gw)
                        continue;
                    match_position(s, x, (size_t)yy * (size_t)gw + (size_t)xq, &b);
                }
            }
        }
        bool redundant = b.any && b.sim >= tau;
        s->match[p] = redundant ? b.slot : -1;
        s->is_new[p] = !redundant;
        fresh += !redundant;
    }
    if (!s->p.match_all || fresh == 0 || s->win.n == 0)
        return fresh;

    /* The whole kept set: the tokens still new against every used slot, one SGEMM (holes are
     * skipped when the best is taken). */
    size_t m = 0, wn = s->win.hi;
    uint32_t *rows = s->gsp_idx;
    for (size_t p = 0; p < n; p++)
        if (s->is_new[p]) {
            memcpy(s->ftmp + m * d, s->fxn + p * d, d * sizeof(float));
            rows[m++] = (uint32_t)p;
        }
    size_t need;
    if (!sp_mul_size(m, wn, &need)) {
        *status = sp_error_set(err, SP_ERR_OVERFLOW, "stream: product %zu x %zu too large", m, wn);
        return 0;
    }
    if (need > s->fsim_cap) {
        float *g = sp_alloc_array(need, sizeof(float));
        if (!g) {
            *status = sp_error_set(err, SP_ERR_NOMEM,
                                   "stream: out of memory for %zu x %zu similarities", m, wn);
            return 0;
        }
        sp_free(s->fsim);
        s->fsim = g;
        s->fsim_cap = need;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)wn, (int)d, 1.0f, s->ftmp,
                (int)d, s->win.xn, (int)d, 0.0f, s->fsim, (int)wn);
    for (size_t i = 0; i < m; i++) {
        const float *row = s->fsim + i * wn;
        size_t bj = SIZE_MAX;
        for (size_t j = 0; j < wn; j++)
            if (sp_window_alive(&s->win, j) && (bj == SIZE_MAX || row[j] > row[bj]))
                bj = j;
        if (bj != SIZE_MAX && row[bj] >= tau) {
            s->match[rows[i]] = (int32_t)bj;
            s->is_new[rows[i]] = 0;
            fresh--;
        }
    }
    return fresh;
}
