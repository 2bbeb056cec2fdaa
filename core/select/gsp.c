/* GSP: graph-structured pruning (docs/algorithm.md, "GSP"). A token whose many look-alikes sit in
 * the other half of the bipartite graph is redundant; rounds remove at most half of A each, and B
 * is never touched in a round, so every cluster keeps a representative. */
#include <math.h>
#include <string.h>

#include "scriptprune/params.h"

#include "choose.h"
#include "gsp_run.h"
#include "similarity.h"
#include "workspace.h"

void sp_gsp_params_init(sp_gsp_params *p) {
    p->graph = (sp_graph)sp_param_of(SP_PARAM_GRAPH)->def;
    p->tau = (float)sp_param_of(SP_PARAM_TAU)->def;
    p->k_min = (uint32_t)sp_param_of(SP_PARAM_K_MIN)->def;
    p->gamma = (float)sp_param_of(SP_PARAM_GAMMA)->def;
}

/* Lanes and chunk of the score sums. The sums are chains of dependent double adds, which bound
 * the scoring at one add latency per pair (0.42 ms of an 8.7 ms 576 x 4096 frame); four
 * independent lanes, summed in a fixed order, keep it deterministic and cut that by about four. */
enum { SCORE_LANES = 4, SCORE_CHUNK = 256 };

typedef struct row_stats {
    size_t deg[SCORE_LANES];
    double edge[SCORE_LANES], all[SCORE_LANES];
} row_stats;

/* Adds v[0..m) to the lanes; pair j goes to lane (j0 + j) % SCORE_LANES, j0 a multiple of it. */
static void row_stats_add(row_stats *rs, const float *v, size_t m, float tau) {
    size_t j = 0;
    for (; j + SCORE_LANES <= m; j += SCORE_LANES)
        for (size_t l = 0; l < SCORE_LANES; l++) {
            float x = v[j + l];
            bool edge = x >= tau;
            rs->all[l] += x;
            rs->deg[l] += edge;
            rs->edge[l] += edge ? x : 0.0f;
        }
    for (size_t l = 0; j < m; j++, l++) {
        float x = v[j];
        bool edge = x >= tau;
        rs->all[l] += x;
        rs->deg[l] += edge;
        rs->edge[l] += edge ? x : 0.0f;
    }
}

void sp_gsp_scores(const float *sims, size_t ld, size_t na, size_t np, const sp_gsp_params *p,
                   const uint32_t *order, double *score) {
    for (size_t i = 0; i < na; i++) {
        row_stats rs = {{0}, {0}, {0}};
        row_stats_add(&rs, sims + i * ld, np, p->tau);
        size_t deg = rs.deg[0] + rs.deg[1] + rs.deg[2] + rs.deg[3];
        double edge_sum = (rs.edge[0] + rs.edge[1]) + (rs.edge[2] + rs.edge[3]);
        double all_sum = (rs.all[0] + rs.all[1]) + (rs.all[2] + rs.all[3]);
        double mu = deg ? edge_sum / (double)deg : 0.0;
        double sc = (double)deg * exp((double)p->gamma * (mu - (double)p->tau));
        if (deg < p->k_min)
            sc = 0.5 * sc + 0.5 * (all_sum / (double)np);
        score[order ? order[i] : i] = sc;
    }
}

/* Indices into list[m] in cache-position order, and those positions, ascending: the bipartite
 * layout puts even tokens first, and within a parity raster order is position order. */
static void order_by_position(const sp_sim *s, const uint32_t *list, size_t m, uint32_t *order,
                              uint32_t *pos) {
    size_t w = 0;
    for (uint32_t parity = 0; parity < 2; parity++)
        for (size_t i = 0; i < m; i++)
            if (list[i] % 2 == parity)
                order[w++] = (uint32_t)i;
    for (size_t i = 0; i < m; i++)
        pos[i] = s->pos[list[order[i]]];
}

/* block[i][j] = S(a_i, p_j) for A and P in position order (apos, ppos ascending). The cache keeps
 * the upper triangle in positions: the partners after a_i are a contiguous tail of P read along
 * a_i's row, the members of A after p_j a tail of A read along p_j's row. No column of the cache
 * is walked (a miss per value) and no branch depends on the data (rounds 2 and 3 read ~73k pairs
 * at 576 tokens; a per-pair test mispredicted half the time and cost 0.2 ms). */
