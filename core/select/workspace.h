/* The selection workspace's named slots, and the out-of-memory error every module reports. */
#ifndef SP_SELECT_WORKSPACE_H
#define SP_SELECT_WORKSPACE_H

#include <stddef.h>
#include "scriptprune/error.h"
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

/* Out-of-memory error with the context of what was being allocated. */
sp_status sp_err_nomem(sp_error *err, const char *what, size_t bytes);

#endif
