/* Relevance of tokens to a query (docs/algorithm.md, "Relevance"): the half of the query rows most
 * about this frame vote by cosine, min-max normalised over the tokens. */
#include <cblas.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "choose.h"
#include "relevance.h"
#include "similarity.h"
#include "workspace.h"

static void fill_ones(float *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        r[i] = 1.0f;
}

/* Token x query cosines (n x m): one SGEMM on the raw rows, scaled by the row norms. */
static sp_status query_cosines(sp_workspace *ws, const sp_rows *e, const sp_query *q, float **out,
                               sp_error *err) {
    size_t n = e->n, width = e->d;
    if (q->e != width)
        return sp_error_set(err, SP_ERR_INVALID,
                            "query rows have width %zu but the embeddings have width %zu", q->e,
                            width);
    if (n > INT32_MAX || q->m > INT32_MAX || width > INT32_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW, "relevance product %zu x %zu x %zu too large", n,
                            q->m, width);
    float *qn = sp_ws_array(ws, SP_WS_REL_Q, q->m, width * sizeof(float));
    float *c = qn ? sp_ws_array(ws, SP_WS_REL_C, n, q->m * sizeof(float)) : NULL;
    if (!c)
        return sp_err_nomem(err, "query cosines", n * q->m * sizeof(float));
    sp_normalize_rows(q->rows, q->m, width, qn);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)q->m, (int)width, 1.0f, e->x,
                (int)width, qn, (int)width, 0.0f, c, (int)q->m);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q->m; j++)
            c[i * q->m + j] *= e->inv[i];
    *out = c;
    return SP_OK;
}

sp_status sp_relevance_rows(sp_workspace *ws, const sp_rows *e, const sp_query *q, float *r,
                            sp_error *err) {
    size_t n = e->n;
    if (!q || q->m == 0) {
        fill_ones(r, n);
        return SP_OK;
    }
    float *c = NULL;
    sp_status st = query_cosines(ws, e, q, &c, err);
    if (st)
        return st;
    size_t m = q->m;
    double *row_score = sp_ws_array(ws, SP_WS_DPP_D, m, sizeof(double));
    uint8_t *mask = sp_ws_get(ws, SP_WS_MASK, m);
    uint32_t *keep = sp_ws_array(ws, SP_WS_PICKS, m, sizeof(uint32_t));
    double *raw = sp_ws_array(ws, SP_WS_DPP_ROWD, n, sizeof(double));
    void *rank = sp_rank_scratch(ws, m);
    if (!row_score || !mask || !keep || !raw || !rank)
        return sp_err_nomem(err, "relevance scratch", (m + n) * sizeof(double));
    for (size_t j = 0; j < m; j++)
        row_score[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            row_score[j] += c[i * m + j];
    for (size_t j = 0; j < m; j++)
        row_score[j] /= (double)n;
    size_t nkeep = m / 2 > 0 ? m / 2 : 1;
    memset(mask, 0, m);
    sp_rank_first(row_score, mask, m, nkeep, keep, rank);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (size_t t = 0; t < nkeep; t++)
            acc += c[i * m + keep[t]];
        raw[i] = acc / (double)nkeep;
        lo = fmin(lo, raw[i]);
        hi = fmax(hi, raw[i]);
    }
    if (hi - lo <= 1e-6) {
        /* The query does not tell these tokens apart: fall back to pure diversity (deviation 3). */
        fill_ones(r, n);
        return SP_OK;
    }
    double scale = 1.0 / (hi - lo + 1e-6);
    for (size_t i = 0; i < n; i++)
        r[i] = (float)((raw[i] - lo) * scale);
    return SP_OK;
}

/* What sp_relevance and sp_relevance_any_row start with: the arguments checked (messages named
 * after who), and the embedding rows prepared. Without a query every r is 1 and *none is set. */
