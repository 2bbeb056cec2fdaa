/* Streams: the streaming form of Script (docs/streams.md). Frames of tokens are pushed in time
 * order; every frame goes through the temporal graph (each token against the window's references
 * at its grid position and its radius-r neighbourhood, optionally against the whole kept set) and
 * GSP (the spatial graph). Survivors of both are the window's query-independent candidates; QCSP
 * (the query DPP) picks from them at each emission, with exact budgets. Candidates whose last
 * sighting leaves the rolling window move to a history bounded in bytes (float16 by default), so
 * that reselect() can answer a new query over a past time range without touching frames again.
 *
 * Thread-safety: an sp_stream has one producer: sp_stream_push and sp_stream_flush must not be
 * called concurrently with each other. sp_stream_set_query and sp_stream_clear_query may be
 * called from any thread at any time (a mutex guards the query; the next emission uses it).
 * sp_stream_reselect and sp_stream_get_stats may be called from any thread at any time: they take
 * the stream's state mutex, which a push holds while it updates the window and history (not while
 * it runs the packet callback). The packet callback runs on the pushing thread, with no lock held;
 * it may call every function above except sp_stream_push, sp_stream_flush and sp_stream_free. */
#ifndef SCRIPTPRUNE_STREAM_H
#define SCRIPTPRUNE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/frame.h"
#include "scriptprune/gsp.h"
#include "scriptprune/select.h"
#include "scriptprune/tensor.h"
#include "scriptprune/wire.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SP_EMIT_FRAME: after each frame, its new candidates, at most frame_budget.
 * SP_EMIT_WINDOW: every hop frames, window_budget of the last `window` frames' candidates. */
typedef enum sp_emit_policy { SP_EMIT_FRAME = 0, SP_EMIT_WINDOW = 1 } sp_emit_policy;

/* Receives each packet. The packet and its arrays are valid during the call only. A non-OK return
 * (with err filled) stops the push and is returned by it. */
typedef sp_status (*sp_packet_fn)(void *user, const sp_packet *p, sp_error *err);

/* The default temporal threshold (cosine), chosen from bench/quality (docs/streams.md). */
#define SP_STREAM_DEFAULT_TAU_T 0.94f
/* The default QCSP kernel width and mass exponent, chosen from bench/quality (docs/streams.md).
 * These constants feed core's parameter table (scriptprune/params.h), which every interface reads
 * its defaults from. */
#define SP_STREAM_DEFAULT_KERNEL_SIGMA 0.4f
#define SP_STREAM_DEFAULT_MASS_GAMMA 0.25f
/* The kernel width while a query is set: 0, the stream's kernel_sigma. A narrower width (0.05)
 * keeps more of the query's target whose parts look alike and less of everything else
 * (docs/streams.md, "Quality on real textures"). */
#define SP_STREAM_DEFAULT_QUERY_KERNEL_SIGMA 0.0f

