/* The tolerant choice over scores, ranking by repeated choice, and a small sort. */
#ifndef SP_SELECT_CHOOSE_H
#define SP_SELECT_CHOOSE_H

#include <stddef.h>
#include <stdint.h>
#include "scriptprune/select.h"

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

/* Sorts n uint32 ascending (small helper used by several methods). */
void sp_sort_u32(uint32_t *v, size_t n);

#endif
