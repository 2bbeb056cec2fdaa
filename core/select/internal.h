/* Internals shared by the selection modules: workspace slots, the tolerant choice, the similarity
 * cache, and the module entry points that share a similarity cache inside one selection. */
#ifndef SP_SELECT_INTERNAL_H
#define SP_SELECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/gsp.h"
#include "scriptprune/qcsp.h"
#include "scriptprune/select.h"

/* ---- workspace: one growable buffer per slot; modules that run nested use distinct slots ---- */
typedef enum sp_ws_slot {
    SP_WS_XN,       /* normalised copy of the frame, only for extreme norms (n x d floats) */
    SP_WS_GRAM,     /* n x n similarity cache */
    SP_WS_POS,      /* token -> cache position (bipartite layout) */
    SP_WS_POS_INV,  /* inverse norms in position order */
    SP_WS_GATHER_A, /* gathered rows for a triangle product */
    SP_WS_BLOCK,    /* product output before scattering */
    SP_WS_NORMS,    /* per-row inverse norms */
    SP_WS_REL_INV,  /* inverse norms of the embeddings */
    SP_WS_ALIVE,    /* GSP survivors */
    SP_WS_GSP_A,    /* GSP per-round A/B lists and scores */
    SP_WS_GSP_B,
    SP_WS_GSP_SCORE,
    SP_WS_GSP_POS,   /* cache positions of a round's A and B */
    SP_WS_GSP_BLOCK, /* a round's A x B similarities */
    SP_WS_MASK,      /* choose/rank exclusion masks */
    SP_WS_REL,       /* relevance over the frame */
    SP_WS_REL_TMP,   /* normalised embeddings */
    SP_WS_REL_Q,     /* normalised query rows */
    SP_WS_REL_C,     /* token x query cosines */
    SP_WS_CAND,      /* candidate lists */
    SP_WS_DPP_C,     /* incremental Cholesky rows (k x n doubles) */
    SP_WS_DPP_D,
    SP_WS_DPP_ROW,
    SP_WS_DPP_ROWD,
    SP_WS_DPP_R,
    SP_WS_PICKS,
    SP_WS_BASE_A, /* baselines' scratch */
    SP_WS_BASE_B,
    SP_WS_BASE_C,
    SP_WS_RANK, /* sp_rank_first's sorted values */
    SP_WS_SLOTS
} sp_ws_slot;

/* Returns a buffer of at least `bytes` for slot, keeping earlier contents only if not grown.
 * NULL when out of memory. */
void *sp_ws_get(sp_workspace *ws, sp_ws_slot slot, size_t bytes);
/* Same, for count elements of elem bytes, with overflow check. */
void *sp_ws_array(sp_workspace *ws, sp_ws_slot slot, size_t count, size_t elem);

/* ---- tolerant choice (docs/algorithm.md "Tolerant choice") ---- */
#define SP_TIE_TOL 1e-4

/* Index of choose() over v[i] for i with !excluded[i] (excluded may be NULL); n >= 1 and at least
 * one candidate. Returns SIZE_MAX when there is none. */
size_t sp_choose(const double *v, const uint8_t *excluded, size_t n);
/* Writes the first r choices of repeated sp_choose over v (non-excluded entries) to order[r].
 * `excluded` (n bytes) marks pre-excluded entries and is modified; scratch comes from
 * sp_rank_scratch for at least n values. */
void sp_rank_first(const double *v, uint8_t *excluded, size_t n, size_t r, uint32_t *order,
                   void *scratch);
/* Scratch for sp_rank_first over n values from the workspace; NULL when out of memory. */
void *sp_rank_scratch(sp_workspace *ws, size_t n);

/* ---- rows prepared for cosine products, and the similarity cache ---- */
/* out[i] = x[i] / max(|x[i]|, 1e-12). out may not alias x. */
void sp_normalize_rows(const float *x, size_t n, size_t d, float *out);

/* Rows for cosine products: products run on the raw rows and are scaled by inv[i] * inv[j]
 * afterwards, which saves writing a normalised copy of the whole frame. When a norm is so large
 * or small that raw products could overflow or lose precision (outside [1e-15, 1e15]), x points
 * to a normalised copy instead and inv is all ones. */
typedef struct sp_rows {
    const float *x;
    const float *inv; /* n inverse norms, 1 / max(|x_i|, 1e-12) */
    size_t n, d;
    /* Set by sp_rows_prepare_for_gsp: the odd rows' inverse norms are not known yet and come from
     * the odd x odd diagonal of sp_sim_round1, which also checks those rows are finite. */
    bool odd_pending;
    const char *what;     /* names the rows in errors */
    sp_ws_slot copy_slot; /* where a normalised copy goes (extreme norms) */
} sp_rows;

/* Computes the norms of x (n x d) into inv_slot, checking every value is finite (the error names
 * `what`, the row and the column); uses copy_slot for the normalised copy when needed. */
sp_status sp_rows_prepare(sp_workspace *ws, const float *x, size_t n, size_t d, sp_ws_slot inv_slot,
                          sp_ws_slot copy_slot, const char *what, sp_rows *out, sp_error *err);

/* sp_rows_prepare for a frame that goes straight into bipartite GSP (sp_gsp_run): measures the
 * even rows only and sets odd_pending. Nothing but sp_gsp_run may read such rows. */
sp_status sp_rows_prepare_for_gsp(sp_workspace *ws, const float *x, size_t n, size_t d,
                                  sp_rows *out, sp_error *err);

/* Measures the odd rows of odd_pending rows (no-op otherwise). */
sp_status sp_rows_finish(sp_workspace *ws, sp_rows *rows, sp_error *err);

