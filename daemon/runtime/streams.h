/* The streams runtime: one scd_stream per configured stream, each running its pipeline (a
 * scd_run) and feeding its sinks, restarted with exponential backoff when its source fails,
 * without touching the other streams.
 *
 * Lifecycle of a stream:
 *   STARTING ──PLAYING──► PLAYING ──EOS of a finite source (file, pipeline, file:// uri)──► DONE
 *      ▲                     │ error, or a live source ended
 *      └──backoff timer── RETRYING ◄┘
 * A source read once (`file:`, file:// uri) is never retried: an error (missing file, not a
 * video, no video stream) ends it FAILED, and so does an end without a single frame or a file
 * that ended before the end its index announces (the frames before still went to the sinks).
 * Damaged packets the decoder skipped are counted (summary.damaged) on a stream that is DONE.
 * The backoff of a live source starts over only after a run stayed PLAYING for ten times
 * server.restart_min_s; a source that keeps failing or ending sooner backs off up to
 * server.restart_max_s.
 * A DONE or FAILED stream keeps its last (idle) pipeline when it had one, so /tokens still answers
 * over what it saw. SIGTERM drains every stream (EOS through all branches) and they end STOPPED.
 *
 * Threads: main thread only, except what the runner's streaming callbacks update (atomics and
 * the metrics registry). */
#ifndef SCRIPTD_STREAMS_H
#define SCRIPTD_STREAMS_H

#include <gst/gst.h>
#include <gst/script/script.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "runtime/follow.h"
#include "runtime/query.h"

typedef enum scd_stream_state {
    SCD_STREAM_STARTING = 0,
    SCD_STREAM_PLAYING,
    SCD_STREAM_RETRYING,
    SCD_STREAM_DONE,
    SCD_STREAM_STOPPED,
    SCD_STREAM_FAILED,
} scd_stream_state;

const char *scd_stream_state_name(scd_stream_state s);

typedef struct scd_stream scd_stream;

/* What a stream did so far (process lifetime: restarts do not reset it). */
typedef struct scd_stream_summary {
    scd_stream_state state;
    uint64_t frames_seen;    /* decoded frames entering the sampling stage */
    uint64_t frames;         /* sampled frames encoded and pruned */
    uint64_t frames_encoded; /* of those, frames the vision encoder ran on */
    uint64_t frames_skipped; /* ... and frames the change gate found unchanged (last tokens) */
    uint64_t tokens_in;      /* tokens of those frames */
    uint64_t tokens_out;     /* tokens in emitted packets */
    uint64_t packets;        /* emitted packets */
    uint64_t temporal_drops; /* from scriptprune's emissions */
    uint64_t spatial_drops;
    uint64_t emissions; /* emission messages seen */
    uint64_t select_ns_total;
    uint64_t select_ns_max; /* slowest emission */
    uint64_t st_files;      /* safetensors files written */
    uint64_t png_files;     /* overlay PNGs written */
    uint64_t sink_errors;
    unsigned restarts;
    uint64_t damaged; /* file sources: damaged packets or frames skipped */
    double progress;  /* file sources: [0, 1]; -1 otherwise */
    double elapsed_s; /* since the stream first started; until its source ended when DONE */
} scd_stream_summary;

typedef struct scd_streams scd_streams;

/* Something above the streams runtime that follows each stream's packets (the standing questions
 * of streams[].watch, runtime/watch.h). The streams runtime knows it only through these hooks;
 * the process registers it (process/service.c).
 *
 * attach: main thread, once per stream, after the stream is created with its configured query
 *   and before its first run. Returns the observer's state for st (owned by the observer), or
 *   NULL when it has nothing to follow on st: the other hooks are then never called for st. May
 *   set *problem (g_malloc'd, taken by the stream) to an error that does not stop the stream: it
 *   becomes the stream's last_error.
 * packet: a streaming thread, for every packet the stream emits; must not block.
 * new_run: main thread, before each pipeline run of the stream.
 * detach: main thread, when the stream is freed, after its pipeline: no packet comes any more.
 *   The state must let go of st (it may outlive it, but not use it).
 * user: passed to attach. All four hooks are set. */
typedef struct scd_stream_observer {
    void *(*attach)(void *user, scd_stream *st, char **problem);
    void (*packet)(void *state, const GstScriptPacket *p);
    void (*new_run)(void *state);
    void (*detach)(void *state);
    void *user;
} scd_stream_observer;

scd_streams *scd_streams_new(scd_app *app);
/* Stops and frees every stream. */
void scd_streams_free(scd_streams *s);
/* Sets the observer of every stream created from now on (copied; NULL: none). Main thread, before
 * the first scd_streams_apply. */
