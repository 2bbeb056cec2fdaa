/* ToMe-style bipartite soft matching (Bolya et al. 2023) as a baseline: each round the even
 * positions find their most similar odd position and the closest pairs merge, size-weighted, until
 * k tokens remain (docs/algorithm.md, "tome"). */
#include <cblas.h>
#include <string.h>

#include "choose.h"
#include "methods.h"
#include "similarity.h"
#include "workspace.h"

typedef struct tome_state {
    float *v;      /* count x d current vectors */
    double *size;  /* tokens absorbed */
    uint32_t *rep; /* representative original index, ascending */
    size_t count;
} tome_state;

/* One round: merges r even positions into their best odd partner. */
static sp_status tome_round(sp_workspace *ws, tome_state *t, size_t d, size_t r, sp_error *err) {
    size_t count = t->count, na = (count + 1) / 2, nb = count / 2;
    float *vn = sp_ws_array(ws, SP_WS_XN, count, d * sizeof(float));
    float *block = sp_ws_array(ws, SP_WS_BLOCK, na, nb * sizeof(float));
    double *rowd = sp_ws_array(ws, SP_WS_DPP_ROWD, nb, sizeof(double));
    double *score = sp_ws_array(ws, SP_WS_GSP_SCORE, na, sizeof(double));
    uint32_t *best = sp_ws_array(ws, SP_WS_GSP_A, na, sizeof(uint32_t));
    uint32_t *merged = sp_ws_array(ws, SP_WS_PICKS, r, sizeof(uint32_t));
    uint8_t *mask = sp_ws_get(ws, SP_WS_MASK, na);
    double *acc = sp_ws_array(ws, SP_WS_DPP_D, d, sizeof(double));
    if (!vn || !block || !rowd || !score || !best || !merged || !mask || !acc)
        return sp_err_nomem(err, "tome round scratch", count * d * sizeof(float));
    sp_normalize_rows(t->v, count, d, vn);
    /* Even positions against odd positions in place: leading dimension 2d. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)d, 1.0f, vn,
                (int)(2 * d), vn + d, (int)(2 * d), 0.0f, block, (int)nb);
    for (size_t a = 0; a < na; a++) {
        for (size_t b = 0; b < nb; b++)
            rowd[b] = block[a * nb + b];
        size_t bj = sp_choose(rowd, NULL, nb);
        best[a] = (uint32_t)bj;
        score[a] = rowd[bj];
    }
    void *rank = sp_rank_scratch(ws, na);
    if (!rank)
        return sp_err_nomem(err, "tome ranking", na * 16);
    memset(mask, 0, na);
    sp_rank_first(score, mask, na, r, merged, rank);
    /* mask[a] == 1 now marks the merged even positions. Merge into each odd position at once. */
    for (size_t b = 0; b < nb; b++) {
        size_t pb = 2 * b + 1;
        double total = t->size[pb];
        bool any = false;
        for (size_t i = 0; i < r; i++) {
            if (best[merged[i]] != b)
                continue;
            if (!any) {
                const float *vb = t->v + pb * d;
                for (size_t x = 0; x < d; x++)
                    acc[x] = total * vb[x];
                any = true;
            }
            size_t pa = 2 * (size_t)merged[i];
            const float *va = t->v + pa * d;
            for (size_t x = 0; x < d; x++)
                acc[x] += t->size[pa] * va[x];
            total += t->size[pa];
        }
        if (any) {
            float *vb = t->v + pb * d;
            for (size_t x = 0; x < d; x++)
                vb[x] = (float)(acc[x] / total);
            t->size[pb] = total;
        }
    }
    /* Compact: keep positions whose even index was not merged, preserving order. */
    size_t w = 0;
    for (size_t pos = 0; pos < count; pos++) {
        if (pos % 2 == 0 && mask[pos / 2])
            continue;
        if (w != pos) {
            memmove(t->v + w * d, t->v + pos * d, d * sizeof(float));
            t->size[w] = t->size[pos];
            t->rep[w] = t->rep[pos];
        }
        w++;
    }
    t->count = w;
    return SP_OK;
}

sp_status sp_method_tome(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                         float *out, sp_error *err) {
    size_t n = f->n, d = f->d, k = p->budget;
    if (n > INT32_MAX || 2 * d > INT32_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW, "tome over %zu x %zu tokens exceeds BLAS limits",
                            n, d);
    tome_state t = {
        .v = sp_ws_array(ws, SP_WS_BASE_A, n, d * sizeof(float)),
        .size = sp_ws_array(ws, SP_WS_BASE_B, n, sizeof(double)),
        .rep = sp_ws_array(ws, SP_WS_BASE_C, n, sizeof(uint32_t)),
        .count = n,
    };
    if (!t.v || !t.size || !t.rep)
        return sp_err_nomem(err, "tome state", n * d * sizeof(float));
    memcpy(t.v, f->tokens, n * d * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        t.size[i] = 1.0;
        t.rep[i] = (uint32_t)i;
    }
    while (t.count > k) {
        size_t na = (t.count + 1) / 2;
        size_t r = t.count - k < na ? t.count - k : na;
        sp_status st = tome_round(ws, &t, d, r, err);
        if (st)
            return st;
    }
    memcpy(idx, t.rep, k * sizeof(uint32_t));
    memcpy(out, t.v, k * d * sizeof(float));
    return SP_OK;
}
