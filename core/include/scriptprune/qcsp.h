/* QCSP, query-conditioned semantic pruning: relevance of tokens to a query and the greedy DPP MAP
 * selection over L = diag(r) S diag(r), with kernel rows computed only for chosen tokens.
 * Thread-safety: one sp_workspace per thread. */
#ifndef SCRIPTPRUNE_QCSP_H
#define SCRIPTPRUNE_QCSP_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/frame.h"
#include "scriptprune/select.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Relevance in [0, 1] of the n rows of e (n x width) to query q, written to r[n] (see
 * docs/algorithm.md: top half of the query rows by mean similarity, cosine, min-max). No query, or
 * a query that does not tell the tokens apart, gives r = 1 everywhere. */
SP_API sp_status sp_relevance(sp_workspace *ws, const float *e, size_t n, size_t width,
                              const sp_query *q, float *r, sp_error *err);

/* Greedy MAP inference of the DPP with kernel L_ij = r_i cos(x_i, x_j) r_j over the n rows of x
 * (n x d); picks exactly min(k, n) rows, filling by relevance when the kernel is exhausted. Writes
 * the picked row numbers, ascending, to picks. r == NULL means r = 1 (pure diversity). */
SP_API sp_status sp_dpp_select(sp_workspace *ws, const float *x, size_t n, size_t d, const float *r,
                               size_t k, uint32_t *picks, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
