/* Token selection on one frame: the Script method (GSP + QCSP), the published code's behaviour and
 * baselines, all behind one table. Every method returns exactly min(budget, N) tokens, indices in
 * ascending order, bit-for-bit the same for the same input on the same machine and BLAS build.
 * Thread-safety: calls are safe in parallel when each thread uses its own sp_workspace. */
#ifndef SCRIPTPRUNE_SELECT_H
#define SCRIPTPRUNE_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/frame.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sp_method {
    SP_METHOD_SCRIPT = 0,     /* GSP keeps max(k, ceil(rho*N)) candidates, QCSP picks k of them */
    SP_METHOD_SCRIPT_AUTHORS, /* what the published code returns (full graph, negated relevance) */
    SP_METHOD_GSP,            /* graph-structured pruning alone, to k */
    SP_METHOD_QCSP,           /* query-conditioned DPP alone, k of N */
    SP_METHOD_RANDOM,         /* k uniformly random tokens (seeded) */
    SP_METHOD_POOL,           /* uniform grid pooling into k cells, averaged tokens */
    SP_METHOD_DIVPRUNE,       /* greedy max-min cosine diversity */
    SP_METHOD_TOME,           /* bipartite soft matching, size-weighted merged tokens */
    SP_METHOD_COUNT
} sp_method;

typedef enum sp_graph {
    SP_GRAPH_BIPARTITE = 0, /* even/odd split, rounds on the survivors (the paper's form) */
    SP_GRAPH_FULL = 1,      /* all N x N pairs, self edge counted, one shot (the authors' code) */
} sp_graph;

typedef struct sp_params {
    sp_method method;
    size_t budget;  /* k >= 1; k >= N returns all N tokens */
    sp_graph graph; /* GSP graph form */
    float tau;      /* GSP edge threshold on cosine similarity, in [-1, 1]; default 0.2 */
    uint32_t k_min; /* GSP: below this degree the score blends in the mean similarity; default 4 */
    float gamma;    /* GSP: weight of the mean edge similarity in the score; default 1.0 */
    float rho;      /* script: GSP keeps max(k, ceil(rho * N)) candidates, rho in (0, 1]; 0.5 */
    uint64_t seed;  /* random: PRNG seed; default 0 */
} sp_params;

/* One row of the method table: the single place where selection modes are declared. */
typedef struct sp_method_info {
    sp_method id;
    const char *name;    /* CLI / config / property spelling, e.g. "script-authors" */
    const char *summary; /* one-line description for --help, gst-inspect and docs */
    bool merges;         /* true: output tokens are averages, indices are representatives */
    bool uses_query;     /* true: the query changes the result */
} sp_method_info;

/* The table, SP_METHOD_COUNT entries in enum order; static storage, never freed. */
SP_API const sp_method_info *sp_method_table(void);
/* The entry of m in that table, or NULL when m is out of range. */
SP_API const sp_method_info *sp_method_info_of(sp_method m);
/* Looks a method up by name; on failure the message lists the valid names. */
SP_API sp_status sp_method_from_name(const char *name, sp_method *out, sp_error *err);

/* Fills p with the defaults of core's parameter table (scriptprune/params.h): method script,
 * budget 64, bipartite graph and the values above. */
SP_API void sp_params_init(sp_params *p);
/* Range checks for every field (the table's ranges); messages name the field and the range. */
SP_API sp_status sp_params_validate(const sp_params *p, sp_error *err);

/* The result of a selection. Owned by the caller: sp_selection_init before first use, reuse across
 * calls (buffers grow as needed), sp_selection_free at the end. */
typedef struct sp_selection {
    size_t count;      /* min(budget, N) */
    size_t d;          /* width of tokens */
    uint32_t *index;   /* count original token indices, ascending (representatives when merging) */
    float *tokens;     /* count x d output tokens: copies of the kept rows, or merged averages */
    size_t capacity;   /* allocated rows (internal) */
    size_t tokens_cap; /* allocated floats in tokens (internal) */
} sp_selection;

SP_API void sp_selection_init(sp_selection *s);
SP_API void sp_selection_free(sp_selection *s);

/* Scratch memory reused across calls so that steady-state selection does not allocate. Opaque;
 * one per thread. sp_workspace_new returns NULL when out of memory. */
typedef struct sp_workspace sp_workspace;
SP_API sp_workspace *sp_workspace_new(void);
SP_API void sp_workspace_free(sp_workspace *ws);

/* Runs p->method on frame f with query q (NULL or m == 0: no query). Validates f, q and p first.
 * On error out->count is 0 and err says why. */
SP_API sp_status sp_select(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                           const sp_params *p, sp_selection *out, sp_error *err);

/* Sets the number of threads OpenBLAS may use for the products here (a process-wide BLAS setting;
 * call it once at start-up, not concurrently with selections). */
SP_API void sp_blas_set_threads(int threads);

#ifdef __cplusplus
}
#endif
#endif
