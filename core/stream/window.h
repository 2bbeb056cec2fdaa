/* The window's candidate store with its QCSP kernel matrix (window.c). docs/streams.md describes
 * the algorithm; this header the data. */
#ifndef SP_STREAM_WINDOW_H
#define SP_STREAM_WINDOW_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

/* ---- candidates alive in the window (window.c) ----------------------------------------------
 * Slots [0, hi) have been used; a removed candidate leaves a hole that the next insertion reuses
 * (a stack of free slots), so nothing moves on removal. Emissions sort a map of the alive slots
 * by (frame, pos): time then raster order. */

enum { SP_CAND_EMITTED = 1u, SP_CAND_ALIVE = 2u, SP_CAND_PENDING = 4u };

typedef struct sp_cand {
    int64_t pts, last_pts;
    uint64_t frame, last_frame;
    uint32_t seen;
    uint32_t pos;       /* y * grid_w + x */
    int32_t prev, next; /* neighbours in the list of candidates at the same grid position */
    uint32_t flags;     /* SP_CAND_* */
    uint32_t spatial;   /* tokens of its frame GSP pruned in its favour */
} sp_cand;

typedef struct sp_window {
    size_t cap;           /* allocated slots */
    size_t hi;            /* slots [0, hi) have been used */
    size_t n;             /* alive candidates */
    size_t d, e;          /* token width; embedding width (0: no embeddings) */
    size_t npos;          /* grid positions */
    bool kernel;          /* keep the kernel matrix (window policy) */
    float *raw;           /* cap x d, the tokens as pushed */
    float *xn;            /* cap x d, normalised (zero rows stay zero) */
    float *emb;           /* cap x e or NULL */
    float *gram;          /* cap x cap QCSP kernel among alive slots (leading dimension cap) */
    sp_cand *c;           /* cap */
    int32_t *head;        /* npos: newest candidate at each position, or -1 */
    uint32_t *free_slots; /* holes below hi, used last-in first-out */
    size_t nfree;
    uint32_t *pending; /* slots appended since the last kernel update (may repeat) */
    size_t npending, pending_cap;
    float *pend_x; /* gathered normalised rows of the pending slots */
    float *prod;   /* pending x hi products */
    size_t scratch_rows, prod_floats;
} sp_window;

sp_status sp_window_init(sp_window *w, size_t npos, size_t d, size_t e, bool kernel, sp_error *err);
void sp_window_free(sp_window *w);
/* Makes room for `extra` more candidates (may move every array). */
sp_status sp_window_reserve(sp_window *w, size_t extra, sp_error *err);
/* Appends a candidate (room must have been reserved) and links it first in its position's list.
 * Its kernel row is filled by the next sp_window_kernel_update. Returns the slot. */
size_t sp_window_append(sp_window *w, const float *raw, const float *xn, const float *emb,
                        const sp_cand *meta);
/* Fills the kernel rows and columns of the alive slots appended since the last call against
 * every used slot: one SGEMM (pending x used x d), the kernel transform (sigma,
 * sp_stream_kernel), then row copies and a tiled column scatter. On failure (memory) the slots
 * stay pending. */
sp_status sp_window_kernel_update(sp_window *w, float sigma, sp_error *err);
/* Removes slot s: unlinks it and leaves a hole. */
void sp_window_remove(sp_window *w, size_t s);
static inline bool sp_window_alive(const sp_window *w, size_t s) {
    return (w->c[s].flags & SP_CAND_ALIVE) != 0;
}
/* Bytes allocated by the window store. */
size_t sp_window_bytes(const sp_window *w);

/* The kernel the stream's QCSP uses, from a cosine (kernel_sigma, docs/streams.md). */
static inline float sp_stream_kernel(float cosine, float sigma) {
    return sigma > 0.0f ? expf((cosine - 1.0f) / sigma) : cosine;
}

#endif
