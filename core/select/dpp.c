/* QCSP's greedy MAP inference for the DPP with kernel L = diag(r) S diag(r) (Chen et al. 2018,
 * incremental Cholesky; docs/algorithm.md, "QCSP"). Only the kernel rows of picked tokens are ever
 * needed: they come from a similarity cache when GSP already built one, else one GEMV per pick,
 * or one SSYRK up front when the budget is a large share of the candidates. The Cholesky state is
 * kept in double so that residual gains are not lost to float32 cancellation. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "choose.h"
#include "dpp.h"
#include "scriptprune/qcsp.h"
#include "similarity.h"
#include "workspace.h"

#define SP_DPP_EPS 1e-4

static double rel(const sp_kernel *k, size_t i) {
    return k->r ? (double)k->r[i] : 1.0;
}

/* S(j, .) over all candidates into row. */
static void kernel_row(const sp_kernel *k, size_t j, float *row) {
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
        return;
    }
    /* A matrix-vector product: the next pick is unknown until this row is applied, so the rows
     * cannot be batched into a GEMM. */
    const sp_rows *x = k->rows;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)k->n, (int)x->d, 1.0f, x->x, (int)x->d,
                x->x + j * x->d, 1, 0.0f, row, 1);
    float ij = x->inv[j];
    for (size_t i = 0; i < k->n; i++)
        row[i] *= x->inv[i] * ij;
}

static double kernel_diag(const sp_kernel *k, size_t i) {
    if (k->sim) {
        uint32_t m = k->map ? k->map[i] : (uint32_t)i;
        return sp_sim_at(k->sim, m, m);
    }
    if (k->g) {
        size_t m = k->map ? k->map[i] : i;
        return k->g[m * k->ldg + m];
    }
    const sp_rows *x = k->rows;
    const float *xi = x->x + i * x->d;
    return (double)cblas_sdot((int)x->d, xi, 1, xi, 1) * x->inv[i] * x->inv[i];
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
        kernel_row(kern, j, row);
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
