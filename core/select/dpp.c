/* QCSP's greedy MAP inference for the DPP with kernel L = diag(r) S diag(r) (Chen et al. 2018,
 * incremental Cholesky; docs/algorithm.md, "QCSP"). Only the kernel rows of picked tokens are ever
 * needed: they come from a similarity cache when GSP already built one, else one GEMV per pick,
 * or batches of likely picks through one SGEMM each, or one SSYRK up front when the budget is a
 * large share of the candidates. The Cholesky state is
 * kept in double so that residual gains are not lost to float32 cancellation. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "choose.h"
#include "dpp.h"
#include "scriptprune/qcsp.h"
#include "similarity.h"
#include "workspace.h"

#define SP_DPP_EPS 1e-4

static double rel(const sp_kernel *k, size_t i) {
    return k->r ? (double)k->r[i] : 1.0;
}

/* Rows of a batched lazy kernel (sp_kernel.batch), computed and cached by sp_dpp_run. */
typedef struct row_cache {
    float *rows;     /* cap x n kernel rows */
    int32_t *slot;   /* n: the cache row of each candidate, or -1 */
    float *gather;   /* batch x d: the batch's candidate rows, contiguous */
    uint32_t *order; /* batch: candidates of the batch */
    uint8_t *mask;   /* n */
    size_t cap, used, batch;
} row_cache;

static void row_cache_free(row_cache *c) {
    sp_free(c->rows);
    sp_free(c->slot);
    sp_free(c->gather);
    sp_free(c->order);
    sp_free(c->mask);
}

static sp_status row_cache_init(row_cache *c, const sp_kernel *k, size_t picks, sp_error *err) {
    memset(c, 0, sizeof *c);
    size_t n = k->n, d = k->rows->d;
    c->batch = k->batch < n ? k->batch : n;
    c->cap = 2 * picks + c->batch < n ? 2 * picks + c->batch : n;
    c->rows = sp_alloc_array(c->cap, n * sizeof(float));
    c->slot = sp_alloc_array(n, sizeof(int32_t));
    c->gather = sp_alloc_array(c->batch, d * sizeof(float));
    c->order = sp_alloc_array(c->batch, sizeof(uint32_t));
    c->mask = sp_malloc(n);
    if (!c->rows || !c->slot || !c->gather || !c->order || !c->mask) {
        row_cache_free(c);
        return sp_err_nomem(err, "DPP kernel rows", c->cap * n * sizeof(float));
    }
    for (size_t i = 0; i < n; i++)
        c->slot[i] = -1;
    return SP_OK;
}

/* Scales raw products row[i] = x_j . x_i to S(j, i). */
static void finish_row(const sp_kernel *k, size_t j, float *row) {
    const sp_rows *x = k->rows;
    float ij = x->inv[j];
    for (size_t i = 0; i < k->n; i++)
        row[i] *= x->inv[i] * ij;
    if (k->transform)
        for (size_t i = 0; i < k->n; i++)
            row[i] = k->transform(row[i], k->transform_param);
}

/* Computes into the cache the rows of j and of the unpicked, uncached candidates of largest
 * residual d, as many as the batch and the cache allow (none when the cache is full). */
static void fill_batch(const sp_kernel *k, row_cache *c, size_t j, const double *d,
                       const uint8_t *picked, void *rank) {
    size_t n = k->n, dim = k->rows->d, free_rows = c->cap - c->used, avail = 0;
    if (free_rows == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        c->mask[i] = picked[i] || c->slot[i] >= 0 || i == j;
        avail += !c->mask[i];
    }
    size_t m = c->batch < free_rows ? c->batch : free_rows;
    m = m - 1 < avail ? m : avail + 1;
    c->order[0] = (uint32_t)j;
    if (m > 1)
        sp_rank_first(d, c->mask, n, m - 1, c->order + 1, rank);
    const float *x = k->rows->x;
    for (size_t b = 0; b < m; b++)
        memcpy(c->gather + b * dim, x + (size_t)c->order[b] * dim, dim * sizeof(float));
    float *out = c->rows + c->used * n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)dim, 1.0f, c->gather,
                (int)dim, x, (int)dim, 0.0f, out, (int)n);
    for (size_t b = 0; b < m; b++) {
        finish_row(k, c->order[b], out + b * n);
        c->slot[c->order[b]] = (int32_t)(c->used + b);
    }
    c->used += m;
}

