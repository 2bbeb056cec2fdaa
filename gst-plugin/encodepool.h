/* Encode pools: streams that encode with the same settings share one encoder (one copy of the
 * weights) and one worker thread, which encodes the frames waiting when it becomes free in one
 * forward pass (sp_encode_batch: the ViT's GEMMs over the stacked tokens of all of them).
 *
 * A stream hands its frame to encode_pool_encode and blocks until its result is written; each
 * stream has at most one frame in flight, so its results come back in its order. The worker takes
 * the waiting frames oldest first, at most max_batch of them. When fewer frames wait than streams
 * share the pool, it waits for the others at most batch_window_us after the oldest frame arrived
 * (then encodes what it has): the only waiting batching adds, bounded and documented as the
 * scriptencode property batch-window; a stream that declared itself idle (its input ended) is not
 * waited for. Frames are checked one by one before the pass; a frame that
 * fails (a bad image) gets its own error and the others of its pass are encoded; when the pass
 * itself fails (out of memory for a larger batch), its frames are encoded one at a time instead,
 * so one stream's error never loses another's frame.
 *
 * With the clip backend a frame's tokens can differ in the last bits with the frames batched with
 * it (see sp_encode_batch); a stream alone in its pool always gets sp_encode's bytes, and the
 * patch backend is bit for bit in any batch.
 *
 * Thread-safety: every function may be called from any thread. encode_pool_acquire and
 * encode_pool_release are serialised on a process-wide registry lock; encode_pool_encode may be
 * called by several streams at once (one call per stream at a time). A pool lives until its last
 * reference is released, which stops its worker after the frames it has: a release never waits
 * for another stream, and a stream inside encode_pool_encode holds a reference. Depends on core
 * and GLib only (the benchmark links it without GStreamer). */
#ifndef GST_SCRIPT_ENCODEPOOL_H
#define GST_SCRIPT_ENCODEPOOL_H

#include <glib.h>

#include "scriptprune/encode.h"

G_BEGIN_DECLS

#define ENCODE_POOL_DEFAULT_MAX_BATCH 8
/* 20 ms: a few percent of a ViT-B/16 pass on a CPU (about 300 ms), long enough for streams whose
 * results came back together to send their next frames (a decode and a selection in between). */
#define ENCODE_POOL_DEFAULT_WINDOW_US 20000
#define ENCODE_POOL_MAX_WINDOW_US 1000000

typedef struct EncodePoolConfig {
    sp_encoder_config encoder;   /* strings borrowed, read during the call */
    guint max_batch;             /* frames per forward pass, 1..SP_ENCODE_MAX_BATCH (1: one frame
                                    at a time, no batching) */
    guint batch_window_us;       /* longest wait for other streams' frames, 0..MAX_WINDOW_US */
    const sp_model_blobs *blobs; /* encode_pool_new only: the clip model from memory
                                    (sp_encoder_open_blobs; borrowed during the call) */
} EncodePoolConfig;

/* Fills c with the encoder defaults, ENCODE_POOL_DEFAULT_MAX_BATCH and _WINDOW_US. */
void encode_pool_config_init(EncodePoolConfig *c);

typedef struct EncodePool EncodePool;

/* The shared pool for c: an existing one whose every setting (encoder and batching; model paths
 * compared in canonical form) equals c's gains a stream, or a new one is opened (the encoder
 * loads here) and registered. On error *out is NULL and err says why (the encoder's message). */
sp_status encode_pool_acquire(const EncodePoolConfig *c, EncodePool **out, sp_error *err);
/* A pool outside the registry, never handed out by encode_pool_acquire (benchmarks, tests); its
 * holder adds streams with encode_pool_ref. */
sp_status encode_pool_new(const EncodePoolConfig *c, EncodePool **out, sp_error *err);
/* Adds a stream to a pool the caller holds; returns p. Each stream releases once. */
EncodePool *encode_pool_ref(EncodePool *p);
/* Drops the caller's stream (NULL is a no-op); the last release stops the worker and frees the
 * pool. Never call it while the same stream is inside encode_pool_encode. */
void encode_pool_release(EncodePool *p);

/* Marks one of the caller's streams idle (TRUE: its input ended, passes stop waiting for it) or
 * active again (FALSE). Each stream keeps its own flag and calls this only when it changes, and
 * sets itself active again before it releases the pool. */
void encode_pool_set_idle(EncodePool *p, gboolean idle);

/* The pool's encoder (immutable; valid while the caller holds its reference). */
const sp_encoder *encode_pool_encoder(const EncodePool *p);

/* Encodes img into out (the caller's, reused across calls as with sp_encode) in the next forward
 * pass and returns its status; img's pixels must stay valid until it returns. */
sp_status encode_pool_encode(EncodePool *p, const sp_image *img, sp_encoding *out, sp_error *err);

typedef struct EncodePoolStats {
    guint streams;    /* streams holding the pool */
    guint idle;       /* of them, idle (encode_pool_set_idle) */
    guint64 frames;   /* frames encoded (or failed) */
    guint64 passes;   /* forward passes (a pass of B frames counts once) */
    guint largest;    /* most frames in one pass */
    guint64 fallback; /* passes that failed whole and were redone frame by frame */
} EncodePoolStats;

void encode_pool_get_stats(EncodePool *p, EncodePoolStats *out);

G_END_DECLS

#endif
