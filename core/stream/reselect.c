/* reselect(): QCSP alone (the stream's kernel and quality, docs/streams.md) over the deduplicated
 * candidates of a time range, from the window and the history, without touching frames. When the
 * range holds more than reselect_max candidates a shortlist is taken first (docs/streams.md,
 * "Reselect"): with a query, the candidates with the highest cosine to any query row; without one,
 * the candidates that were emitted before, then the others, each group thinned by an even stride
 * over time. The shortlist and its values are copied under the state lock; relevance and the DPP
 * run after it is released, with the whole kernel or, for a budget that is a small share of the
 * shortlist, only the picks' rows in batches (dpp.h). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../select/dpp.h"
#include "../select/relevance.h"
#include "../select/similarity.h"
#include "../select/workspace.h"
#include "alloc.h"
#include "scriptprune/qcsp.h"
#include "stream_internal.h"

/* Kernel rows per SGEMM of the batched DPP (dpp.h): enough rows to keep the product compute
 * bound, few enough that the guesses past the next pick stay cheap (bench/bench_ask.c). */
enum { RESELECT_ROW_BATCH = 64 };

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

/* One reselect call: the request, what is copied out of the stream under its lock, and the
 * buffers of the unlocked selection. Every pointer is owned here and freed by reselect_free. */
typedef struct reselect {
    const sp_query *q; /* NULL when there is no query */
    size_t budget;
    int64_t t0, t1;

    /* copied under the lock */
    size_t n;           /* shortlisted candidates (their tokens and info are in the packet) */
    size_t d, e, width; /* the stream's token and embedding widths; relevance width */
    float sigma;        /* the kernel width: query_kernel_sigma with a query (when > 0), else
                           kernel_sigma */
    ref *refs;          /* the candidates meeting [t0, t1], then the shortlist, in key order */
    float *emb;         /* n x e embeddings (streams with embeddings) */
    float *quality;     /* n mass qualities, or relevances when there is a query */
    int64_t span0, span1;
    uint64_t f0, f1;

    /* the unlocked selection */
    float *rel;
    float *gram;
    uint32_t *picks;
} reselect;

static void reselect_free(reselect *r) {
    sp_free(r->refs);
    sp_free(r->emb);
    sp_free(r->rel);
    sp_free(r->picks);
    sp_free(r->quality);
    sp_free(r->gram);
}

/* Checks the arguments before the stream is touched. */
static sp_status check_request(const sp_stream *s, const sp_query *q, size_t budget, int64_t t0,
                               int64_t t1, const sp_packet_buf *out, sp_error *err) {
    if (!s || !out)
        return sp_error_set(err, SP_ERR_INVALID, "sp_stream_reselect: NULL argument");
    if (budget < 1)
        return sp_error_set(err, SP_ERR_INVALID, "reselect: budget must be at least 1");
    if (t0 != SP_PTS_NONE && t1 != SP_PTS_NONE && t0 > t1)
        return sp_error_set(err, SP_ERR_INVALID, "reselect: empty time range [%lld, %lld]",
                            (long long)t0, (long long)t1);
    if (q && q->m > 0) {
        if (!q->rows || q->e == 0)
            return sp_error_set(err, SP_ERR_INVALID, "reselect: query without data");
        return sp_check_finite(q->rows, 0, q->m, q->e, "query", err);
    }
    return SP_OK;
}

/* Step 1 (locked): the window and history candidates whose span meets [t0, t1], in key order,
 * and the time and frame span they cover. r->n stays 0 when there are none. */