static sp_status relevance_begin(sp_workspace *ws, const float *e, size_t n, size_t width,
                                 const sp_query *q, float *r, const char *who, sp_rows *rows,
                                 bool *none, sp_error *err) {
    *none = false;
    if (!ws || !e || !r || n == 0 || width == 0)
        return sp_error_set(err, SP_ERR_INVALID, "%s: empty input or NULL argument", who);
    if (!q || q->m == 0) {
        fill_ones(r, n);
        *none = true;
        return SP_OK;
    }
    sp_status st = sp_query_validate(q, width, err);
    if (st)
        return st;
    return sp_rows_prepare(ws, e, n, width, SP_WS_REL_INV, SP_WS_REL_TMP, "embedding", rows, err);
}

sp_status sp_relevance(sp_workspace *ws, const float *e, size_t n, size_t width, const sp_query *q,
                       float *r, sp_error *err) {
    sp_rows rows;
    bool none;
    sp_status st = relevance_begin(ws, e, n, width, q, r, "sp_relevance", &rows, &none, err);
    if (st || none)
        return st;
    return sp_relevance_rows(ws, &rows, q, r, err);
}

sp_status sp_relevance_any_row(sp_workspace *ws, const float *e, size_t n, size_t width,
                               const sp_query *q, float *r, sp_error *err) {
    sp_rows rows;
    bool none;
    sp_status st = relevance_begin(ws, e, n, width, q, r, "relevance", &rows, &none, err);
    if (st || none)
        return st;
    float *c = NULL;
    st = query_cosines(ws, &rows, q, &c, err);
    if (st)
        return st;
    size_t m = q->m;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float best = c[i * m];
        for (size_t j = 1; j < m; j++)
            best = fmaxf(best, c[i * m + j]);
        r[i] = best;
        lo = fminf(lo, best);
        hi = fmaxf(hi, best);
    }
    if (hi - lo <= 1e-6f) {
        fill_ones(r, n); /* the query does not tell these tokens apart: diversity alone */
        return SP_OK;
    }
    float scale = 1.0f / (hi - lo + 1e-6f);
    for (size_t i = 0; i < n; i++) {
        float v = (r[i] - lo) * scale;
        r[i] = v * v;
    }
    return SP_OK;
}

sp_status sp_relevance_authors(sp_workspace *ws, const float *e, size_t n, size_t width,
                               const sp_query *q, float *r, sp_error *err) {
    if (!q || q->m == 0) {
        fill_ones(r, n);
        return SP_OK;
    }
    if (n > INT32_MAX || q->m > INT32_MAX || width > INT32_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW, "relevance product too large");
    size_t m = q->m;
    float *c = sp_ws_array(ws, SP_WS_REL_C, n, m * sizeof(float));
    double *raw = sp_ws_array(ws, SP_WS_DPP_ROWD, n, sizeof(double));
    double *row_score = sp_ws_array(ws, SP_WS_DPP_D, m, sizeof(double));
    uint8_t *mask = sp_ws_get(ws, SP_WS_MASK, m);
    uint32_t *keep = sp_ws_array(ws, SP_WS_PICKS, m, sizeof(uint32_t));
    void *rank = sp_rank_scratch(ws, m);
    if (!c || !raw || !row_score || !mask || !keep || !rank)
        return sp_err_nomem(err, "relevance scratch", n * m * sizeof(float));
    /* Raw dot products, no normalisation: the published code's behaviour. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)width, 1.0f, e,
                (int)width, q->rows, (int)width, 0.0f, c, (int)m);
    /* The published code keeps the max(1, floor(M/2)) query rows with the largest mean raw dot
     * product over the tokens (a long question's most relevant 77-token segments). */
    for (size_t j = 0; j < m; j++)
        row_score[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            row_score[j] += c[i * m + j];
    for (size_t j = 0; j < m; j++)
        row_score[j] /= (double)n;
    size_t nkeep = m / 2 > 0 ? m / 2 : 1;
    memset(mask, 0, m);
    sp_rank_first(row_score, mask, m, nkeep, keep, rank);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (size_t t = 0; t < nkeep; t++)
            acc += c[i * m + keep[t]];
        raw[i] = -acc / (double)nkeep; /* negated, as inherited from CDPruner */
        lo = fmin(lo, raw[i]);
        hi = fmax(hi, raw[i]);
    }
    double scale = 1.0 / (hi - lo + 1e-6);
    for (size_t i = 0; i < n; i++)
        r[i] = (float)((raw[i] - lo) * scale);
    return SP_OK;
}
