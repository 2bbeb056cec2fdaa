/* `script-authors`: the output of the published code (docs/algorithm.md, "script-authors"),
 * reproduced with its defects for comparison: full-graph GSP keeping the k MOST redundant tokens,
 * negated raw-dot relevance, and a greedy loop whose orthogonalisation term vanishes. The
 * intersection with GSP is computed as the code does, and always equals the DPP picks. */
#include <math.h>
#include <string.h>

#include "choose.h"
#include "gsp_run.h"
#include "methods.h"
#include "relevance.h"
#include "similarity.h"
#include "workspace.h"

/* The published greedy loop over the full similarity cache. picks[k] in pick order. */
static sp_status authors_greedy(sp_workspace *ws, const sp_sim *s, const float *r, size_t k,
                                uint32_t *picks, sp_error *err) {
    size_t n = s->rows.n;
    double *d = sp_ws_array(ws, SP_WS_DPP_D, n, sizeof(double));
    uint8_t *picked = sp_ws_get(ws, SP_WS_MASK, n);
    if (!d || !picked)
        return sp_err_nomem(err, "authors' DPP state", n * (sizeof(double) + 1));
    memset(picked, 0, n);
    for (size_t i = 0; i < n; i++)
        d[i] = (double)r[i] * r[i] * s->g[i * n + i];
    for (size_t t = 0; t < k; t++) {
        size_t j = sp_choose(d, picked, n);
        if (d[j] > 0.0) {
            const float *row = s->g + j * n;
            double scale = (double)r[j] / (sqrt(d[j]) + 1e-6);
            for (size_t i = 0; i < n; i++) {
                double p = scale * row[i] * r[i];
                d[i] -= p * p;
            }
        }
        picked[j] = 1;
        d[j] = -INFINITY;
        picks[t] = (uint32_t)j;
    }
    return SP_OK;
}

sp_status sp_method_authors(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                            const sp_params *p, uint32_t *idx, sp_error *err) {
    size_t n = f->n, k = p->budget;
    float *r = sp_ws_array(ws, SP_WS_REL, n, sizeof(float));
    uint32_t *gsp_set = sp_ws_array(ws, SP_WS_CAND, k, sizeof(uint32_t));
    uint32_t *picks = sp_ws_array(ws, SP_WS_BASE_A, k, sizeof(uint32_t));
    double *score = sp_ws_array(ws, SP_WS_GSP_SCORE, n, sizeof(double));
    uint8_t *in_gsp = sp_ws_get(ws, SP_WS_BASE_B, n);
    uint8_t *taken = sp_ws_get(ws, SP_WS_BASE_C, n);
    void *rank = sp_rank_scratch(ws, n);
    if (!r || !gsp_set || !picks || !score || !in_gsp || !taken || !rank)
        return sp_err_nomem(err, "script-authors scratch", n * (f->d + 16) * sizeof(float));
    sp_sim s = {0};
    sp_status st = sp_sim_frame(ws, f, &s, err);
    if (st)
        return st;

    /* GSP on the full graph, self edge counted; the published code keeps the top-k scores. */
    sp_gsp_params gp;
    sp_gsp_params_init(&gp);
    gp.graph = SP_GRAPH_FULL;
    gp.tau = p->tau;
    gp.k_min = p->k_min;
    gp.gamma = p->gamma;
    sp_gsp_scores(s.g, n, n, n, &gp, NULL, score);
    memset(in_gsp, 0, n);
    sp_rank_first(score, in_gsp, n, k, gsp_set, rank);

    size_t width;
    const float *e = sp_frame_relevance_rows(f, &width);
    st = sp_relevance_authors(ws, e, n, width, q, r, err);
    if (st)
        return st;
    st = authors_greedy(ws, &s, r, k, picks, err);
    if (st)
        return st;

    /* Intersection, then fill from the picks outside it by relevance. */
    size_t got = 0;
    memset(taken, 0, n);
    for (size_t t = 0; t < k; t++)
        if (in_gsp[picks[t]]) {
            idx[got++] = picks[t];
            taken[picks[t]] = 1;
        }
    if (got < k) {
        for (size_t i = 0; i < n; i++)
            score[i] = r[i];
        /* Candidates for the fill: picks not yet taken; everything else is excluded. */
        memset(in_gsp, 1, n);
        for (size_t t = 0; t < k; t++)
            if (!taken[picks[t]])
                in_gsp[picks[t]] = 0;
        sp_rank_first(score, in_gsp, n, k - got, idx + got, rank);
    }
    sp_sort_u32(idx, k);
    return SP_OK;
}
