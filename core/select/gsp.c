/* GSP: graph-structured pruning (docs/algorithm.md, "GSP"). A token whose many look-alikes sit in
 * the other half of the bipartite graph is redundant; rounds remove at most half of A each, and B
 * is never touched in a round, so every cluster keeps a representative. */
#include <math.h>
#include <string.h>

#include "internal.h"

void sp_gsp_params_init(sp_gsp_params *p) {
    p->graph = SP_GRAPH_BIPARTITE;
    p->tau = 0.2f;
    p->k_min = 4;
    p->gamma = 1.0f;
}

void sp_gsp_scores(const sp_sim *s, const uint32_t *A, size_t na, const uint32_t *P, size_t np,
                   const sp_gsp_params *p, double *score) {
    for (size_t i = 0; i < na; i++) {
        size_t deg = 0;
        double edge_sum = 0.0, all_sum = 0.0;
        for (size_t j = 0; j < np; j++) {
            float v = sp_sim_at(s, A[i], P[j]);
            all_sum += v;
            if (v >= p->tau) {
                deg++;
                edge_sum += v;
            }
        }
        double mu = deg ? edge_sum / (double)deg : 0.0;
        double sc = (double)deg * exp((double)p->gamma * (mu - (double)p->tau));
        if (deg < p->k_min)
            sc = 0.5 * sc + 0.5 * (all_sum / (double)np);
        score[i] = sc;
    }
}

/* Removes from alive (ascending, length *len) the entries listed in gone (any order). */
static void remove_listed(uint32_t *alive, size_t *len, uint8_t *mark, const uint32_t *gone,
                          size_t ngone, size_t n) {
    memset(mark, 0, n);
    for (size_t i = 0; i < ngone; i++)
        mark[gone[i]] = 1;
    size_t w = 0;
    for (size_t i = 0; i < *len; i++)
        if (!mark[alive[i]])
            alive[w++] = alive[i];
    *len = w;
}

static sp_status run_full(sp_workspace *ws, sp_sim *s, size_t target, const sp_gsp_params *p,
                          uint32_t *kept, sp_error *err) {
    size_t n = s->rows.n;
    sp_status st = sp_sim_full(ws, s, err);
    if (st)
        return st;
    uint32_t *all = sp_ws_array(ws, SP_WS_ALIVE, n, sizeof(uint32_t));
    double *score = sp_ws_array(ws, SP_WS_GSP_SCORE, n, sizeof(double));
    uint8_t *mask = sp_ws_get(ws, SP_WS_MASK, n);
    uint32_t *gone = sp_ws_array(ws, SP_WS_GSP_A, n, sizeof(uint32_t));
    if (!all || !score || !mask || !gone)
        return sp_err_nomem(err, "GSP scores", n * (sizeof(double) + 9));
    for (size_t i = 0; i < n; i++)
        all[i] = (uint32_t)i;
    /* The authors' graph: every token against all N, itself included. */
    sp_gsp_scores(s, all, n, all, n, p, score);
    memset(mask, 0, n);
    sp_rank_first(score, mask, n, n - target, gone);
    size_t len = n;
    remove_listed(all, &len, mask, gone, n - target, n);
    memcpy(kept, all, target * sizeof(uint32_t));
    return SP_OK;
}

