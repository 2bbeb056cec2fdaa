/* reselect(): QCSP alone (the stream's kernel and quality, docs/streams.md) over the deduplicated
 * candidates of a time range, from the window and the history, without touching frames. When the
 * range holds more than reselect_max candidates a shortlist is taken first (docs/streams.md,
 * "Reselect"): with a query, the candidates with the highest cosine to any query row; without one,
 * the candidates that were emitted before, then the others, each group thinned by an even stride
 * over time. The shortlist and its values are copied under the state lock; relevance and the DPP
 * run after it is released. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../select/dpp.h"
#include "alloc.h"
#include "scriptprune/qcsp.h"
#include "stream_internal.h"

typedef struct ref {
    uint64_t frame;
    uint32_t pos;
    uint32_t from_hist; /* 0: window slot, 1: history record */
    size_t idx;
    float score;
    uint32_t emitted;
} ref;

static int ref_key_cmp(const void *a, const void *b) {
    const ref *x = a, *y = b;
    return sp_key_cmp(x->frame, x->pos, y->frame, y->pos);
}

static int ref_score_cmp(const void *a, const void *b) {
    const ref *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return ref_key_cmp(a, b);
}

static bool meets(int64_t pts, int64_t last, int64_t t0, int64_t t1) {
    return (t0 == SP_PTS_NONE || last >= t0) && (t1 == SP_PTS_NONE || pts <= t1);
}

/* Token and embedding values of a candidate as float32 (emb may be NULL). */
static void values_of(const sp_stream *s, const ref *r, float *tok, float *emb) {
    if (r->from_hist) {
        sp_history_values(&s->hist, sp_history_at(&s->hist, r->idx), tok, emb);
        return;
    }
    if (tok)
        memcpy(tok, s->win.raw + r->idx * s->d, s->d * sizeof(float));
    if (emb && s->e)
        memcpy(emb, s->win.emb + r->idx * s->e, s->e * sizeof(float));
}

/* score = max over query rows of the cosine with the candidate's relevance rows, in blocks. */
static sp_status score_refs(const sp_stream *s, ref *refs, size_t n, const sp_query *q,
                            sp_error *err) {
    enum { BLOCK = 256 };
    size_t w = s->rel_width, m = q->m;
    float *blk = sp_alloc_array(BLOCK, w * sizeof(float));
    float *qn = sp_alloc_array(m, w * sizeof(float));
    float *c = sp_alloc_array(BLOCK, m * sizeof(float));
    sp_status st = SP_OK;
    if (!blk || !qn || !c) {
        st = sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for the shortlist scores");
        goto out;
    }
    sp_stream_normalize(q->rows, m, w, qn);
    for (size_t b0 = 0; b0 < n; b0 += BLOCK) {
        size_t nb = n - b0 < BLOCK ? n - b0 : BLOCK;
        for (size_t i = 0; i < nb; i++) {
            float *row = blk + i * w;
            if (s->e)
                values_of(s, &refs[b0 + i], NULL, row);
            else
                values_of(s, &refs[b0 + i], row, NULL);
        }
        /* Products on the raw rows, divided by the row norms afterwards (one pass less). */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)m, (int)w, 1.0f, blk,
                    (int)w, qn, (int)w, 0.0f, c, (int)m);
        for (size_t i = 0; i < nb; i++) {
            float best = c[i * m];
            for (size_t j = 1; j < m; j++)
                best = fmaxf(best, c[i * m + j]);
            float nrm = cblas_snrm2((int)w, blk + i * w, 1);
            refs[b0 + i].score = best / (nrm > 1e-12f ? nrm : 1e-12f);
        }
    }
out:
    sp_free(blk);
    sp_free(qn);
    sp_free(c);
    return st;
}

/* Keeps `want` of the n refs (in key order) by an even stride: positions floor(i * n / want). */
static size_t stride_pick(ref *dst, const ref *src, size_t n, size_t want) {
    if (want >= n) {
        memmove(dst, src, n * sizeof *src);
        return n;
    }
    for (size_t i = 0; i < want; i++)
        dst[i] = src[(size_t)((double)i * (double)n / (double)want)];
    return want;
}

/* Shortlist without a query: emitted candidates first, then the others, both by stride. */
static size_t shortlist_plain(ref *refs, size_t n, size_t max, sp_error *err, sp_status *st) {
    ref *tmp = sp_alloc_array(n, sizeof *tmp);
    *st = SP_OK;
    if (!tmp) {
        *st = sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for the shortlist");
        return 0;
    }
    size_t ne = 0, no = 0;
    for (size_t i = 0; i < n; i++)
        if (refs[i].emitted)
            tmp[ne++] = refs[i];
    for (size_t i = 0; i < n; i++)
        if (!refs[i].emitted)
            tmp[ne + no++] = refs[i];
    size_t k = stride_pick(refs, tmp, ne, max);
    if (k < max)
        k += stride_pick(refs + k, tmp + ne, no, max - k);
    sp_free(tmp);
    qsort(refs, k, sizeof *refs, ref_key_cmp);
    return k;
}