/* S(j, .) over all candidates into row. cache: the batched kernel's rows (else NULL); d, picked
 * and rank: the greedy state it picks a batch from. */
static void kernel_row(const sp_kernel *k, row_cache *cache, size_t j, const double *d,
                       const uint8_t *picked, void *rank, float *row) {
    if (k->sim) {
        uint32_t mj = k->map ? k->map[j] : (uint32_t)j;
        for (size_t i = 0; i < k->n; i++)
            row[i] = sp_sim_at(k->sim, mj, k->map ? k->map[i] : (uint32_t)i);
        return;
    }
    if (k->g) {
        const float *g = k->g + (size_t)(k->map ? k->map[j] : j) * k->ldg;
        if (k->map)
            for (size_t i = 0; i < k->n; i++)
                row[i] = g[k->map[i]];
        else
            memcpy(row, g, k->n * sizeof(float));
        if (k->g_transform)
            for (size_t i = 0; i < k->n; i++)
                row[i] = k->g_transform(row[i], k->g_param);
        return;
    }
    if (cache) {
        if (cache->slot[j] < 0)
            fill_batch(k, cache, j, d, picked, rank);
        if (cache->slot[j] >= 0) {
            memcpy(row, cache->rows + (size_t)cache->slot[j] * k->n, k->n * sizeof(float));
            return;
        }
    }
    /* A matrix-vector product: the next pick is unknown until this row is applied, so the rows
     * cannot be batched into a GEMM (unless batches guess the next picks, above). */
    const sp_rows *x = k->rows;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)k->n, (int)x->d, 1.0f, x->x, (int)x->d,
                x->x + j * x->d, 1, 0.0f, row, 1);
    finish_row(k, j, row);
}

static double kernel_diag(const sp_kernel *k, size_t i) {
    if (k->sim) {
        uint32_t m = k->map ? k->map[i] : (uint32_t)i;
        return sp_sim_at(k->sim, m, m);
    }
    if (k->g) {
        size_t m = k->map ? k->map[i] : i;
        float v = k->g[m * k->ldg + m];
        return k->g_transform ? (double)k->g_transform(v, k->g_param) : (double)v;
    }
    const sp_rows *x = k->rows;
    const float *xi = x->x + i * x->d;
    float c = cblas_sdot((int)x->d, xi, 1, xi, 1) * x->inv[i] * x->inv[i];
    return k->transform ? (double)k->transform(c, k->transform_param) : (double)c;
}

