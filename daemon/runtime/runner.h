/* One run of a GStreamer pipeline for a stream or a job: a source, then the tail built from the
 * scriptprune plugin's elements by name:
 *
 *   uri:       uridecodebin ─► videoconvert ─► scriptencode max-fps=fps ─┐
 *   pipeline:  the user's description (its unlinked src pad) ─► the same ─┤
 *   file:      FFmpeg sampler thread (exact pts at fps) ─► appsrc (RGB) ─► scriptencode
 *                                                                         ▼
 *   scriptencode ─► scriptprune ─► tee ─┬─ queue ─► appsink           (packets to the daemon)
 *                                       ├─ queue ─► scriptsink        (one per scriptsink sink)
 *                                       └─ queue ─► scriptoverlay ─► videoconvert ─► pngenc ─►
 *                                                   appsink           (one per overlay_dir sink;
 *                                                                      emission frames only)
 *
 * A run is started once and freed once; a restart is a new run. Every sink is async=false, so the
 * pipeline reaches PLAYING without waiting for a preroll buffer on each branch (the overlay branch
 * only sees the frames that completed an emission).
 *
 * Threads: scd_run_* functions are for the main thread (whose default GMainContext runs the bus
 * watch). The frame/packet/overlay callbacks run on GStreamer streaming threads; event and
 * emission callbacks run on the main thread, from the bus watch. An owner must not free the run
 * from inside its own event callback (defer it to an idle source). */
#ifndef SCRIPTD_RUNNER_H
#define SCRIPTD_RUNNER_H

#include <gst/gst.h>
#include <gst/script/script.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "runtime/query.h"
#include "scriptprune/error.h"

typedef enum scd_run_event {
    SCD_RUN_PLAYING, /* the pipeline reached PLAYING */
    SCD_RUN_EOS,     /* the source ended and every branch drained */
    SCD_RUN_ERROR,   /* the pipeline failed (text says why); the run is dead */
    SCD_RUN_WARNING, /* something went wrong but the run continues (e.g. a query was refused) */
} scd_run_event;

typedef struct scd_run_callbacks {
    /* Streaming threads. */
    void (*frame)(void *user, const GstScriptTokensMeta *meta); /* each pruned frame */
    void (*packet)(void *user, const GstScriptPacket *p);       /* each emitted packet */
    void (*overlay)(void *user, size_t sink, GstBuffer *png);   /* PNG of an emission frame */
    /* Main thread. */
    void (*event)(void *user, scd_run_event ev, const char *text);
    void (*emission)(void *user, const GstStructure *s); /* "scriptprune-emission" */
} scd_run_callbacks;

typedef struct scd_run_spec {
    const char *name; /* stream or job id: element names, packet stream name, messages */
    scd_source_kind kind;
    const char *source;   /* the uri, the pipeline description or the file path */
    const int *source_fd; /* file: an open descriptor to read instead of opening source (which
                           * then only names it; the run keeps a duplicate). NULL: open source */
    double fps;
    int decode_threads; /* file: FFmpeg decoder threads, 0 = automatic */
    int decode_workers; /* file: parallel samplers (parallel_sampler.h), 0: one per CPU, <= 4 */
    const scd_encoder_cfg *encoder;
    const scd_pruning_cfg *pruning;
    const char *query_npy;          /* .npy file with the initial query rows, or NULL */
    const char *const *scriptsinks; /* scriptsink locations */
    size_t n_scriptsinks;
    size_t n_overlays; /* overlay branches (PNG to the overlay callback) */
} scd_run_spec;

typedef struct scd_run scd_run;

/* A `pipeline:` description parsed into a bin whose unlinked source pad is ghosted (NULL with
 * *error when it does not parse). Also used by --check. */
GstElement *scd_parse_user_pipeline(const char *description, GError **error);

/* True when a stream's source never ends for good, so --exit-when-done would wait forever: an
 * rtsp/http uri (its end is a drop, restarted), or a pipeline with a live source that has no
 * num-buffers limit or an rtsp/uri source element. *why gets the reason (g_free). */
bool scd_source_never_ends(const scd_stream_cfg *c, char **why);

/* Builds the pipeline and sets it PLAYING. Errors: a missing element factory (plugin not
 * installed), a pipeline description that does not parse, a state change refused at once. */
sp_status scd_run_start(const scd_run_spec *spec, const scd_run_callbacks *cb, void *user,
                        scd_run **out, sp_error *err);
/* Stops everything (NULL state, joins the sampler thread) and frees the run. NULL is fine. */
void scd_run_free(scd_run *run);
/* Asks the source to end (EOS through every branch, or the sampler thread to stop reading); an
 * SCD_RUN_EOS event follows once the branches drained. */
void scd_run_drain(scd_run *run);

/* Decoded frames that entered the tail so far (any thread may read it). */
uint64_t scd_run_frames_seen(const scd_run *run);
/* File sources, after SCD_RUN_EOS: why the file ended before its announced end (g_free), or
 * NULL; and the damaged packets or frames skipped (filesource.h). NULL and 0 for other kinds. */
char *scd_run_early_end(const scd_run *run);
uint64_t scd_run_damaged(const scd_run *run);
/* File sources: fraction of the file read, in [0, 1]; -1 when unknown or not a file. */
double scd_run_progress(const scd_run *run);

/* Sends a ScriptQuery (embedding rows; NULL clears) to scriptprune, applied from the next frame.
 * FALSE when the element refused it (not running). */
gboolean scd_run_send_query(scd_run *run, const scd_query *q);
/* scriptprune's `reselect` action: a new "scriptprune-reselect" structure (caller frees). */
GstStructure *scd_run_reselect(scd_run *run, const scd_query *q, guint budget, guint64 since_ns,
                               guint64 until_ns);
/* scriptencode's counters: sampled frames the encoder ran on, and frames the change gate found
 * unchanged (they carried the last tokens again); 0 and 0 for NULL. Any thread. */
void scd_run_encode_counters(const scd_run *run, uint64_t *encoded, uint64_t *skipped);
/* scriptprune's `stats` structure (caller frees); NULL when unavailable. */
GstStructure *scd_run_stats(scd_run *run);

/* Branch queues, for metrics: name ("app", "scriptsink0", "overlay0", ...) and buffers waiting. */
size_t scd_run_n_queues(const scd_run *run);
const char *scd_run_queue_name(const scd_run *run, size_t i);
guint scd_run_queue_level(const scd_run *run, size_t i);
/* scriptsink i's counters (guint64 properties packets-written, packets-dropped, reconnects). */
void scd_run_scriptsink_counters(const scd_run *run, size_t i, guint64 *written, guint64 *dropped,
                                 guint64 *reconnects);

/* Sets every stream parameter of core's table (and the method) that p holds on a scriptprune
 * element, as the runs do (config key = property name, dashed). Main thread, before the element
 * starts. */
void scd_run_set_pruning(GstElement *pr, const scd_pruning_cfg *p);

#endif
