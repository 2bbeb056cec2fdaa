/* The Script cascade and its two modules run alone (docs/algorithm.md, "The methods"): GSP keeps
 * max(k, ceil(rho N)) candidates, QCSP picks k of them. GSP's similarity cache is handed to QCSP,
 * so the kernel rows of the DPP cost nothing more. */
#include <math.h>
#include <string.h>

#include "dpp.h"
#include "gsp_run.h"
#include "methods.h"
#include "relevance.h"
#include "similarity.h"
#include "workspace.h"

static void gsp_params_from(const sp_params *p, sp_gsp_params *g) {
    sp_gsp_params_init(g);
    g->graph = p->graph;
    g->tau = p->tau;
    g->k_min = p->k_min;
    g->gamma = p->gamma;
}

/* Relevance over the whole frame: of the embeddings when the frame has them, else of the tokens,
 * whose norms are already known. */
static sp_status frame_relevance(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                                 const sp_rows *tokens, float *r, sp_error *err) {
    if (f->embed && q && q->m) {
        sp_rows e;
        sp_status st = sp_rows_prepare(ws, f->embed, f->n, f->e, SP_WS_REL_INV, SP_WS_REL_TMP,
                                       "embedding", &e, err);
        return st ? st : sp_relevance_rows(ws, &e, q, r, err);
    }
    return sp_relevance_rows(ws, tokens, q, r, err);
}

sp_status sp_method_script(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                           const sp_params *p, uint32_t *idx, sp_error *err) {
    size_t n = f->n, k = p->budget;
    size_t c = (size_t)ceil((double)p->rho * (double)n);
    if (c < k)
        c = k;
    bool cascade = p->method == SP_METHOD_SCRIPT && c < n;
    sp_gsp_params gp;
    gsp_params_from(p, &gp);
    sp_sim s = {0};
    /* Frames that go through GSP first leave the odd rows' norms to its round 1. */
    sp_status st =
        cascade || p->method == SP_METHOD_GSP
            ? sp_rows_prepare_for_gsp(ws, f->tokens, n, f->d, &s.rows, err)
            : sp_rows_prepare(ws, f->tokens, n, f->d, SP_WS_NORMS, SP_WS_XN, "token", &s.rows, err);
    if (st)
        return st;
    if (p->method == SP_METHOD_GSP) {
        s.g = sp_ws_array(ws, SP_WS_GRAM, n, n * sizeof(float));
        if (!s.g)
            return sp_err_nomem(err, "similarity cache", n * n * sizeof(float));
        return sp_gsp_run(ws, &s, k, &gp, false, idx, err);
    }

    float *r = sp_ws_array(ws, SP_WS_REL, n, sizeof(float));
    if (!r)
        return sp_err_nomem(err, "relevance", n * sizeof(float));
    if (!cascade) {
        st = frame_relevance(ws, f, q, &s.rows, r, err);
        return st ? st : sp_dpp_on_rows(ws, &s.rows, r, k, idx, err);
    }

    s.g = sp_ws_array(ws, SP_WS_GRAM, n, n * sizeof(float));
    uint32_t *cand = sp_ws_array(ws, SP_WS_CAND, c, sizeof(uint32_t));
    float *rc = sp_ws_array(ws, SP_WS_DPP_R, c, sizeof(float));
    if (!s.g || !cand || !rc)
        return sp_err_nomem(err, "cascade state", n * n * sizeof(float));
    st = sp_gsp_run(ws, &s, c, &gp, true, cand, err);
    /* Relevance is over the whole frame, and needs every token's norm: after GSP. */
    if (!st)
        st = frame_relevance(ws, f, q, &s.rows, r, err);
    if (st)
        return st;
    for (size_t i = 0; i < c; i++)
        rc[i] = r[cand[i]];
    sp_kernel kern = {.n = c, .r = rc, .sim = &s, .map = cand};
    st = sp_dpp_run(ws, &kern, k, idx, err);
    if (st)
        return st;
    /* Picks are candidate numbers, ascending; candidates are ascending frame indices. */
    for (size_t i = 0; i < k; i++)
        idx[i] = cand[idx[i]];
    return SP_OK;
}