void scd_streams_set_observer(scd_streams *s, const scd_stream_observer *obs);

/* Makes the running set match cfg: streams that are gone stop, new ones start, streams whose
 * settings changed restart; unchanged streams keep running untouched. Returns the number of
 * streams started or restarted. */
guint scd_streams_apply(scd_streams *s, scd_config_ref *cfg);

guint scd_streams_count(scd_streams *s);
scd_stream *scd_streams_at(scd_streams *s, guint i);
scd_stream *scd_streams_find(scd_streams *s, const char *id);

/* READY: every stream reached PLAYING, finished, or failed and waits for a retry. */
bool scd_streams_settled(scd_streams *s);
/* --exit-when-done: every stream is DONE, FAILED (or STOPPED). */
bool scd_streams_all_done(scd_streams *s);
/* --exit-when-done: the streams that failed, produced no frame or skipped damaged data, appended to
 * why ("ID: REASON; ID: REASON"); false when there is none. */
bool scd_streams_any_unhealthy(scd_streams *s, GString *why);
/* Watchdog tick: true when every PLAYING stream saw new frames since the previous tick; lists
 * the stalled ones in stalled (may be NULL). */
bool scd_streams_advanced(scd_streams *s, GString *stalled);
/* STATUS=: "2 streams (1 playing, 1 retrying), 1.9 fps, 310 tok/s". Rates are over the time
 * since the previous call. */
char *scd_streams_status(scd_streams *s);

/* SIGTERM: asks every stream to end; on_drained runs (main thread, once) when all have. */
void scd_streams_drain(scd_streams *s, void (*on_drained)(void *user), void *user);

/* Gauges sampled at scrape time (queues, history, follow clients, scriptsink counters). */
void scd_streams_refresh_metrics(scd_streams *s);

/* ---- one stream (main thread) --------------------------------------------------------------- */

const char *scd_stream_id(const scd_stream *st);
const scd_stream_cfg *scd_stream_cfg_of(const scd_stream *st);
void scd_stream_get_summary(scd_stream *st, scd_stream_summary *out);
/* Newest files written by the daemon sinks (NULL when none); g_free. */
char *scd_stream_last_safetensors(scd_stream *st);
char *scd_stream_last_png(scd_stream *st);
const char *scd_stream_last_error(const scd_stream *st);
scd_stream_state scd_stream_state_of(const scd_stream *st);

/* Replaces the query (NULL clears it): applied by scriptprune from its next frame, used by
 * /tokens from now on, and given to the pipeline again after a restart. A stream without a
 * running pipeline keeps it for its next start. */
sp_status scd_stream_set_query(scd_stream *st, scd_query *q, sp_error *err);
scd_query *scd_stream_query(scd_stream *st); /* borrowed, may be NULL */
/* The frame size of the stream's last frame (0 x 0 before the first): an exemplar posted for the
 * stream is encoded at its scale. When it changes (the first frame), the stream's exemplar query
 * is encoded again at the new scale, on the main thread. */
scd_frame_size scd_stream_frame_size(scd_stream *st);

/* A reselection of the stream's window and history with its current query: safetensors bytes
 * (a new reference) and the token count. since/until: ns, G_MAXUINT64 = open. SP_ERR_STATE when
 * no pipeline is running. */
sp_status scd_stream_reselect(scd_stream *st, guint budget, guint64 since_ns, guint64 until_ns,
                              GBytes **safetensors, guint *count, sp_error *err);
/* The same with query q (NULL: pure diversity) instead of the stream's. */
sp_status scd_stream_reselect_with(scd_stream *st, const scd_query *q, guint budget,
                                   guint64 since_ns, guint64 until_ns, GBytes **safetensors,
                                   guint *count, sp_error *err);

/* The follow hub, or NULL when the stream has no `follow: true` sink. */
scd_follow *scd_stream_follow(scd_stream *st);
/* The joint-space width of the embeddings (0 until the first frame). */
guint scd_stream_embedding_width(scd_stream *st);

/* For views of the stream (http/stream_json.c): the run tag in file names, core's method name,
 * the width of a token and the token grid of the last frame (0 until the first). */
const char *scd_stream_run_tag(const scd_stream *st);
const char *scd_stream_method(const scd_stream *st);
guint scd_stream_token_width(scd_stream *st);
void scd_stream_grid(scd_stream *st, guint *h, guint *w);
/* The broker sink labelled `label` ("redis0", ...), or NULL when it did not start. Borrowed; main
 * thread. */
struct scd_broker_sink *scd_stream_broker_sink(scd_stream *st, const char *label);

#endif