static sp_status collect(const sp_stream *s, reselect *r, sp_error *err) {
    r->d = s->d;
    r->e = s->e;
    r->width = s->rel_width;
    r->sigma = sp_stream_qcsp_sigma(&s->p, r->q && r->q->m > 0);
    if (r->q && r->q->e != r->width)
        return sp_error_set(
            err, SP_ERR_INVALID,
            "reselect: query rows have width %zu but the stream's %s have width %zu", r->q->e,
            r->e ? "embeddings" : "tokens", r->width);
    size_t total = s->win.hi + s->hist.count, n = 0;
    r->refs = sp_alloc_array(total ? total : 1, sizeof *r->refs);
    if (!r->refs)
        return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu candidates", total);
    for (size_t i = 0; i < s->hist.count; i++) {
        const sp_hist_rec *h = sp_history_at(&s->hist, i);
        if (meets(h->pts, h->last_pts, r->t0, r->t1))
            r->refs[n++] = (ref){h->frame, (uint32_t)h->y * s->gw + h->x, 1, i,
                                 0.0f,     h->flags & SP_CAND_EMITTED};
    }
    for (size_t i = 0; i < s->win.hi; i++) {
        const sp_cand *c = &s->win.c[i];
        if (sp_window_alive(&s->win, i) && meets(c->pts, c->last_pts, r->t0, r->t1))
            r->refs[n++] = (ref){c->frame, c->pos, 0, i, 0.0f, c->flags & SP_CAND_EMITTED};
    }
    if (n == 0)
        return SP_OK;
    qsort(r->refs, n, sizeof *r->refs, ref_key_cmp);
    r->n = n;
    /* The span the candidates cover (for the packet header). */
    r->span0 = INT64_MAX;
    r->span1 = INT64_MIN;
    r->f0 = UINT64_MAX;
    r->f1 = 0;
    for (size_t i = 0; i < n; i++) {
        const ref *c = &r->refs[i];
        int64_t a, b;
        if (c->from_hist) {
            const sp_hist_rec *h = sp_history_at(&s->hist, c->idx);
            a = h->pts;
            b = h->last_pts;
        } else {
            a = s->win.c[c->idx].pts;
            b = s->win.c[c->idx].last_pts;
        }
        r->span0 = a < r->span0 ? a : r->span0;
        r->span1 = b > r->span1 ? b : r->span1;
        r->f0 = c->frame < r->f0 ? c->frame : r->f0;
        r->f1 = c->frame > r->f1 ? c->frame : r->f1;
    }
    return SP_OK;
}

/* Step 2 (locked): at most reselect_max candidates, in key order (docs/streams.md, "Reselect"). */
static sp_status shortlist(const sp_stream *s, reselect *r, sp_error *err) {
    size_t max = s->p.reselect_max;
    if (r->n <= max)
        return SP_OK;
    sp_status st = SP_OK;
    if (r->q) {
        st = score_refs(s, r->refs, r->n, r->q, err);
        if (st)
            return st;
        qsort(r->refs, r->n, sizeof *r->refs, ref_score_cmp);
        r->n = max;
        qsort(r->refs, r->n, sizeof *r->refs, ref_key_cmp);
    } else {
        r->n = shortlist_plain(r->refs, r->n, max, err, &st);
    }
    return st;
}

/* Step 3 (locked): the shortlist's tokens and provenance into the packet, its embeddings and mass
 * qualities into r, so that nothing after the lock reads the stream. */
static sp_status copy_out(const sp_stream *s, reselect *r, sp_packet_buf *out, sp_error *err) {
    size_t n = r->n, d = r->d, e = r->e;
    sp_status st = sp_packet_buf_reserve(out, n, d, err);
    if (st)
        return st;
    if (e) {
        r->emb = sp_alloc_array(n, e * sizeof(float));
        if (!r->emb)
            return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu embeddings", n);
    }
    r->quality = sp_alloc_array(n, sizeof(float));
    if (!r->quality)
        return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu candidates", n);
    for (size_t i = 0; i < n; i++) {
        const ref *c = &r->refs[i];
        values_of(s, c, out->tokens + i * d, r->emb ? r->emb + i * e : NULL);
        sp_token_info *in = &out->info[i];
        uint32_t spatial;
        if (c->from_hist) {
            const sp_hist_rec *h = sp_history_at(&s->hist, c->idx);
            *in = (sp_token_info){h->pts, h->last_pts, h->frame, h->seen, h->y, h->x};
            spatial = h->spatial;
        } else {
            const sp_cand *w = &s->win.c[c->idx];
            spatial = w->spatial;
            *in = (sp_token_info){w->pts,
                                  w->last_pts,
                                  w->frame,
                                  w->seen,
                                  (uint16_t)(w->pos / s->gw),
                                  (uint16_t)(w->pos % s->gw)};
        }
        r->quality[i] = sp_stream_mass_quality(in->seen, spatial, s->p.window, s->p.mass_gamma);
    }
    return SP_OK;
}

