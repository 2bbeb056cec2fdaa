/* GSP, graph-structured pruning, as a module of its own (the stream uses it per frame).
 * Thread-safety: one sp_workspace per thread. */
#ifndef SCRIPTPRUNE_GSP_H
#define SCRIPTPRUNE_GSP_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/select.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_gsp_params {
    sp_graph graph;
    float tau;
    uint32_t k_min;
    float gamma;
} sp_gsp_params;

/* Defaults of the authors' code, from core's parameter table: bipartite graph, tau 0.2, K_min 4,
 * gamma 1. */
SP_API void sp_gsp_params_init(sp_gsp_params *p);

/* Prunes the n rows of x (n x d, row-major, any norms) to `target` rows (clamped to [1, n]) and
 * writes the kept row numbers, ascending, to kept (room for min(target, n) entries). */
SP_API sp_status sp_gsp_prune(sp_workspace *ws, const float *x, size_t n, size_t d, size_t target,
                              const sp_gsp_params *p, uint32_t *kept, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
