/* GSP on a similarity cache shared with the rest of a selection (gsp.c). */
#ifndef SP_SELECT_GSP_RUN_H
#define SP_SELECT_GSP_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "scriptprune/error.h"
#include "scriptprune/gsp.h"
#include "similarity.h"

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

#endif