typedef struct sp_stream_params {
    sp_emit_policy policy;      /* default SP_EMIT_WINDOW */
    sp_packet_mode packet_mode; /* what packets promise (wire.h): SP_PACKET_SNAPSHOT (default),
                                 * every token of a window packet was seen in the window; or
                                 * SP_PACKET_DELTA, no token is sent twice */
    size_t frame_budget;        /* frame policy: tokens per frame at most, >= 1; default 64 */
    size_t window_budget;       /* window policy: tokens per emission, >= 1; default 256 */
    uint32_t window;            /* frames in the rolling window, 1 .. 65536; default 16 */
    uint32_t hop;             /* window policy: frames between emissions, 1 .. window; default 8 */
    float tau_t;              /* temporal redundancy threshold on cosine, in [-1, 1] */
    uint32_t radius;          /* neighbourhood radius r in grid cells, 0 .. 8; default 1 */
    bool match_all;           /* also compare with every kept candidate (one SGEMM); default off */
    float cut_fraction;       /* scene cut when at least this share of tokens is new, (0, 1];
                               * default 0.5; 1 = only when every token is new */
    float gsp_keep;           /* GSP keeps ceil(gsp_keep * N) tokens of each frame, (0, 1];
                               * default 0.75; 1 turns GSP off */
    float kernel_sigma;       /* QCSP kernel: exp((cos - 1) / sigma) when > 0, plain cosine (as
                               * per-frame Script) when 0; in [0, 10]; default 0.4 */
    float mass_gamma;         /* QCSP quality without a query: mass^gamma instead of 1, mass =
                               * input tokens a candidate stands for (docs/streams.md); with a
                               * query the quality is its relevance; in [0, 2]; 0 = off;
                               * default 0.25 */
    float query_kernel_sigma; /* QCSP kernel width while a query is set (emissions and
                               * reselect with a query), in [0, 10]; 0 = kernel_sigma (the
                               * default) */
    sp_gsp_params gsp;        /* GSP graph parameters (core defaults) */
    size_t window_max_tokens; /* candidates the window holds at most; beyond it the ones seen
                               * longest ago leave early for the history (window_overflow);
                               * 0 = 4 N; never below one frame's ceil(gsp_keep N) */
    size_t history_bytes;     /* hard bound of the history store in bytes; 0 = no history;
                               * default 256 MiB */
    int64_t history_max_age;  /* ns; history entries last seen longer ago are evicted; 0 = off */
    sp_dtype history_dtype;   /* SP_DTYPE_F16 (default) or SP_DTYPE_F32 */
    size_t reselect_max;      /* reselect runs QCSP over at most this many candidates (a shortlist
                               * when a range holds more, docs/streams.md); >= 1; default 2048 */
    const char *name;         /* stream name for metadata (copied, <= 255 bytes); default "" */
    sp_packet_fn on_packet;   /* may be NULL (packets are then only counted) */
    void *user;               /* passed to on_packet */
} sp_stream_params;

/* Fills p with the defaults of core's parameter table (scriptprune/params.h). */
SP_API void sp_stream_params_init(sp_stream_params *p);
/* Range checks of every field (the table's ranges, and hop <= window); messages name the field
 * and the accepted range. */
SP_API sp_status sp_stream_params_validate(const sp_stream_params *p, sp_error *err);

typedef struct sp_stream sp_stream;

/* Creates a stream (validates p). Token width, embedding width and grid are fixed by the first
 * frame pushed. NULL *out on error. */
SP_API sp_status sp_stream_new(const sp_stream_params *p, sp_stream **out, sp_error *err);
SP_API void sp_stream_free(sp_stream *s);

/* Pushes one frame. Checks first, before any state changes: shapes equal to the first frame's
 * (n, d, e, grid), grid sides <= SP_WIRE_MAX_GRID, pts present and not earlier than the previous
 * frame's, the picture rectangle (image_*) inside the grid, every value finite. Tokens outside the
 * picture rectangle (letterbox padding) take no part: they are never candidates, never emitted,
 * and GSP keeps its share of the picture's tokens only. A rejected frame leaves the stream as it
 * was. Then runs the temporal graph, GSP, updates window and history, and emits (frame policy:
 * always one packet, possibly empty; window policy: one packet every hop frames). */
SP_API sp_status sp_stream_push(sp_stream *s, const sp_frame *f, sp_error *err);

/* End of input: in window policy emits the last, partial window if frames arrived since the
 * previous emission. Pushing may continue afterwards. */
SP_API sp_status sp_stream_flush(sp_stream *s, sp_error *err);

/* Sets (copies) or replaces the query used by the next emissions; m == 0 clears it. Checks the
 * values are finite and, once the first frame fixed it, the width. Thread-safe. */
SP_API sp_status sp_stream_set_query(sp_stream *s, const sp_query *q, sp_error *err);
SP_API void sp_stream_clear_query(sp_stream *s);