sp_status sp_dpp_run(sp_workspace *ws, const sp_kernel *kern, size_t k, uint32_t *picks,
                     sp_error *err) {
    size_t n = kern->n;
    if (k >= n) {
        /* Every candidate is picked whatever the order: no kernel rows needed. */
        for (size_t i = 0; i < n; i++)
            picks[i] = (uint32_t)i;
        return SP_OK;
    }
    double *c = sp_ws_array(ws, SP_WS_DPP_C, k ? k : 1, n * sizeof(double));
    double *d = sp_ws_array(ws, SP_WS_DPP_D, n, sizeof(double));
    double *proj = sp_ws_array(ws, SP_WS_DPP_ROWD, n, sizeof(double));
    float *row = sp_ws_array(ws, SP_WS_DPP_ROW, n, sizeof(float));
    uint8_t *picked = sp_ws_get(ws, SP_WS_MASK, n);
    void *rank = sp_rank_scratch(ws, n);
    if (!c || !d || !proj || !row || !picked || !rank)
        return sp_err_nomem(err, "DPP state", (k + 2) * n * sizeof(double));
    row_cache cache_store, *cache = NULL;
    if (kern->rows && kern->batch > 1 && !kern->sim && !kern->g) {
        sp_status st = row_cache_init(&cache_store, kern, k, err);
        if (st)
            return st;
        cache = &cache_store;
    }
    memset(picked, 0, n);
    for (size_t i = 0; i < n; i++) {
        double ri = rel(kern, i);
        d[i] = ri * ri * kernel_diag(kern, i);
    }
    size_t got = 0, base = 0; /* base: first pick of the current round */
    while (got < k) {
        size_t j = sp_choose(d, picked, n);
        if ((j == SIZE_MAX || d[j] <= SP_DPP_EPS) && kern->rounds && got > base) {
            /* Every unpicked candidate lies in the span of this round's picks: start a new
             * round among them, as if nothing had been picked yet. */
            base = got;
            for (size_t i = 0; i < n; i++)
                if (!picked[i]) {
                    double ri = rel(kern, i);
                    d[i] = ri * ri * kernel_diag(kern, i);
                }
            j = sp_choose(d, picked, n);
        }
        if (j == SIZE_MAX || d[j] <= SP_DPP_EPS)
            break;
        kernel_row(kern, cache, j, d, picked, rank, row);
        /* proj_i = sum over earlier steps t of this round of c_t[j] c_t[i]. */
        if (got > base)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)(got - base), (int)n, 1.0, c + base * n,
                        (int)n, c + base * n + j, (int)n, 0.0, proj, 1);
        else
            memset(proj, 0, n * sizeof(double));
        double rj = rel(kern, j);
        double inv = 1.0 / sqrt(d[j]);
        double *ct = c + got * n;
        for (size_t i = 0; i < n; i++) {
            double e = (rj * (double)row[i] * rel(kern, i) - proj[i]) * inv;
            ct[i] = e;
            d[i] -= e * e;
        }
        picked[j] = 1;
        d[j] = -INFINITY;
        picks[got++] = (uint32_t)j;
    }
    if (cache)
        row_cache_free(cache);
    if (got < k) {
        /* Kernel exhausted: fill with the most relevant remaining candidates. */
        for (size_t i = 0; i < n; i++)
            d[i] = rel(kern, i);
        sp_rank_first(d, picked, n, k - got, picks + got, rank);
    }
    sp_sort_u32(picks, k);
    return SP_OK;
}

sp_status sp_dpp_on_rows(sp_workspace *ws, const sp_rows *x, const float *r, size_t k,
                         uint32_t *picks, sp_error *err) {
    size_t n = x->n;
    sp_kernel kern = {.n = n, .r = r, .rows = x};
    if (k >= n) {
        for (size_t i = 0; i < n; i++)
            picks[i] = (uint32_t)i;
        return SP_OK;
    }
    if (5 * k >= n) {
        /* With many picks, per-pick GEMVs (memory bound, ~5x slower per flop than SSYRK on this
         * class of machine, see bench/) cost more than the whole Gram matrix at once. */
        sp_sim s = {.rows = *x};
        sp_status st = sp_sim_full(ws, &s, err);
        if (st)
            return st;
        kern.g = s.g;
        kern.ldg = n;
    }
    return sp_dpp_run(ws, &kern, k, picks, err);
}

sp_status sp_dpp_select(sp_workspace *ws, const float *x, size_t n, size_t d, const float *r,
                        size_t k, uint32_t *picks, sp_error *err) {
    if (!ws || !x || !picks || n == 0 || d == 0)
        return sp_error_set(err, SP_ERR_INVALID, "sp_dpp_select: empty input or NULL argument");
    sp_rows rows;
    sp_status st = sp_rows_prepare(ws, x, n, d, SP_WS_NORMS, SP_WS_XN, "token", &rows, err);
    if (st)
        return st;
    return sp_dpp_on_rows(ws, &rows, r, k, picks, err);
}