static void gather_block(const sp_sim *s, const uint32_t *apos, size_t na, const uint32_t *ppos,
                         size_t np, float *block) {
    size_t n = s->rows.n;
    for (size_t i = 0, j0 = 0; i < na; i++) {
        while (j0 < np && ppos[j0] < apos[i])
            j0++;
        const float *row = s->g + (size_t)apos[i] * n;
        float *out = block + i * np;
        for (size_t j = j0; j < np; j++)
            out[j] = row[ppos[j]];
    }
    for (size_t j = 0, i0 = 0; j < np; j++) {
        while (i0 < na && apos[i0] <= ppos[j])
            i0++;
        const float *row = s->g + (size_t)ppos[j] * n;
        for (size_t i = i0; i < na; i++)
            block[i * np + j] = row[apos[i]];
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
    void *rank = sp_rank_scratch(ws, n);
    if (!all || !score || !mask || !gone || !rank)
        return sp_err_nomem(err, "GSP scores", n * (sizeof(double) + 9));
    for (size_t i = 0; i < n; i++)
        all[i] = (uint32_t)i;
    /* The authors' graph: every token against all N, itself included. */
    sp_gsp_scores(s->g, n, n, n, p, NULL, score);
    memset(mask, 0, n);
    sp_rank_first(score, mask, n, n - target, gone, rank);
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
    void *rank = sp_rank_scratch(ws, half);
    uint32_t *apos = sp_ws_array(ws, SP_WS_GSP_POS, 4 * half, sizeof(uint32_t));
    float *block = sp_ws_array(ws, SP_WS_GSP_BLOCK, half, half * sizeof(float));
    if (!alive || !A || !B || !score || !mask || !gone || !rank || !apos || !block)
        return sp_err_nomem(err, "GSP round lists", n * 24);
    uint32_t *ppos = apos + half, *aorder = apos + 2 * half, *porder = apos + 3 * half;
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
        size_t r = na / 2 > 0 ? na / 2 : 1;
        if (r > len - target)
            r = len - target;
        if (round == 0) {
            /* Alive is the whole frame: A and B are its even and odd tokens. */
            st = sp_sim_round1(ws, s, complete || len - r > target, err);
            if (st)
                return st;
        }
        if (round == 0) {
            /* A is the even tokens at positions [0, na), B the odd ones from position na. */
            sp_gsp_scores(s->g + na, n, na, nb, p, NULL, score);
        } else {
            order_by_position(s, A, na, aorder, apos);
            order_by_position(s, B, nb, porder, ppos);
            gather_block(s, apos, na, ppos, nb, block);
            sp_gsp_scores(block, nb, na, nb, p, aorder, score);
        }
        memset(mask, 0, na);
        sp_rank_first(score, mask, na, r, gone, rank);
        for (size_t i = 0; i < r; i++)
            gone[i] = A[gone[i]];
        remove_listed(alive, &len, mask, gone, r, n);
        if (round == 0 && (len > target || complete)) {
            /* Round 1 computed A x B and B x B. The survivors also pair A' with A': with that
             * triangle every later round and QCSP kernel row is a lookup. */
            /* A' = surviving members of A, in order; reuse A's storage. */
            size_t nap = 0;
            memset(mask, 0, n);
            for (size_t i = 0; i < len; i++)
                mask[alive[i]] = 1;
            for (size_t i = 0; i < na; i++)
                if (mask[A[i]])
                    A[nap++] = A[i];
            st = sp_sim_within(ws, s, A, nap, err);
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
    if (p->graph == SP_GRAPH_FULL || target == s->rows.n) {
        /* No bipartite round 1 will complete the rows. */
        sp_status st = sp_rows_finish(ws, &s->rows, err);
        if (st)
            return st;
    }
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
    sp_status st = sp_rows_prepare_for_gsp(ws, x, n, d, &s.rows, err);
    if (st)
        return st;
    s.g = sp_ws_array(ws, SP_WS_GRAM, n, n * sizeof(float));
    if (!s.g)
        return sp_err_nomem(err, "GSP similarity cache", n * n * sizeof(float));
    return sp_gsp_run(ws, &s, target, p, false, kept, err);
}
