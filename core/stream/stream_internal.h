/* Internals of core/stream: the window's candidate store with its similarity matrix, the temporal
 * references (anchors), the bounded history, and the stream object that ties them together.
 * docs/streams.md describes the algorithm; this header the data. */
#ifndef SP_STREAM_INTERNAL_H
#define SP_STREAM_INTERNAL_H

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scriptprune/stream.h"

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

/* ---- bounded history (history.c) ---------------------------------------------------------------
 * A ring of fixed-size records in blocks allocated on first use. Records leave the window in
 * non-decreasing order of their last frame, so the ring is ordered by last_pts and both the byte
 * bound and the age bound evict from the head. Every allocated byte is counted in `bytes`. */

typedef struct sp_hist_rec {
    int64_t pts, last_pts;
    uint64_t frame;
    uint32_t seen;
    uint16_t y, x;
    uint32_t flags;
    uint32_t spatial;
} sp_hist_rec; /* followed by d (and e) values of dtype in the record */

typedef struct sp_history {
    size_t bound; /* configured byte bound */
    size_t d, e;
    sp_dtype dtype;     /* F16 or F32 */
    size_t rec;         /* bytes per record (header + values, 8-aligned) */
    size_t per_block;   /* records per block */
    size_t max_blocks;  /* blocks that fit the bound together with the block table */
    size_t capacity;    /* max_blocks * per_block records */
    uint8_t **blocks;   /* max_blocks entries, NULL until first written */
    size_t head, count; /* ring position of the oldest record; records held */
    size_t bytes;       /* allocated: table + blocks */
    uint64_t evicted, aged, clamped, lost_nomem;
} sp_history;

/* Lays out the ring for records of d (+ e) values; bound 0 keeps nothing. Allocates the table. */
sp_status sp_history_init(sp_history *h, size_t bound, size_t d, size_t e, sp_dtype dtype,
                          sp_error *err);
void sp_history_free(sp_history *h);
/* Stores one record, evicting the oldest when full. SP_ERR_NOMEM when a new block cannot be
 * allocated (the record is then lost and counted in lost_nomem). */
sp_status sp_history_put(sp_history *h, const sp_hist_rec *meta, const float *tok, const float *emb,
                         sp_error *err);
/* Evicts records last seen before `oldest_pts`. */
void sp_history_age(sp_history *h, int64_t oldest_pts);
/* The i-th record from the oldest (i < count). */
const sp_hist_rec *sp_history_at(const sp_history *h, size_t i);
/* Decodes the token (and embedding) values of a record into float32. */
void sp_history_values(const sp_history *h, const sp_hist_rec *r, float *tok, float *emb);

/* ---- the stream (stream.c, temporal.c, reselect.c) ---------------------------------------------
 */

/* What an anchor is: none (start), the candidate taken at that position, or a token GSP pruned
 * in favour of the candidate anc_slot. */
enum { SP_ANC_NONE = 0, SP_ANC_SELF = 1, SP_ANC_REP = 2 };

struct sp_stream {
    sp_stream_params p;
    char name[SP_WIRE_NAME_MAX + 1];
    pthread_mutex_t lock;  /* window, history, counters */
    pthread_mutex_t qlock; /* the query set by other threads */

    /* shape, fixed by the first frame */
    bool started;
    size_t n, d, e;   /* e: embedding width of the frames, 0 when frames carry none */
    size_t rel_width; /* width relevance compares the query with: e, or d */
    uint32_t gh, gw;
    size_t max_tokens; /* bound of alive candidates (window_max_tokens, or 4 N) */

    /* query: set under qlock; the pushing thread copies it when qgen changes */
    float *q_rows;
    size_t q_m, q_e, q_cap;
    uint64_t qgen;
    float *use_rows; /* the push thread's copy */
    size_t use_m, use_e, use_cap;
    uint64_t use_gen;
    uint64_t use_hash;

    /* temporal references (anchors): the token last refreshed at each grid position */
    float *anc;        /* n x d normalised */
    int32_t *anc_slot; /* candidate that is (or represents) the anchor, or -1 */
    uint8_t *anc_kind; /* SP_ANC_* */

    sp_window win;
    sp_history hist;
    sp_workspace *ws;

    /* per-frame scratch */
    float *fxn;  /* n x d normalised frame */
    float *ftmp; /* n x d gathered rows for the all-candidates product */
    float *fsim; /* n x cap products */
    size_t fsim_cap;
    int32_t *match;      /* n: matched candidate slot, -1 none */
    uint8_t *is_new;     /* n */
    uint8_t *kept;       /* n: survived GSP */
    uint32_t *gsp_idx;   /* n */
    uint32_t *new_slots; /* n: slots of this frame's new candidates, raster order */
    int32_t *rep_pos;    /* n: position of the candidate a GSP-pruned new token stands for */
    int32_t *pos_of;     /* n: positions of this frame's new candidates, raster order */
    float *rel;          /* relevances (n or window) */
    size_t rel_cap;
    uint32_t *map; /* window map / picks */
    uint32_t *picks;
    size_t map_cap;
    float *gather; /* contiguous relevance rows of the window candidates */
    size_t gather_cap;
    float *sp_a, *sp_b, *sp_prod; /* spatial credit: pruned rows, candidate rows, products */
    float *fk, *fk_x; /* frame policy: the new candidates' kernel block and their rows */
    size_t fk_cap;
    size_t sp_cap;

    /* frames and emissions */
    uint64_t frames; /* accepted frames */
    int64_t last_pts;
    int64_t *pts_ring;   /* pts of the last `window` frames */
    uint64_t windows;    /* window emissions so far */
    uint64_t since_emit; /* frames since the last window emission */

    /* the packet being emitted (owned) */
    sp_packet_buf out;

    sp_stream_stats st;
};

/* Temporal graph on the normalised frame s->fxn: fills s->match, s->is_new; returns the number
 * of new tokens. Uses only the window as it was before this frame. */
size_t sp_temporal_classify(sp_stream *s, sp_error *err, sp_status *status);

/* Cosine (dot of normalised rows) of two rows of width d. */
float sp_stream_dot(const float *a, const float *b, size_t d);

/* out[i] = x[i] / max(|x[i]|, 1e-12) for n rows of width d; out may equal x. */
void sp_stream_normalize(const float *x, size_t n, size_t d, float *out);

/* The kernel the stream's QCSP uses, from a cosine (kernel_sigma, docs/streams.md). */
static inline float sp_stream_kernel(float cosine, float sigma) {
    return sigma > 0.0f ? expf((cosine - 1.0f) / sigma) : cosine;
}

/* QCSP quality of a candidate: mass^gamma, mass = min(seen, window) * (1 + spatial). */
float sp_stream_mass_quality(uint32_t seen, uint32_t spatial, uint32_t window, float gamma);

/* float16 bits to float32, for values the history stored (finite: it never stores infinities or
 * NaN). The 15 exponent-and-mantissa bits moved to float32's position and scaled by 2^112 give
 * the exact value, subnormal halves included; the sign is put back. Branch-free, so that loops
 * over it vectorise. */
static inline float sp_half_bits_to_float(uint16_t h) {
    uint32_t magnitude = (uint32_t)(h & 0x7fffu) << 13, bits;
    float f;
    memcpy(&f, &magnitude, sizeof f);
    f *= 0x1p112f;
    memcpy(&bits, &f, sizeof bits);
    bits |= (uint32_t)(h & 0x8000u) << 16;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Sort key of a candidate: frame then grid position. */
static inline int sp_key_cmp(uint64_t fa, uint32_t pa, uint64_t fb, uint32_t pb) {
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

#endif
