/* Rows prepared for cosine products and the similarity cache shared inside one selection. */
#ifndef SP_SELECT_SIMILARITY_H
#define SP_SELECT_SIMILARITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "scriptprune/error.h"
#include "scriptprune/frame.h"
#include "scriptprune/select.h"
#include "workspace.h"

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

#endif