/* The n x n QCSP kernel of the shortlist rows x (n x d): cosines by one SSYRK, mirrored, then
 * the stream's transform. A new array in *out. */
static sp_status shortlist_kernel(const float *x, size_t n, size_t d, float sigma, float **out,
                                  sp_error *err) {
    size_t bytes;
    float *xn = sp_alloc_array(n, d * sizeof(float));
    float *g = sp_mul3_size(n, n, sizeof(float), &bytes) ? sp_aligned_alloc(bytes) : NULL;
    if (!xn || !g) {
        sp_free(xn);
        sp_free(g);
        return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for a %zu x %zu kernel", n,
                            n);
    }
    sp_stream_normalize(x, n, d, xn);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)d, 1.0f, xn, (int)d, 0.0f, g,
                (int)n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            float v = sp_stream_kernel(g[i * n + j], sigma);
            g[i * n + j] = v;
            g[j * n + i] = v;
        }
    sp_free(xn);
    *out = g;
    return SP_OK;
}

sp_status sp_stream_reselect(sp_stream *s, sp_workspace *ws, const sp_query *q, size_t budget,
                             int64_t t0, int64_t t1, sp_packet_buf *out, sp_error *err) {
    if (!s || !out)
        return sp_error_set(err, SP_ERR_INVALID, "sp_stream_reselect: NULL argument");
    if (budget < 1)
        return sp_error_set(err, SP_ERR_INVALID, "reselect: budget must be at least 1");
    if (t0 != SP_PTS_NONE && t1 != SP_PTS_NONE && t0 > t1)
        return sp_error_set(err, SP_ERR_INVALID, "reselect: empty time range [%lld, %lld]",
                            (long long)t0, (long long)t1);
    bool have_q = q && q->m > 0;
    if (have_q) {
        if (!q->rows || q->e == 0)
            return sp_error_set(err, SP_ERR_INVALID, "reselect: query without data");
        sp_status st = sp_check_finite(q->rows, 0, q->m, q->e, "query", err);
        if (st)
            return st;
    }
    sp_workspace *own = NULL;
    if (!ws) {
        ws = own = sp_workspace_new();
        if (!ws)
            return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for a workspace");
    }
    sp_status st = SP_OK;
    ref *refs = NULL;
    float *emb = NULL, *rel = NULL, *quality = NULL, *gram = NULL;
    uint32_t *picks = NULL;
    size_t n = 0, d = 0, e = 0, width = 0;
    int64_t span0 = t0, span1 = t1;
    uint64_t f0 = 0, f1 = 0;

    pthread_mutex_lock(&s->lock);
    if (!s->started)
        goto locked_empty;
    d = s->d;
    e = s->e;
    width = s->rel_width;
    if (have_q && q->e != width) {
        st = sp_error_set(err, SP_ERR_INVALID,
                          "reselect: query rows have width %zu but the stream's %s have width %zu",
                          q->e, e ? "embeddings" : "tokens", width);
        goto locked_out;
    }
    size_t total = s->win.hi + s->hist.count;
    refs = sp_alloc_array(total ? total : 1, sizeof *refs);
    if (!refs) {
        st = sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu candidates", total);
        goto locked_out;
    }
    for (size_t i = 0; i < s->hist.count; i++) {
        const sp_hist_rec *r = sp_history_at(&s->hist, i);
        if (meets(r->pts, r->last_pts, t0, t1))
            refs[n++] = (ref){r->frame, (uint32_t)r->y * s->gw + r->x, 1, i,
                              0.0f,     r->flags & SP_CAND_EMITTED};
    }
    for (size_t i = 0; i < s->win.hi; i++) {
        const sp_cand *c = &s->win.c[i];
        if (sp_window_alive(&s->win, i) && meets(c->pts, c->last_pts, t0, t1))
            refs[n++] = (ref){c->frame, c->pos, 0, i, 0.0f, c->flags & SP_CAND_EMITTED};
    }
    if (n == 0)
        goto locked_empty;
    qsort(refs, n, sizeof *refs, ref_key_cmp);
    /* The span the candidates cover (for the packet header). */
    span0 = INT64_MAX;
    span1 = INT64_MIN;
    f0 = UINT64_MAX;
    f1 = 0;
    for (size_t i = 0; i < n; i++) {
        const ref *r = &refs[i];
        int64_t a, b;
        if (r->from_hist) {
            const sp_hist_rec *h = sp_history_at(&s->hist, r->idx);
            a = h->pts;
            b = h->last_pts;
        } else {
            a = s->win.c[r->idx].pts;
            b = s->win.c[r->idx].last_pts;
        }
        span0 = a < span0 ? a : span0;
        span1 = b > span1 ? b : span1;
        f0 = r->frame < f0 ? r->frame : f0;
        f1 = r->frame > f1 ? r->frame : f1;
    }
    if (n > s->p.reselect_max) {
        if (have_q) {
            st = score_refs(s, refs, n, q, err);
            if (st)
                goto locked_out;
            qsort(refs, n, sizeof *refs, ref_score_cmp);
            n = s->p.reselect_max;
            qsort(refs, n, sizeof *refs, ref_key_cmp);
        } else {
            n = shortlist_plain(refs, n, s->p.reselect_max, err, &st);
            if (st)
                goto locked_out;
        }
    }
    /* Copy the shortlist's values and provenance out of the shared state. */
    st = sp_packet_buf_reserve(out, n, d, err);
    if (!st && e) {
        emb = sp_alloc_array(n, e * sizeof(float));
        if (!emb)
            st = sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu embeddings", n);
    }
    if (st)
        goto locked_out;
    quality = sp_alloc_array(n, sizeof(float));
    if (!quality) {
        st = sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu candidates", n);
        goto locked_out;
    }
    for (size_t i = 0; i < n; i++) {
        const ref *r = &refs[i];
        values_of(s, r, out->tokens + i * d, emb ? emb + i * e : NULL);
        sp_token_info *in = &out->info[i];
        uint32_t spatial;
        if (r->from_hist) {
            const sp_hist_rec *h = sp_history_at(&s->hist, r->idx);
            *in = (sp_token_info){h->pts, h->last_pts, h->frame, h->seen, h->y, h->x};
            spatial = h->spatial;
        } else {
            spatial = s->win.c[r->idx].spatial;
            const sp_cand *c = &s->win.c[r->idx];
            *in = (sp_token_info){c->pts,
                                  c->last_pts,
                                  c->frame,
                                  c->seen,
                                  (uint16_t)(c->pos / s->gw),
                                  (uint16_t)(c->pos % s->gw)};
        }
        quality[i] = sp_stream_mass_quality(in->seen, spatial, s->p.window, s->p.mass_gamma);
    }
    float sigma = s->p.kernel_sigma;
    pthread_mutex_unlock(&s->lock);

    /* QCSP over the shortlist, outside the lock, with the stream's kernel and quality. */
    size_t k = budget < n ? budget : n;
    rel = have_q ? sp_alloc_array(n, sizeof(float)) : NULL;
    picks = sp_alloc_array(n, sizeof(uint32_t));
    if ((have_q && !rel) || !picks) {
        st = sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu candidates", n);
        goto out;
    }
    if (have_q) {
        st = sp_relevance(ws, e ? emb : out->tokens, n, width, q, rel, err);
        if (st)
            goto out;
        memcpy(quality, rel, n * sizeof(float)); /* with a query, relevance is the quality */
    }
    if (k < n) {
        st = shortlist_kernel(out->tokens, n, d, sigma, &gram, err);
        if (st)
            goto out;
        sp_kernel kern = {.n = n, .r = quality, .g = gram, .ldg = n, .rounds = true};
        st = sp_dpp_run(ws, &kern, k, picks, err);
        if (st)
            goto out;
    } else {
        for (size_t i = 0; i < n; i++)
            picks[i] = (uint32_t)i;
    }
    for (size_t i = 0; i < k; i++) {
        if (picks[i] == i)
            continue;
        memcpy(out->tokens + i * d, out->tokens + (size_t)picks[i] * d, d * sizeof(float));
        out->info[i] = out->info[picks[i]];
    }
    out->packet.count = k;
    goto fill;

locked_empty:
    pthread_mutex_unlock(&s->lock);
    st = sp_packet_buf_reserve(out, 0, d, err);
    if (st)
        goto out;
    if (span0 == SP_PTS_NONE)
        span0 = span1 != SP_PTS_NONE ? span1 : 0;
    if (span1 == SP_PTS_NONE)
        span1 = span0;
fill:
    out->packet.kind = SP_PACKET_RESELECT;
    out->packet.window = SP_WINDOW_NONE;
    out->packet.pts_first = span0;
    out->packet.pts_last = span1;
    out->packet.frame_first = f0;
    out->packet.frame_last = f1;
    out->packet.query_hash = have_q ? sp_query_hash(q) : 0;
    out->packet.budget = budget;
    goto out;

locked_out:
    pthread_mutex_unlock(&s->lock);
out:
    if (st)
        out->packet.count = 0;
    sp_free(refs);
    sp_free(emb);
    sp_free(rel);
    sp_free(picks);
    sp_free(quality);
    sp_free(gram);
    sp_workspace_free(own);
    return st;
}