/* Steps 1 to 3 under the stream's lock; a stream without frames has no candidates. */
static sp_status take_shortlist(sp_stream *s, reselect *r, sp_packet_buf *out, sp_error *err) {
    pthread_mutex_lock(&s->lock);
    sp_status st = SP_OK;
    if (s->started) {
        st = collect(s, r, err);
        if (!st && r->n)
            st = shortlist(s, r, err);
        if (!st && r->n)
            st = copy_out(s, r, out, err);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Step 4 (unlocked): QCSP over the shortlist with the stream's kernel and quality; the picks are
 * compacted to the front of the packet, in key order. */
static sp_status select_unlocked(sp_workspace *ws, reselect *r, sp_packet_buf *out, sp_error *err) {
    size_t n = r->n, d = r->d;
    size_t k = r->budget < n ? r->budget : n;
    r->rel = r->q ? sp_alloc_array(n, sizeof(float)) : NULL;
    r->picks = sp_alloc_array(n, sizeof(uint32_t));
    if ((r->q && !r->rel) || !r->picks)
        return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for %zu candidates", n);
    sp_status st;
    if (r->q) {
        st = sp_relevance_any_row(ws, r->e ? r->emb : out->tokens, n, r->width, r->q, r->rel, err);
        if (st)
            return st;
        memcpy(r->quality, r->rel, n * sizeof(float)); /* with a query, relevance is the quality */
    }
    if (k < n && 5 * k < n) {
        /* A budget that is a small share of the shortlist (256 of 2048): only the picks' kernel
         * rows, computed in batches of likely picks (dpp.h), instead of the n x n matrix. */
        sp_rows rows;
        st = sp_rows_prepare(ws, out->tokens, n, d, SP_WS_NORMS, SP_WS_XN, "token", &rows, err);
        if (st)
            return st;
        sp_kernel kern = {.n = n,
                          .r = r->quality,
                          .rows = &rows,
                          .batch = RESELECT_ROW_BATCH,
                          .transform = sp_stream_kernel,
                          .transform_param = r->sigma,
                          .rounds = true};
        st = sp_dpp_run(ws, &kern, k, r->picks, err);
        if (st)
            return st;
    } else if (k < n) {
        st = shortlist_kernel(out->tokens, n, d, r->sigma, &r->gram, err);
        if (st)
            return st;
        sp_kernel kern = {.n = n, .r = r->quality, .g = r->gram, .ldg = n, .rounds = true};
        st = sp_dpp_run(ws, &kern, k, r->picks, err);
        if (st)
            return st;
    } else {
        for (size_t i = 0; i < n; i++)
            r->picks[i] = (uint32_t)i;
    }
    for (size_t i = 0; i < k; i++) {
        if (r->picks[i] == i)
            continue;
        memcpy(out->tokens + i * d, out->tokens + (size_t)r->picks[i] * d, d * sizeof(float));
        out->info[i] = out->info[r->picks[i]];
    }
    out->packet.count = k;
    return SP_OK;
}

/* Step 5: the packet header. With no candidates the span is the requested range, with its open
 * ends closed by the other end (or 0). */
static void fill_header(reselect *r, sp_packet_buf *out) {
    if (r->n == 0) {
        if (r->span0 == SP_PTS_NONE)
            r->span0 = r->span1 != SP_PTS_NONE ? r->span1 : 0;
        if (r->span1 == SP_PTS_NONE)
            r->span1 = r->span0;
    }
    out->packet.kind = SP_PACKET_RESELECT;
    out->packet.mode = SP_PACKET_SNAPSHOT;
    out->packet.window = SP_WINDOW_NONE;
    out->packet.pts_first = r->span0;
    out->packet.pts_last = r->span1;
    out->packet.frame_first = r->f0;
    out->packet.frame_last = r->f1;
    out->packet.query_hash = r->q ? sp_query_hash(r->q) : 0;
    out->packet.budget = r->budget;
}

sp_status sp_stream_reselect(sp_stream *s, sp_workspace *ws, const sp_query *q, size_t budget,
                             int64_t t0, int64_t t1, sp_packet_buf *out, sp_error *err) {
    sp_status st = check_request(s, q, budget, t0, t1, out, err);
    if (st)
        return st;
    sp_workspace *own = NULL;
    if (!ws) {
        ws = own = sp_workspace_new();
        if (!ws)
            return sp_error_set(err, SP_ERR_NOMEM, "reselect: out of memory for a workspace");
    }
    reselect r = {.q = q && q->m > 0 ? q : NULL,
                  .budget = budget,
                  .t0 = t0,
                  .t1 = t1,
                  .span0 = t0,
                  .span1 = t1};
    st = take_shortlist(s, &r, out, err);
    if (!st)
        st = r.n ? select_unlocked(ws, &r, out, err) : sp_packet_buf_reserve(out, 0, r.d, err);
    if (st)
        out->packet.count = 0;
    else
        fill_header(&r, out);
    reselect_free(&r);
    sp_workspace_free(own);
    return st;
}
