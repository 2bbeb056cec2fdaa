/* Internals of core/stream: the stream object, which owns the window (window.h), the history
 * (history.h) and the temporal references (temporal_refs.h) and passes each module what it needs.
 * docs/streams.md describes the algorithm; this header the data. stream.c and reselect.c use it. */
#ifndef SP_STREAM_INTERNAL_H
#define SP_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosine.h"
#include "history.h"
#include "scriptprune/stream.h"
#include "temporal.h"
#include "window.h"

struct sp_stream {
    sp_stream_params p;
    char name[SP_WIRE_NAME_MAX + 1];
    pthread_mutex_t lock;  /* window, history, counters */
    pthread_mutex_t qlock; /* the query set by other threads */

    /* shape, fixed by the first frame */
    bool started;
    bool fates_valid; /* is_new/kept describe the last accepted frame */
    size_t n, d, e;   /* e: embedding width of the frames, 0 when frames carry none */
    size_t own_d;     /* the current frame's sp_frame.own_d */
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
    float *anc_off;    /* n x 2: where the anchor's candidate's content lies from the anchor's cell,
                          in cells (pixel evidence follows a moving part; 0 otherwise) */
    float *motion;     /* the camera motion estimate's scratch (motion.h) */

    sp_window win;
    sp_history hist;
    sp_workspace *ws;

    /* per-frame scratch */
    float *fxn;  /* n x d normalised frame */
    float *ftmp; /* n x d gathered rows: the all-candidates product, then GSP's picture rows */
    float *fsim; /* n x cap products */
    size_t fsim_cap;
    int32_t *match;      /* n: matched candidate slot, -1 none */
    float *match_off;    /* n x 2: the anchor offset a pixel match leaves (temporal.h) */
    uint8_t *is_new;     /* n */
    uint8_t *pad;        /* n: outside the picture rectangle of the current frame */
    size_t n_img;        /* tokens of the current frame inside its picture rectangle */
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

/* The QCSP kernel width: query_kernel_sigma when `query` (a query is in use) and it is > 0,
 * else kernel_sigma. For emissions and reselect alike. */
static inline float sp_stream_qcsp_sigma(const sp_stream_params *p, bool query) {
    return query && p->query_kernel_sigma > 0.0f ? p->query_kernel_sigma : p->kernel_sigma;
}

/* QCSP quality of a candidate: mass^gamma, mass = min(seen, window) * (1 + spatial). */
float sp_stream_mass_quality(uint32_t seen, uint32_t spatial, uint32_t window, float gamma);

/* Sort key of a candidate: frame then grid position. */
static inline int sp_key_cmp(uint64_t fa, uint32_t pa, uint64_t fb, uint32_t pb) {
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

#endif