/* Runs QCSP alone over the candidates (window and history) whose time span [pts, last_pts]
 * meets [t0, t1] (SP_PTS_NONE for an open end), with query q (NULL or m == 0: pure diversity)
 * and exactly min(budget, candidates) picks. Frames are not touched. The result (kind
 * SP_PACKET_RESELECT, tokens in time then raster order) goes to out. ws: scratch of the calling
 * thread (NULL: a temporary one). Thread-safe with respect to pushes. */
SP_API sp_status sp_stream_reselect(sp_stream *s, sp_workspace *ws, const sp_query *q,
                                    size_t budget, int64_t t0, int64_t t1, sp_packet_buf *out,
                                    sp_error *err);

typedef struct sp_stream_stats {
    uint64_t frames_in;        /* frames accepted */
    uint64_t frames_rejected;  /* frames refused by validation */
    uint64_t tokens_in;        /* tokens of accepted frames */
    uint64_t temporal_drops;   /* tokens dropped as temporally redundant */
    uint64_t padding_drops;    /* tokens of the encoder's letterbox padding (never candidates) */
    uint64_t spatial_drops;    /* new tokens pruned by GSP */
    uint64_t candidates;       /* tokens that became candidates (= in - drops) */
    uint64_t scene_cuts;       /* frames detected as scene cuts */
    uint64_t packets;          /* packets emitted */
    uint64_t tokens_emitted;   /* tokens in emitted packets */
    uint64_t window_tokens;    /* candidates alive in the window now */
    uint64_t window_bytes;     /* bytes held by the window (tokens, kernel, anchors, scratch) */
    uint64_t window_overflow;  /* candidates that left early because of window_max_tokens */
    uint64_t history_tokens;   /* entries in the history now */
    uint64_t history_bytes;    /* bytes the history holds allocated (<= history_bound) */
    uint64_t history_bound;    /* the configured bound */
    uint64_t history_evicted;  /* entries evicted because the byte bound was reached (or that
                                * found no room: bound 0, allocation failure) */
    uint64_t history_aged;     /* entries evicted by history_max_age */
    uint64_t history_clamped;  /* values saturated to the float16 range when stored */
    uint64_t select_ns_total;  /* time spent in push (temporal + GSP + QCSP + bookkeeping) */
    uint64_t select_ns_last;   /* of the last push */
    uint64_t select_ns_max;    /* of the slowest push */
    uint64_t query_generation; /* times the query was set or cleared */
} sp_stream_stats;

/* A consistent snapshot. Thread-safe. */
SP_API void sp_stream_get_stats(sp_stream *s, sp_stream_stats *out);

/* What the graphs decided about each token of the last accepted frame (raster order). */
typedef enum sp_token_fate {
    SP_FATE_CANDIDATE = 0, /* new, kept by GSP: a candidate of the window */
    SP_FATE_TEMPORAL = 1,  /* a repeat of a token the window already keeps (temporal graph) */
    SP_FATE_SPATIAL = 2,   /* new, but pruned by GSP (spatial graph) */
    SP_FATE_PADDING = 3,   /* outside the frame's picture (sp_frame.image_*): never a candidate */
} sp_token_fate;

/* Writes the n fates (n must equal the stream's tokens per frame) of the most recently accepted
 * frame. SP_ERR_STATE before the first frame or after a failed push. Meant for the producer thread
 * (right after sp_stream_push, or inside the packet callback); takes the state mutex. */
SP_API sp_status sp_stream_last_fates(sp_stream *s, uint8_t *fates, size_t n, sp_error *err);

/* The wire header describing this stream's packets (valid after the first frame; before it,
 * d and grid are 0 and SP_ERR_STATE is returned). dtype is set to F16. */
SP_API sp_status sp_stream_wire_header(sp_stream *s, sp_wire_header *h, sp_error *err);

/* Stable names: "frame", "window"; parse the same names (message lists them). */
SP_API const char *sp_emit_policy_name(sp_emit_policy p);
SP_API sp_status sp_emit_policy_from_name(const char *name, sp_emit_policy *out, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