static sp_status run_bipartite(sp_workspace *ws, sp_sim *s, size_t target, const sp_gsp_params *p,
                               bool complete, uint32_t *kept, sp_error *err) {
    size_t n = s->rows.n;
    size_t half = n / 2 + 1;
    uint32_t *alive = sp_ws_array(ws, SP_WS_ALIVE, n, sizeof(uint32_t));
    uint32_t *A = sp_ws_array(ws, SP_WS_GSP_A, half, sizeof(uint32_t));
    uint32_t *B = sp_ws_array(ws, SP_WS_GSP_B, half, sizeof(uint32_t));
    double *score = sp_ws_array(ws, SP_WS_GSP_SCORE, half, sizeof(double));
    uint8_t *mask = sp_ws_get(ws, SP_WS_MASK, n);
    uint32_t *gone = sp_ws_array(ws, SP_WS_PICKS, half, sizeof(uint32_t));
    if (!alive || !A || !B || !score || !mask || !gone)
        return sp_err_nomem(err, "GSP round lists", n * 24);
    sp_status st = sp_sim_use_bipartite_layout(ws, s, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++)
        alive[i] = (uint32_t)i;
    size_t len = n;
    bool have_all_pairs = false;
    for (int round = 0; len > target; round++) {
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < len; i++) {
            if (i % 2 == 0)
                A[na++] = alive[i];
            else
                B[nb++] = alive[i];
        }
        if (round == 0) {
            st = sp_sim_cross(ws, s, A, na, B, nb, err);
            if (st)
                return st;
        }
        sp_gsp_scores(s, A, na, B, nb, p, score);
        size_t r = na / 2 > 0 ? na / 2 : 1;
        if (r > len - target)
            r = len - target;
        memset(mask, 0, na);
        sp_rank_first(score, mask, na, r, gone);
        for (size_t i = 0; i < r; i++)
            gone[i] = A[gone[i]];
        remove_listed(alive, &len, mask, gone, r, n);
        if (round == 0 && (len > target || complete)) {
            /* Round 1 computed A x B. The survivors also pair A' with A' and B with B: compute
             * those two triangles once, and every later round and QCSP kernel row is a lookup. */
            /* A' = surviving members of A, in order; reuse A's storage. */
            size_t nap = 0;
            memset(mask, 0, n);
            for (size_t i = 0; i < len; i++)
                mask[alive[i]] = 1;
            for (size_t i = 0; i < na; i++)
                if (mask[A[i]])
                    A[nap++] = A[i];
            st = sp_sim_within(ws, s, A, nap, err);
            if (!st)
                st = sp_sim_within(ws, s, B, nb, err);
            if (st)
                return st;
            have_all_pairs = true;
        }
    }
    if (complete && !have_all_pairs) {
        /* No round ran (target >= n): the caller still wants every pair. */
        st = sp_sim_within(ws, s, alive, len, err);
        if (st)
            return st;
    }
    memcpy(kept, alive, len * sizeof(uint32_t));
    return SP_OK;
}

sp_status sp_gsp_run(sp_workspace *ws, sp_sim *s, size_t target, const sp_gsp_params *p,
                     bool complete, uint32_t *kept, sp_error *err) {
    if (target < 1)
        target = 1;
    if (target > s->rows.n)
        target = s->rows.n;
    if (p->graph == SP_GRAPH_FULL)
        return run_full(ws, s, target, p, kept, err);
    return run_bipartite(ws, s, target, p, complete, kept, err);
}

sp_status sp_gsp_prune(sp_workspace *ws, const float *x, size_t n, size_t d, size_t target,
                       const sp_gsp_params *p, uint32_t *kept, sp_error *err) {
    if (!ws || !x || !p || !kept || n == 0 || d == 0)
        return sp_error_set(err, SP_ERR_INVALID, "sp_gsp_prune: %s",
                            n == 0   ? "no tokens (n = 0)"
                            : d == 0 ? "tokens of dimension 0"
                                     : "NULL argument");
    if (!(p->tau >= -1.0f && p->tau <= 1.0f))
        return sp_error_set(err, SP_ERR_INVALID, "GSP tau %g is outside [-1, 1]", (double)p->tau);
    sp_sim s = {0};
    sp_status st = sp_rows_prepare(ws, x, n, d, SP_WS_NORMS, SP_WS_XN, "token", &s.rows, err);
    if (st)
        return st;
    s.g = sp_ws_array(ws, SP_WS_GRAM, n, n * sizeof(float));
    if (!s.g)
        return sp_err_nomem(err, "GSP similarity cache", n * n * sizeof(float));
    return sp_gsp_run(ws, &s, target, p, false, kept, err);
}
