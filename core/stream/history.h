/* The stream's bounded history of candidates that left the window (history.c). */
#ifndef SP_STREAM_HISTORY_H
#define SP_STREAM_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scriptprune/error.h"
#include "scriptprune/tensor.h"

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
    bool f16c; /* the CPU converts float16 in hardware (asked once: CPUID traps in a VM) */
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

#endif