/* Cosine similarities of the rows, filled block by block into the n x n cache g as products are
 * computed; entries not yet computed are undefined.
 * Natural layout (pos NULL): g[i * n + j] for all i, j, symmetric.
 * Bipartite layout (pos set, sp_sim_use_bipartite_layout): token t sits at position pos[t], even
 * tokens first, then odd ones, and only the upper triangle in positions is stored. Round 1's
 * even x odd product and the odd x odd triangle are then contiguous blocks that BLAS writes in
 * place, with no transposed copy (docs/algorithm.md, "Cost"). Read it with sp_sim_at. */
typedef struct sp_sim {
    sp_rows rows;
    float *g;
    const uint32_t *pos;
    const float *pos_inv; /* rows.inv in position order (bipartite layout only) */
} sp_sim;

/* S(i, j) of token indices i, j from either layout. */
static inline float sp_sim_at(const sp_sim *s, uint32_t i, uint32_t j) {
    if (!s->pos)
        return s->g[(size_t)i * s->rows.n + j];
    size_t p = s->pos[i], q = s->pos[j];
    return p <= q ? s->g[p * s->rows.n + q] : s->g[q * s->rows.n + p];
}

/* Switches s to the bipartite layout (s->rows set; g allocated by the caller). */
sp_status sp_sim_use_bipartite_layout(sp_workspace *ws, sp_sim *s, sp_error *err);

/* Computes S(a, b) for all a, b in ia (one SSYRK), diagonal included. */
sp_status sp_sim_within(sp_workspace *ws, sp_sim *s, const uint32_t *ia, size_t na, sp_error *err);
/* GSP round 1 on the whole frame in the bipartite layout: S(even, odd) and, when with_triangle,
 * S(odd, odd) (one SGEMM, one SSYRK), written in place. Completes odd_pending rows (their norms
 * from the triangle's diagonal, or a pass over them without one) and the position layout. */
sp_status sp_sim_round1(sp_workspace *ws, sp_sim *s, bool with_triangle, sp_error *err);
/* Allocates g in the workspace and computes all pairs in the natural layout. */
sp_status sp_sim_full(sp_workspace *ws, sp_sim *s, sp_error *err);
/* Prepares the frame's token rows and computes all pairs (methods that need the full graph). */
sp_status sp_sim_frame(sp_workspace *ws, const sp_frame *f, sp_sim *s, sp_error *err);

/* ---- GSP with a shared cache (gsp.c) ---- */
/* Prunes to target. On return kept[target] holds the survivors ascending and, when `complete` is
 * set, s->g holds every pair among them. s->g must be allocated (n x n). */
sp_status sp_gsp_run(sp_workspace *ws, sp_sim *s, size_t target, const sp_gsp_params *p,
                     bool complete, uint32_t *kept, sp_error *err);

/* GSP scores of na tokens (docs/algorithm.md, GSP): row i of sims (leading dimension ld) holds
 * the similarities of token i to its np partners; its score goes to score[order[i]] (order NULL:
 * the identity). */
void sp_gsp_scores(const float *sims, size_t ld, size_t na, size_t np, const sp_gsp_params *p,
                   const uint32_t *order, double *score);

/* Relevance (ours) of prepared rows. */
sp_status sp_relevance_rows(sp_workspace *ws, const sp_rows *e, const sp_query *q, float *r,
                            sp_error *err);

/* QCSP over all prepared rows: lazy kernel rows, or one SSYRK when 5k >= n. */
sp_status sp_dpp_on_rows(sp_workspace *ws, const sp_rows *x, const float *r, size_t k,
                         uint32_t *picks, sp_error *err);

/* ---- relevance as the published code computes it (authors.c uses it) ---- */
sp_status sp_relevance_authors(sp_workspace *ws, const float *e, size_t n, size_t width,
                               const sp_query *q, float *r, sp_error *err);

/* ---- DPP over candidates, kernel rows from a cache or computed lazily (dpp.c) ---- */
typedef struct sp_kernel {
    size_t n;       /* candidates */
    const float *r; /* n relevances, or NULL for 1 */
    /* either a cache: S(i, j) = g[map[i] * ldg + map[j]] (map NULL: identity) */
    const float *g;
    size_t ldg;
    const uint32_t *map;
    /* or a similarity cache in either layout, S(i, j) = sp_sim_at(sim, map[i], map[j]) */
    const sp_sim *sim;
    /* or prepared contiguous candidate rows for lazy GEMV rows */
    const sp_rows *rows;
    /* Exhaustion policy (streams, docs/streams.md): false (the default, docs/algorithm.md) fills
     * the rest by relevance; true starts a new greedy round over the unpicked candidates, with
     * fresh residuals, and fills by relevance only when no candidate has a residual left. */
    bool rounds;
} sp_kernel;

/* Greedy MAP as in docs/algorithm.md; picks[min(k, n)] ascending (candidate numbers). */
sp_status sp_dpp_run(sp_workspace *ws, const sp_kernel *kern, size_t k, uint32_t *picks,
                     sp_error *err);

/* ---- methods (select.c dispatches; each writes count ascending indices to idx) ---- */
sp_status sp_method_script(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                           const sp_params *p, uint32_t *idx, sp_error *err);
sp_status sp_method_authors(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                            const sp_params *p, uint32_t *idx, sp_error *err);
sp_status sp_method_random(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                           sp_error *err);
sp_status sp_method_divprune(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                             sp_error *err);
/* Merging methods also write count x d output tokens. */
sp_status sp_method_pool(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                         float *out, sp_error *err);
sp_status sp_method_tome(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                         float *out, sp_error *err);

/* Sorts n uint32 ascending (small helper used by several methods). */
void sp_sort_u32(uint32_t *v, size_t n);

/* Out-of-memory error with the context of what was being allocated. */
sp_status sp_err_nomem(sp_error *err, const char *what, size_t bytes);

#endif
