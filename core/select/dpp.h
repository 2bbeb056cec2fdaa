/* Greedy DPP MAP over candidates (dpp.c). The stream code uses it too and needs only this header:
 * the similarity cache and prepared rows are named by their struct tags (similarity.h). */
#ifndef SP_SELECT_DPP_H
#define SP_SELECT_DPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "scriptprune/error.h"
#include "scriptprune/select.h"

struct sp_sim;
struct sp_rows;

/* ---- DPP over candidates, kernel rows from a cache or computed lazily (dpp.c) ---- */
typedef struct sp_kernel {
    size_t n;       /* candidates */
    const float *r; /* n relevances, or NULL for 1 */
    /* either a cache: S(i, j) = g[map[i] * ldg + map[j]] (map NULL: identity) */
    const float *g;
    size_t ldg;
    const uint32_t *map;
    /* with g: S = g_transform(cached value, g_param) (NULL: the value itself) */
    float (*g_transform)(float value, float param);
    float g_param;
    /* or a similarity cache in either layout, S(i, j) = sp_sim_at(sim, map[i], map[j]) */
    const struct sp_sim *sim;
    /* or prepared contiguous candidate rows for lazy rows: one GEMV per pick, or, with batch > 0,
     * one SGEMM for the missing row and the batch - 1 unpicked candidates of largest residual
     * (the likely next picks), kept in a cache of min(n, 2k + batch) rows. Batches keep the
     * arithmetic in matrix products (a GEMV is memory bound) without the n x n Gram matrix when
     * k is a small share of n. */
    const struct sp_rows *rows;
    size_t batch;
    /* with rows: S = transform(cosine, transform_param) (NULL: the cosine itself) */
    float (*transform)(float cosine, float param);
    float transform_param;
    /* Exhaustion policy (streams, docs/streams.md): false (the default, docs/algorithm.md) fills
     * the rest by relevance; true starts a new greedy round over the unpicked candidates, with
     * fresh residuals, and fills by relevance only when no candidate has a residual left. */
    bool rounds;
} sp_kernel;

/* Greedy MAP as in docs/algorithm.md; picks[min(k, n)] ascending (candidate numbers). */
sp_status sp_dpp_run(sp_workspace *ws, const sp_kernel *kern, size_t k, uint32_t *picks,
                     sp_error *err);

/* QCSP over all prepared rows: lazy kernel rows, or one SSYRK when 5k >= n. */
sp_status sp_dpp_on_rows(sp_workspace *ws, const struct sp_rows *x, const float *r, size_t k,
                         uint32_t *picks, sp_error *err);

#endif
