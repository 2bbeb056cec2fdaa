/* The streams runtime (streams.h). */
#include "runtime/streams.h"

#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "broker/broker_sink.h"
#include "broker/redis_sink.h"
#include "telemetry/log.h"
#include "media/netprobe.h"
#include "packetview.h"
#include "runtime/runner.h"
#include "runtime/sinks.h"

/* A scriptsink's packets written, dropped and reconnections, as already counted. */
typedef guint64 sink_counts[3];

struct scd_stream {
    scd_streams *owner;
    scd_app *app;
    scd_config_ref *cfgref;
    const scd_stream_cfg *cfg; /* inside cfgref */
    char *id;
    const char *method; /* core's method name, for file metadata */
    char *cfg_text;     /* the stream's settings as YAML, to detect changes on reload */

    scd_stream_state state;
    char *last_error;
    scd_run *run;
    guint run_no;
    char run_tag[48];
    guint stop_idle;     /* frees a failed run outside its bus callback */
    guint restart_timer; /* backoff */
    double backoff_s;
    int64_t run_playing_us;       /* when the current run reached PLAYING, 0 before */
    uint64_t frames_at_run_start; /* frames before the current run */
    unsigned restarts;
    uint64_t damaged;    /* file: damaged packets or frames skipped by the runs that ended */
    GCancellable *probe; /* the connection probe of the last failure (netprobe.h), or NULL */
    bool draining, drained;
    int64_t first_start_us; /* monotonic time of the first run's start */
    int64_t done_us;        /* when the source ended (DONE), 0 before */

    scd_query *query;
    char *query_npy; /* the query as a file, for the element's property at start */

    scd_follow *follow;
    scd_stream_observer obs; /* the observer it was attached to (scd_streams_set_observer) */
    void *obs_state;         /* its state for this stream, NULL when it follows none */
    GPtrArray *st_dirs;      /* safetensors_dir sinks (borrowed strings of cfg) */
    GPtrArray *ov_dirs;      /* overlay_dir sinks */
    GPtrArray *scriptsinks;
    GPtrArray *brokers;   /* scd_redis_sink*: they live as long as the stream */
    sink_counts *ss_last; /* per scriptsink: written, dropped, reconnects already counted */

    /* Streaming threads write these. */
    atomic_uint_fast64_t frames, tokens_in, tokens_out, packets, st_files, png_files, sink_errors;
    atomic_uint e_width, d_width, grid_h, grid_w;
    atomic_uint frame_w, frame_h; /* the frame size of the last frame (its tokens meta) */
    GMutex rescale_lock;
    GSource *rescale; /* an idle source encoding the exemplar query at a new frame size */
    GMutex files_lock;
    char *last_st, *last_png;
    ScriptPacketView view; /* the app branch's packet view (one streaming thread) */

    /* Main thread. */
    uint64_t seen_prev_runs;    /* frames seen by runs already freed */
    uint64_t seen_reported;     /* frames_seen already added to the metric */
    uint64_t gate_prev_runs[2]; /* frames encoded, skipped by runs already freed */
    uint64_t gate_reported[2];  /* ... already added to the metrics */
    uint64_t wd_seen;           /* frames seen at the previous watchdog tick */
    uint64_t temporal_drops, spatial_drops, emissions, select_ns_total, select_ns_max;
};

struct scd_streams {
    scd_app *app;
    scd_stream_observer observer; /* of the streams created from now on; attach NULL: none */
    GPtrArray *items;             /* scd_stream* */
    void (*on_drained)(void *user);
    void *drained_user;
    guint run_serial; /* numbers every pipeline run of the process: run tags never repeat */
    /* STATUS rates */
    int64_t rate_t_us;
    uint64_t rate_frames, rate_tokens;
};

static const char *const state_names[] = {"starting", "playing", "retrying",
                                          "done",     "stopped", "failed"};

const char *scd_stream_state_name(scd_stream_state s) {
    return (unsigned)s < G_N_ELEMENTS(state_names) ? state_names[s] : "?";
}

/* ---- helpers -------------------------------------------------------------------------------- */

static const char *const *lbl(const scd_stream *st) {
    return (const char *const *)&st->id;
}

static void set_state(scd_stream *st, scd_stream_state s) {
    st->state = s;
    scd_metric_gauge_set(st->app->m->stream_up, lbl(st), s == SCD_STREAM_PLAYING ? 1 : 0);
}

/* The stream's settings as the config writer prints them: two streams with equal text run the
 * same way. */
static char *stream_cfg_text(const scd_stream_cfg *sc) {
    scd_config *shell = scd_config_new_default();
    scd_stream_cfg *saved = shell->streams;
    size_t saved_n = shell->n_streams;
    shell->streams = (scd_stream_cfg *)sc;
    shell->n_streams = 1;
    char *text = scd_config_to_yaml(shell);
    shell->streams = saved;
    shell->n_streams = saved_n;
    scd_config_free(shell);
    return text;
}

static uint64_t frames_seen(const scd_stream *st) {
    return st->seen_prev_runs + scd_run_frames_seen(st->run);
}

/* Frames the encoder ran on [0] and frames the change gate skipped [1], all runs. */
static void gate_counts(const scd_stream *st, uint64_t out[2]) {
    scd_run_encode_counters(st->run, &out[0], &out[1]);
    out[0] += st->gate_prev_runs[0];
    out[1] += st->gate_prev_runs[1];
}

static void free_run(scd_stream *st) {
    if (!st->run)
        return;
    st->seen_prev_runs += scd_run_frames_seen(st->run);
    uint64_t e, k;
    scd_run_encode_counters(st->run, &e, &k);
    st->gate_prev_runs[0] += e;
    st->gate_prev_runs[1] += k;
    scd_run_free(st->run);
    st->run = NULL;
}

static void notify_app(scd_stream *st) {
    scd_app_changed(st->app);
}

static void check_drained(scd_streams *s) {
    if (!s->on_drained)
        return;
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        if (!st->drained)
            return;
    }
    void (*cb)(void *) = s->on_drained;
    s->on_drained = NULL;
    cb(s->drained_user);
}

static void mark_drained(scd_stream *st) {
    st->drained = true;
    check_drained(st->owner);
}

/* ---- streaming-thread callbacks ------------------------------------------------------------- */

static gboolean rescale_query_cb(gpointer data);

/* Records the frame size of meta; a new one has the main thread encode an exemplar query again at
 * its scale (rescale_query_cb). */
static void note_frame_size(scd_stream *st, const GstScriptTokensMeta *meta) {
    unsigned w = meta->preprocess.frame_width, h = meta->preprocess.frame_height;
    if (atomic_load(&st->frame_w) == w && atomic_load(&st->frame_h) == h)
        return;
    atomic_store(&st->frame_h, h);
    atomic_store(&st->frame_w, w);
    g_mutex_lock(&st->rescale_lock);
    if (!st->rescale) {
        st->rescale = g_idle_source_new();
        g_source_set_callback(st->rescale, rescale_query_cb, st, NULL);
        g_source_attach(st->rescale, NULL);
    }
    g_mutex_unlock(&st->rescale_lock);
}

static void on_frame(void *user, const GstScriptTokensMeta *meta) {
    scd_stream *st = user;
    note_frame_size(st, meta);
    gsize n = gst_script_tokens_meta_n_tokens(meta);
    atomic_fetch_add(&st->frames, 1);
    atomic_fetch_add(&st->tokens_in, n);
    if (atomic_load(&st->d_width) == 0) {
        gsize d = gst_script_tokens_meta_width(meta);
        gsize e = gst_script_tensor_is_set(&meta->embeddings) ? meta->embeddings.dims[1] : d;
        atomic_store(&st->e_width, (unsigned)e);
        atomic_store(&st->grid_h, meta->grid_h);
        atomic_store(&st->grid_w, meta->grid_w);
        atomic_store(&st->d_width, (unsigned)d);
    }
    scd_metric_counter_add(st->app->m->frames, lbl(st), 1);
    scd_metric_counter_add(st->app->m->tokens_in, lbl(st), (double)n);
}

static void remember(scd_stream *st, char **slot, char *path) {
    g_mutex_lock(&st->files_lock);
    g_free(*slot);
    *slot = path;
    g_mutex_unlock(&st->files_lock);
}

static void on_packet(void *user, const GstScriptPacket *p) {
    scd_stream *st = user;
    atomic_fetch_add(&st->packets, 1);
    atomic_fetch_add(&st->tokens_out, p->count);
    scd_metric_counter_add(st->app->m->packets, lbl(st), 1);
    scd_metric_counter_add(st->app->m->tokens_out, lbl(st), p->count);
    if (st->follow)
        scd_follow_packet(st->follow, p);
    if (st->obs_state)
        st->obs.packet(st->obs_state, p);
    sp_error err;
    sp_error_clear(&err);
    for (guint i = 0; i < st->brokers->len; i++) {
        scd_broker_sink *b = scd_redis_sink_broker(g_ptr_array_index(st->brokers, i));
        if (!scd_broker_sink_packet(b, p, &err)) {
            atomic_fetch_add(&st->sink_errors, 1);
            scd_log(SCD_LOG_WARNING, "sink", "%s: %s: packet not queued: %s", st->id,
                    scd_broker_sink_label(b), err.message);
        }
    }
    if (st->st_dirs->len == 0)
        return;
    sp_status rc = script_packet_view_map(&st->view, p, atomic_load(&st->d_width), &err);
    for (guint i = 0; rc == SP_OK && i < st->st_dirs->len; i++) {
        const char *dir = g_ptr_array_index(st->st_dirs, i);
        char *path = NULL;
        const char *l[] = {st->id, "safetensors_dir"};
        if (scd_sink_write_safetensors(dir, st->id, st->run_tag, st->method, &st->view.packet,
                                       &path, &err) == SP_OK) {
            atomic_fetch_add(&st->st_files, 1);
            scd_metric_counter_add(st->app->m->sink_written, l, 1);
            scd_log(SCD_LOG_DEBUG, "sink", "%s: wrote %s", st->id, path);
            remember(st, &st->last_st, path);
        } else {
            atomic_fetch_add(&st->sink_errors, 1);
            scd_metric_counter_add(st->app->m->sink_errors, l, 1);
            scd_log(SCD_LOG_WARNING, "sink", "%s: %s", st->id, err.message);
        }
    }
    if (rc != SP_OK) {
        atomic_fetch_add(&st->sink_errors, 1);
        scd_log(SCD_LOG_WARNING, "sink", "%s: packet not written: %s", st->id, err.message);
    }
    script_packet_view_release(&st->view);
}

static void on_overlay(void *user, size_t sink, GstBuffer *png) {
    scd_stream *st = user;
    if (sink >= st->ov_dirs->len)
        return;
    sp_error err;
    char *path = NULL;
    const char *l[] = {st->id, "overlay_dir"};
    if (scd_sink_write_png(g_ptr_array_index(st->ov_dirs, sink), st->id, st->run_tag, png, &path,
                           &err) == SP_OK) {
        atomic_fetch_add(&st->png_files, 1);
        scd_metric_counter_add(st->app->m->sink_written, l, 1);
        remember(st, &st->last_png, path);
    } else {
        atomic_fetch_add(&st->sink_errors, 1);
        scd_metric_counter_add(st->app->m->sink_errors, l, 1);
        scd_log(SCD_LOG_WARNING, "sink", "%s: %s", st->id, err.message);
    }
}

/* ---- main-thread callbacks and lifecycle ---------------------------------------------------- */

static void start_run(scd_stream *st);

static gboolean restart_cb(gpointer data) {
    scd_stream *st = data;
    st->restart_timer = 0;
    if (st->stop_idle) {
        g_source_remove(st->stop_idle);
        st->stop_idle = 0;
    }
    free_run(st);
    st->restarts++;
    scd_metric_counter_add(st->app->m->restarts, lbl(st), 1);
    scd_log(SCD_LOG_INFO, "stream", "%s: restarting (attempt %u)", st->id, st->restarts);
    start_run(st);
    return G_SOURCE_REMOVE;
}

static gboolean stop_idle_cb(gpointer data) {
    scd_stream *st = data;
    st->stop_idle = 0;
    free_run(st);
    return G_SOURCE_REMOVE;
}

/* Sources read once: a `file:` source or a file:// URI. What stops them (a missing file, no video
 * stream, not a media file, a file cut short) does not heal by retrying, so it ends the stream
 * FAILED. Live sources (rtsp/http URIs, pipelines) are restarted with backoff instead. */
static bool read_once(const scd_stream_cfg *c) {
    return c->source_kind == SCD_SOURCE_FILE ||
           (c->source_kind == SCD_SOURCE_URI && g_str_has_prefix(c->uri, "file:"));
}

/* The end of a stream whose source ended for good (DONE) or cannot be read (FAILED). */
static void settle(scd_stream *st, scd_stream_state s) {
    set_state(st, s);
    st->done_us = g_get_monotonic_time();
    /* Nothing more will come: follow responses end (after what is queued). */
    if (st->follow)
        scd_follow_close_all(st->follow);
    if (st->draining)
        mark_drained(st);
    notify_app(st);
}

static void failed_for_good(scd_stream *st, const char *why) {
    g_free(st->last_error);
    st->last_error = g_strdup(why);
    scd_log(SCD_LOG_ERROR, "stream", "%s: failed: %s (a source read once is not retried)", st->id,
            why);
    settle(st, SCD_STREAM_FAILED);
}

static void failure(scd_stream *st, const char *why) {
    const scd_server_cfg *srv = &scd_app_config(st->app)->server;
    scd_metric_counter_add(st->app->m->source_errors, lbl(st), 1);
    if (st->run && !st->stop_idle)
        st->stop_idle = g_idle_add(stop_idle_cb, st);
    if (read_once(st->cfg) && !st->draining) {
        failed_for_good(st, why);
        return;
    }
    g_free(st->last_error);
    st->last_error = g_strdup(why);
    /* A run that gave frames and stayed up for ten times the shortest delay was healthy: start
     * the backoff over. A source that fails (or ends) sooner, even after some frames, keeps
     * backing off, so a short clip served over HTTP is not fetched again every restart_min_s;
     * so does one that plays without ever giving a frame. */
    int64_t healthy_us = (int64_t)(srv->restart_min_s * 10.0 * 1e6);
    bool was_healthy = st->run_playing_us && atomic_load(&st->frames) > st->frames_at_run_start &&
                       g_get_monotonic_time() - st->run_playing_us >= healthy_us;
    st->run_playing_us = 0;
    if (was_healthy || st->backoff_s <= 0)
        st->backoff_s = srv->restart_min_s;
    double delay = st->backoff_s;
    st->backoff_s = MIN(srv->restart_max_s, st->backoff_s * 2);
    if (st->draining) {
        set_state(st, SCD_STREAM_STOPPED);
        scd_log(SCD_LOG_WARNING, "stream", "%s: failed while stopping: %s", st->id, why);
        mark_drained(st);
        return;
    }
    set_state(st, SCD_STREAM_RETRYING);
    scd_log(SCD_LOG_ERROR, "stream", "%s: %s; retrying in %.3g s", st->id, why, delay);
    if (st->restart_timer)
        g_source_remove(st->restart_timer);
    st->restart_timer = g_timeout_add((guint)(delay * 1000.0 + 0.5), restart_cb, st);
    notify_app(st);
}

/* Sources that end for good: a file, a finite pipeline, a file:// URI. A live source that sends
 * EOS (an RTSP server ending the session) is a drop, restarted like a failure. */
static bool finite_source(const scd_stream_cfg *c) {
    return c->source_kind != SCD_SOURCE_URI || g_str_has_prefix(c->uri, "file:");
}

/* A finite source ended: DONE, unless it gave no frame at all or a file ended before its end. */
static void source_ended(scd_stream *st) {
    uint64_t frames = atomic_load(&st->frames);
    char *early = scd_run_early_end(st->run);
    st->damaged += scd_run_damaged(st->run);
    if (frames == 0) {
        char *why = g_strdup_printf("the source ended without a single frame%s%s",
                                    early ? ": " : "", early ? early : "");
        failed_for_good(st, why);
        g_free(why);
    } else if (early) {
        failed_for_good(st, early);
    } else {
        scd_log(SCD_LOG_INFO, "stream",
                "%s: source ended: %" PRIu64 " frames, %" PRIu64 " tokens in, %" PRIu64 " out%s",
                st->id, frames, (uint64_t)atomic_load(&st->tokens_in),
                (uint64_t)atomic_load(&st->tokens_out),
                st->damaged ? ", damaged packets skipped" : "");
        settle(st, SCD_STREAM_DONE);
    }
    g_free(early);
}

static void probe_done(void *user, const char *cause) {
    scd_stream *st = user;
    g_clear_object(&st->probe);
    scd_log(SCD_LOG_ERROR, "stream", "%s: cause: %s", st->id, cause);
    if (st->last_error) {
        char *e = g_strdup_printf("%s (%s)", st->last_error, cause);
        g_free(st->last_error);
        st->last_error = e;
    }
}

/* A network source's error text is often generic ("Internal data stream error."): find out
 * whether its server is reachable at all, and add that to the error. */
static void probe_cause(scd_stream *st) {
    if (st->probe)
        g_cancellable_cancel(st->probe);
    g_clear_object(&st->probe);
    st->probe = g_cancellable_new();
    if (!scd_netprobe_start(st->cfg->uri, st->probe, probe_done, st))
        g_clear_object(&st->probe);
}

static void on_event(void *user, scd_run_event ev, const char *text) {
    scd_stream *st = user;
    switch (ev) {
        case SCD_RUN_PLAYING:
            if (st->state == SCD_STREAM_STARTING) {
                st->run_playing_us = g_get_monotonic_time();
                set_state(st, SCD_STREAM_PLAYING);
                scd_log(SCD_LOG_INFO, "stream", "%s: playing", st->id);
                notify_app(st);
            }
            break;
        case SCD_RUN_EOS:
            if (st->draining) {
                set_state(st, SCD_STREAM_STOPPED);
                mark_drained(st);
            } else if (finite_source(st->cfg)) {
                source_ended(st);
            } else {
                failure(st, "the live source ended");
            }
            break;
        case SCD_RUN_ERROR:
            if (st->state != SCD_STREAM_RETRYING && st->state != SCD_STREAM_FAILED &&
                st->state != SCD_STREAM_DONE) {
                failure(st, text);
                if (st->state == SCD_STREAM_RETRYING && st->cfg->source_kind == SCD_SOURCE_URI)
                    probe_cause(st);
            }
            break;
        case SCD_RUN_WARNING:
            scd_log(SCD_LOG_WARNING, "stream", "%s: %s", st->id, text);
            break;
    }
}

static guint64 field_u64(const GstStructure *s, const char *name) {
    guint64 v = 0;
    if (!gst_structure_get_uint64(s, name, &v)) {
        guint u = 0;
        if (gst_structure_get_uint(s, name, &u))
            v = u;
    }
    return v;
}

static void on_emission(void *user, const GstStructure *s) {
    scd_stream *st = user;
    guint64 td = field_u64(s, "temporal-drops"), sd = field_u64(s, "spatial-drops");
    guint64 ns = field_u64(s, "select-ns");
    st->temporal_drops += td;
    st->spatial_drops += sd;
    st->emissions++;
    st->select_ns_total += ns;
    st->select_ns_max = MAX(st->select_ns_max, ns);
    const char *lt[] = {st->id, "temporal"}, *ls[] = {st->id, "spatial"};
    scd_metric_counter_add(st->app->m->drops, lt, (double)td);
    scd_metric_counter_add(st->app->m->drops, ls, (double)sd);
    scd_metric_histogram_observe(st->app->m->select_seconds, lbl(st), (double)ns / 1e9);
}

static void make_run_tag(scd_stream *st) {
    GDateTime *now = g_date_time_new_now_utc();
    char *t = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
    snprintf(st->run_tag, sizeof st->run_tag, "%s-r%u", t, st->run_no);
    g_free(t);
    g_date_time_unref(now);
}

static void start_run(scd_stream *st) {
    sp_error err;
    sp_error_clear(&err);
    st->run_no = ++st->owner->run_serial;
    if (!st->first_start_us)
        st->first_start_us = g_get_monotonic_time();
    make_run_tag(st);
    st->frames_at_run_start = atomic_load(&st->frames);
    for (guint i = 0; i < st->st_dirs->len; i++)
        if (scd_sink_prepare_dir(g_ptr_array_index(st->st_dirs, i), &err) != SP_OK)
            goto fail;
    for (guint i = 0; i < st->ov_dirs->len; i++)
        if (scd_sink_prepare_dir(g_ptr_array_index(st->ov_dirs, i), &err) != SP_OK)
            goto fail;
    if (st->query) {
        g_free(st->query_npy);
        st->query_npy = g_strdup_printf("%s/%s-query.npy", st->app->work_dir, st->id);
        if (scd_query_write_npy(st->query, st->query_npy, &err) != SP_OK)
            goto fail;
    }
    const scd_stream_cfg *c = st->cfg;
    scd_run_spec spec = {
        .name = st->id,
        .kind = c->source_kind,
        .source = c->source_kind == SCD_SOURCE_URI        ? c->uri
                  : c->source_kind == SCD_SOURCE_PIPELINE ? c->pipeline
                                                          : c->file,
        .fps = c->fps,
        .decode_threads = c->decode_threads,
        .decode_workers = c->decode_workers,
        .encoder = &c->encoder,
        .pruning = &c->pruning,
        .query_npy = st->query ? st->query_npy : NULL,
        .scriptsinks = (const char *const *)st->scriptsinks->pdata,
        .n_scriptsinks = st->scriptsinks->len,
        .n_overlays = st->ov_dirs->len,
    };
    scd_run_callbacks cb = {
        .frame = on_frame,
        .packet = on_packet,
        .overlay = on_overlay,
        .event = on_event,
        .emission = on_emission,
    };
    if (st->follow)
        scd_follow_new_run(st->follow);
    if (st->obs_state)
        st->obs.new_run(st->obs_state);
    set_state(st, SCD_STREAM_STARTING);
    if (scd_run_start(&spec, &cb, st, &st->run, &err) != SP_OK)
        goto fail;
    scd_log(SCD_LOG_INFO, "stream", "%s: started (%s)", st->id, st->run_tag);
    return;
fail:
    failure(st, err.message);
}

/* Starts the redis sink k, the nth of the stream's config (its label, "redis<nth>"). */
static void add_redis_sink(scd_stream *st, const scd_sink_cfg *k, guint nth) {
    char label[32];
    snprintf(label, sizeof label, "redis%u", nth);
    scd_redis_sink *b = NULL;
    sp_error err;
    if (scd_redis_sink_new(st->id, label, k, st->app->m, &b, &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "sink", "%s: %s: %s", st->id, label, err.message);
        g_free(st->last_error);
        st->last_error = g_strdup_printf("%s: %s", label, err.message);
        return;
    }
    scd_log(SCD_LOG_INFO, "sink", "%s: %s: XADD to %s", st->id, label,
            scd_broker_sink_describe(scd_redis_sink_broker(b)));
    g_ptr_array_add(st->brokers, b);
}

static scd_stream *stream_new(scd_streams *owner, scd_config_ref *ref, const scd_stream_cfg *c) {
    scd_stream *st = g_new0(scd_stream, 1);
    st->owner = owner;
    st->app = owner->app;
    st->cfgref = scd_config_ref_acquire(ref);
    st->cfg = c;
    st->id = g_strdup(c->id);
    const sp_method_info *mi = sp_method_info_of(c->pruning.method);
    st->method = mi ? mi->name : "script";
    st->cfg_text = stream_cfg_text(c);
    st->st_dirs = g_ptr_array_new();
    st->ov_dirs = g_ptr_array_new();
    st->scriptsinks = g_ptr_array_new();
    st->brokers = g_ptr_array_new();
    g_mutex_init(&st->files_lock);
    g_mutex_init(&st->rescale_lock);
    script_packet_view_init(&st->view);
    guint n_redis = 0;
    for (size_t i = 0; i < c->n_sinks; i++) {
        const scd_sink_cfg *k = &c->sinks[i];
        switch (k->kind) {
            case SCD_SINK_SAFETENSORS_DIR:
                g_ptr_array_add(st->st_dirs, k->safetensors_dir);
                break;
            case SCD_SINK_OVERLAY_DIR:
                g_ptr_array_add(st->ov_dirs, k->overlay_dir);
                break;
            case SCD_SINK_SCRIPTSINK:
                g_ptr_array_add(st->scriptsinks, k->scriptsink);
                break;
            case SCD_SINK_FOLLOW:
                if (k->follow && !st->follow)
                    st->follow = scd_follow_new(
                        st->id, scd_app_config(st->app)->server.follow_queue_bytes, st->app->m);
                break;
            case SCD_SINK_REDIS:
                add_redis_sink(st, k, n_redis++);
                break;
        }
    }
    st->ss_last = g_new0(sink_counts, MAX(st->scriptsinks->len, 1u));
    /* Counters exist (at 0) from the start, so a scrape shows every stream. */
    scd_metric_counter_add(st->app->m->frames, lbl(st), 0);
    scd_metric_counter_add(st->app->m->frames_seen, lbl(st), 0);
    scd_metric_counter_add(st->app->m->tokens_in, lbl(st), 0);
    scd_metric_counter_add(st->app->m->tokens_out, lbl(st), 0);
    scd_metric_counter_add(st->app->m->packets, lbl(st), 0);
    scd_metric_counter_add(st->app->m->restarts, lbl(st), 0);
    scd_metric_counter_add(st->app->m->source_errors, lbl(st), 0);
    const char *lt[] = {st->id, "temporal"}, *ls[] = {st->id, "spatial"};
    scd_metric_counter_add(st->app->m->drops, lt, 0);
    scd_metric_counter_add(st->app->m->drops, ls, 0);
    return st;
}

static void stream_free(scd_stream *st) {
    if (st->probe) {
        g_cancellable_cancel(st->probe);
        g_clear_object(&st->probe);
    }
    if (st->restart_timer)
        g_source_remove(st->restart_timer);
    if (st->stop_idle)
        g_source_remove(st->stop_idle);
    free_run(st);
    /* After the pipeline: no frame comes any more, so no rescale is scheduled after this. */
    if (st->rescale) {
        g_source_destroy(st->rescale);
        g_source_unref(st->rescale);
    }
    g_mutex_clear(&st->rescale_lock);
    /* After the pipeline: no packet comes any more. */
    if (st->obs_state)
        st->obs.detach(st->obs_state);
    /* What is queued gets a moment to leave. */
    for (guint i = 0; i < st->brokers->len; i++)
        scd_redis_sink_free(g_ptr_array_index(st->brokers, i), 2000);
    g_ptr_array_unref(st->brokers);
    scd_metric_gauge_set(st->app->m->stream_up, lbl(st), 0);
    if (st->follow) {
        scd_follow_close_all(st->follow);
        scd_follow_unref(st->follow);
    }
    scd_query_unref(st->query);
    if (st->query_npy)
        g_unlink(st->query_npy);
    g_free(st->query_npy);
    script_packet_view_free(&st->view);
    g_mutex_clear(&st->files_lock);
    g_free(st->last_st);
    g_free(st->last_png);
    g_ptr_array_unref(st->st_dirs);
    g_ptr_array_unref(st->ov_dirs);
    g_ptr_array_unref(st->scriptsinks);
    g_free(st->ss_last);
    g_free(st->last_error);
    g_free(st->cfg_text);
    g_free(st->id);
    scd_config_ref_release(st->cfgref);
    g_free(st);
}

/* The configured query: built once when the stream is created (a broken query file is an error
 * of this stream, logged; the stream then runs without a query rather than not at all). */
static void load_config_query(scd_stream *st) {
    sp_error err;
    scd_query *q = NULL;
    scd_frame_size frame = scd_stream_frame_size(st); /* 0 x 0: no frame yet */
    if (scd_query_from_config(st->app->encoders, &st->cfg->encoder, &st->cfg->query, &frame, &q,
                              &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "stream", "%s: the configured query cannot be used: %s", st->id,
                err.message);
        g_free(st->last_error);
        st->last_error = g_strdup_printf("query: %s", err.message);
        return;
    }
    if (q) {
        st->query = q;
        scd_metric_counter_add(st->app->m->queries, lbl(st), 1);
        scd_log(SCD_LOG_INFO, "stream", "%s: query %s", st->id, q->describe);
    }
}

/* The observer, attached once the stream has its configured query: a problem it reports (the
 * standing questions: a model without a text tower) is an error of this stream from the start,
 * in its last_error; the stream runs all the same. */
static void attach_observer(scd_stream *st) {
    const scd_stream_observer *o = &st->owner->observer;
    if (!o->attach)
        return;
    char *problem = NULL;
    st->obs_state = o->attach(o->user, st, &problem);
    if (st->obs_state)
        st->obs = *o;
    if (!problem)
        return;
    g_free(st->last_error);
    st->last_error = problem;
}

/* ---- the registry --------------------------------------------------------------------------- */

scd_streams *scd_streams_new(scd_app *app) {
    scd_streams *s = g_new0(scd_streams, 1);
    s->app = app;
    s->items = g_ptr_array_new();
    s->rate_t_us = g_get_monotonic_time();
    return s;
}

void scd_streams_set_observer(scd_streams *s, const scd_stream_observer *obs) {
    if (obs)
        s->observer = *obs;
    else
        memset(&s->observer, 0, sizeof s->observer);
}

void scd_streams_free(scd_streams *s) {
    if (!s)
        return;
    for (guint i = 0; i < s->items->len; i++)
        stream_free(g_ptr_array_index(s->items, i));
    g_ptr_array_unref(s->items);
    g_free(s);
}

guint scd_streams_apply(scd_streams *s, scd_config_ref *ref) {
    const scd_config *cfg = ref->cfg;
    guint started = 0;
    /* Stop streams that are gone or changed. */
    for (guint i = 0; i < s->items->len;) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        const scd_stream_cfg *nc = scd_config_find_stream(cfg, st->id);
        char *text = nc ? stream_cfg_text(nc) : NULL;
        /* A reload is the operator's explicit "try again": a failed file stream starts anew. */
        bool keep = text && strcmp(text, st->cfg_text) == 0 && st->state != SCD_STREAM_FAILED;
        g_free(text);
        if (keep) {
            i++;
            if (st->follow)
                scd_follow_set_limit(st->follow, cfg->server.follow_queue_bytes);
            continue;
        }
        scd_log(SCD_LOG_INFO, "stream", "%s: %s", st->id,
                !nc                              ? "removed from the config: stopping"
                : st->state == SCD_STREAM_FAILED ? "failed before: starting again"
                                                 : "settings changed: restarting");
        g_ptr_array_remove_index(s->items, i);
        stream_free(st);
    }
    /* Start streams that are new (or were just stopped for a change), in config order. */
    GPtrArray *ordered = g_ptr_array_new();
    for (size_t j = 0; j < cfg->n_streams; j++) {
        scd_stream *st = scd_streams_find(s, cfg->streams[j].id);
        if (!st) {
            st = stream_new(s, ref, &cfg->streams[j]);
            load_config_query(st);
            attach_observer(st);
            g_ptr_array_add(s->items, st);
            start_run(st);
            started++;
        }
        g_ptr_array_add(ordered, st);
    }
    g_ptr_array_unref(s->items);
    s->items = ordered;
    return started;
}

guint scd_streams_count(scd_streams *s) {
    return s->items->len;
}

scd_stream *scd_streams_at(scd_streams *s, guint i) {
    return g_ptr_array_index(s->items, i);
}

scd_stream *scd_streams_find(scd_streams *s, const char *id) {
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        if (strcmp(st->id, id) == 0)
            return st;
    }
    return NULL;
}

bool scd_streams_settled(scd_streams *s) {
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        if (st->state == SCD_STREAM_STARTING)
            return false;
    }
    return true;
}

bool scd_streams_all_done(scd_streams *s) {
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        if (st->state != SCD_STREAM_DONE && st->state != SCD_STREAM_STOPPED &&
            st->state != SCD_STREAM_FAILED)
            return false;
    }
    return true;
}

bool scd_streams_any_unhealthy(scd_streams *s, GString *why) {
    bool any = false;
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        uint64_t frames = atomic_load(&st->frames);
        const char *reason = NULL;
        char *owned = NULL;
        if (st->state == SCD_STREAM_FAILED)
            reason = st->last_error ? st->last_error : "failed";
        else if (frames == 0)
            reason = "no frame was produced";
        else if (st->damaged)
            reason = owned =
                g_strdup_printf("%" PRIu64 " damaged packets or frames were skipped", st->damaged);
        if (reason) {
            any = true;
            g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", st->id, reason);
        }
        g_free(owned);
    }
    return any;
}

bool scd_streams_advanced(scd_streams *s, GString *stalled) {
    bool ok = true;
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        uint64_t seen = frames_seen(st);
        if (st->state == SCD_STREAM_PLAYING && seen == st->wd_seen) {
            ok = false;
            if (stalled)
                g_string_append_printf(stalled, "%s%s", stalled->len ? ", " : "", st->id);
        }
        st->wd_seen = seen;
    }
    return ok;
}

char *scd_streams_status(scd_streams *s) {
    unsigned by_state[G_N_ELEMENTS(state_names)] = {0};
    uint64_t frames = 0, tokens = 0;
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        by_state[st->state]++;
        frames += atomic_load(&st->frames);
        tokens += atomic_load(&st->tokens_out);
    }
    int64_t now = g_get_monotonic_time();
    double dt = (double)(now - s->rate_t_us) / 1e6;
    double fps = dt > 0 && frames >= s->rate_frames ? (double)(frames - s->rate_frames) / dt : 0;
    double tps = dt > 0 && tokens >= s->rate_tokens ? (double)(tokens - s->rate_tokens) / dt : 0;
    s->rate_t_us = now;
    s->rate_frames = frames;
    s->rate_tokens = tokens;
    GString *g = g_string_new(NULL);
    g_string_append_printf(g, "%u stream%s", s->items->len, s->items->len == 1 ? "" : "s");
    if (s->items->len) {
        g_string_append(g, " (");
        bool first = true;
        for (size_t k = 0; k < G_N_ELEMENTS(state_names); k++) {
            if (!by_state[k])
                continue;
            g_string_append_printf(g, "%s%u %s", first ? "" : ", ", by_state[k], state_names[k]);
            first = false;
        }
        g_string_append(g, ")");
    }
    g_string_append_printf(g, ", %.1f fps, %.0f tok/s", fps, tps);
    return g_string_free(g, FALSE);
}

void scd_streams_drain(scd_streams *s, void (*on_drained)(void *user), void *user) {
    s->on_drained = on_drained;
    s->drained_user = user;
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        st->draining = true;
        if (st->restart_timer) {
            g_source_remove(st->restart_timer);
            st->restart_timer = 0;
        }
        if (st->run && (st->state == SCD_STREAM_STARTING || st->state == SCD_STREAM_PLAYING))
            scd_run_drain(st->run);
        else {
            if (st->state != SCD_STREAM_DONE && st->state != SCD_STREAM_FAILED)
                set_state(st, SCD_STREAM_STOPPED);
            st->drained = true;
        }
    }
    check_drained(s);
}

void scd_streams_refresh_metrics(scd_streams *s) {
    scd_metric_families *m = s->app->m;
    for (guint i = 0; i < s->items->len; i++) {
        scd_stream *st = g_ptr_array_index(s->items, i);
        uint64_t seen = frames_seen(st);
        if (seen > st->seen_reported) {
            scd_metric_counter_add(m->frames_seen, lbl(st), (double)(seen - st->seen_reported));
            st->seen_reported = seen;
        }
        uint64_t gate[2];
        gate_counts(st, gate);
        scd_metric *gate_fam[2] = {m->frames_encoded, m->frames_skipped};
        for (int j = 0; j < 2; j++) {
            scd_metric_counter_add(gate_fam[j], lbl(st), (double)(gate[j] - st->gate_reported[j]));
            st->gate_reported[j] = gate[j];
        }
        for (size_t q = 0; q < scd_run_n_queues(st->run); q++) {
            const char *l[] = {st->id, scd_run_queue_name(st->run, q)};
            scd_metric_gauge_set(m->queue_depth, l, scd_run_queue_level(st->run, q));
        }
        GstStructure *stats = scd_run_stats(st->run);
        if (stats) {
            scd_metric_gauge_set(m->history_bytes, lbl(st),
                                 (double)field_u64(stats, "history-bytes"));
            gst_structure_free(stats);
        }
        if (st->follow) {
            scd_metric_gauge_set(m->follow_clients, lbl(st), scd_follow_clients(st->follow));
            scd_metric_gauge_set(m->follow_bytes, lbl(st),
                                 (double)scd_follow_queued_bytes(st->follow));
        }
        for (guint k = 0; k < st->brokers->len; k++)
            scd_broker_sink_report_queue(scd_redis_sink_broker(g_ptr_array_index(st->brokers, k)));
        for (guint k = 0; st->run && k < st->scriptsinks->len; k++) {
            guint64 v[3];
            scd_run_scriptsink_counters(st->run, k, &v[0], &v[1], &v[2]);
            char name[32];
            snprintf(name, sizeof name, "scriptsink%u", k);
            const char *l[] = {st->id, name};
            scd_metric *fam[3] = {m->sink_written, m->sink_dropped, m->sink_reconnects};
            for (int j = 0; j < 3; j++) {
                /* The element's counters restart with each run: count what grew since. */
                if (v[j] < st->ss_last[k][j])
                    st->ss_last[k][j] = 0;
                scd_metric_counter_add(fam[j], l, (double)(v[j] - st->ss_last[k][j]));
                st->ss_last[k][j] = v[j];
            }
        }
    }
}

/* ---- one stream ----------------------------------------------------------------------------- */

const char *scd_stream_id(const scd_stream *st) {
    return st->id;
}

const scd_stream_cfg *scd_stream_cfg_of(const scd_stream *st) {
    return st->cfg;
}

scd_stream_state scd_stream_state_of(const scd_stream *st) {
    return st->state;
}

const char *scd_stream_last_error(const scd_stream *st) {
    return st->last_error;
}

void scd_stream_get_summary(scd_stream *st, scd_stream_summary *out) {
    memset(out, 0, sizeof *out);
    out->state = st->state;
    out->frames_seen = frames_seen(st);
    out->frames = atomic_load(&st->frames);
    uint64_t gate[2];
    gate_counts(st, gate);
    out->frames_encoded = gate[0];
    out->frames_skipped = gate[1];
    out->tokens_in = atomic_load(&st->tokens_in);
    out->tokens_out = atomic_load(&st->tokens_out);
    out->packets = atomic_load(&st->packets);
    out->temporal_drops = st->temporal_drops;
    out->spatial_drops = st->spatial_drops;
    out->emissions = st->emissions;
    out->select_ns_total = st->select_ns_total;
    out->select_ns_max = st->select_ns_max;
    out->st_files = atomic_load(&st->st_files);
    out->png_files = atomic_load(&st->png_files);
    out->sink_errors = atomic_load(&st->sink_errors);
    out->restarts = st->restarts;
    out->damaged = st->damaged;
    int64_t end = st->done_us ? st->done_us : g_get_monotonic_time();
    out->elapsed_s = st->first_start_us ? (double)(end - st->first_start_us) / 1e6 : 0.0;
    out->progress = st->state == SCD_STREAM_DONE && st->cfg->source_kind == SCD_SOURCE_FILE
                        ? 1.0
                        : scd_run_progress(st->run);
}

static char *copy_file(scd_stream *st, char *const *slot) {
    g_mutex_lock(&st->files_lock);
    char *r = g_strdup(*slot);
    g_mutex_unlock(&st->files_lock);
    return r;
}

char *scd_stream_last_safetensors(scd_stream *st) {
    return copy_file(st, &st->last_st);
}

char *scd_stream_last_png(scd_stream *st) {
    return copy_file(st, &st->last_png);
}

sp_status scd_stream_set_query(scd_stream *st, scd_query *q, sp_error *err) {
    guint e = atomic_load(&st->e_width);
    if (q && e && q->e != e)
        return sp_error_set(err, SP_ERR_INVALID,
                            "the query has width %zu; stream '%s' has embeddings of width %u", q->e,
                            st->id, e);
    scd_query_unref(st->query);
    st->query = q ? scd_query_ref(q) : NULL;
    scd_metric_counter_add(st->app->m->queries, lbl(st), 1);
    if (st->run && st->state != SCD_STREAM_RETRYING && !scd_run_send_query(st->run, q))
        scd_log(SCD_LOG_WARNING, "stream",
                "%s: the pipeline did not take the query now; it applies from the next start",
                st->id);
    scd_log(SCD_LOG_INFO, "stream", "%s: query %s", st->id, q ? q->describe : "cleared");
    return SP_OK;
}

scd_query *scd_stream_query(scd_stream *st) {
    return st->query;
}

scd_frame_size scd_stream_frame_size(scd_stream *st) {
    scd_frame_size f = {atomic_load(&st->frame_w), atomic_load(&st->frame_h)};
    return f;
}

/* Main thread, after frames of a new size arrived: an exemplar query built before (at stream
 * creation, or posted before the first frame: fitted) or for frames of another size is encoded
 * again at the scale of these frames and replaces the query. A failure keeps the query. */
static gboolean rescale_query_cb(gpointer data) {
    scd_stream *st = data;
    g_mutex_lock(&st->rescale_lock);
    g_clear_pointer(&st->rescale, g_source_unref);
    g_mutex_unlock(&st->rescale_lock);
    scd_frame_size frame = scd_stream_frame_size(st);
    scd_query *q = NULL;
    sp_error err;
    sp_status rc =
        scd_query_at_frame(st->app->encoders, &st->cfg->encoder, st->query, &frame, &q, &err);
    if (rc == SP_OK && q)
        rc = scd_stream_set_query(st, q, &err);
    if (rc != SP_OK)
        scd_log(SCD_LOG_WARNING, "stream", "%s: the exemplar query stays as it was: %s", st->id,
                err.message);
    scd_query_unref(q);
    return G_SOURCE_REMOVE;
}

sp_status scd_stream_reselect(scd_stream *st, guint budget, guint64 since_ns, guint64 until_ns,
                              GBytes **safetensors, guint *count, sp_error *err) {
    return scd_stream_reselect_with(st, st->query, budget, since_ns, until_ns, safetensors, count,
                                    err);
}

sp_status scd_stream_reselect_with(scd_stream *st, const scd_query *q, guint budget,
                                   guint64 since_ns, guint64 until_ns, GBytes **safetensors,
                                   guint *count, sp_error *err) {
    *safetensors = NULL;
    *count = 0;
    if (!st->run || st->state == SCD_STREAM_RETRYING || st->state == SCD_STREAM_STOPPED)
        return sp_error_set(err, SP_ERR_STATE, "stream '%s' has no running pipeline (%s)", st->id,
                            scd_stream_state_name(st->state));
    GstStructure *r = scd_run_reselect(st->run, q, budget, since_ns, until_ns);
    if (!r)
        return sp_error_set(err, SP_ERR_STATE, "stream '%s': reselect returned nothing", st->id);
    gboolean ok = FALSE;
    gst_structure_get_boolean(r, "ok", &ok);
    sp_status rc = SP_OK;
    if (!ok) {
        const char *why = gst_structure_get_string(r, "error");
        rc = sp_error_set(err, SP_ERR_STATE, "%s", why ? why : "reselect failed");
    } else {
        gst_structure_get_uint(r, "count", count);
        if (!gst_structure_get(r, "safetensors", G_TYPE_BYTES, safetensors, NULL))
            rc = sp_error_set(err, SP_ERR_STATE, "reselect gave no safetensors");
    }
    gst_structure_free(r);
    return rc;
}

scd_follow *scd_stream_follow(scd_stream *st) {
    return st->follow;
}

guint scd_stream_embedding_width(scd_stream *st) {
    return atomic_load(&st->e_width);
}

const char *scd_stream_run_tag(const scd_stream *st) {
    return st->run_tag;
}

const char *scd_stream_method(const scd_stream *st) {
    return st->method;
}

guint scd_stream_token_width(scd_stream *st) {
    return atomic_load(&st->d_width);
}

void scd_stream_grid(scd_stream *st, guint *h, guint *w) {
    *h = atomic_load(&st->grid_h);
    *w = atomic_load(&st->grid_w);
}

scd_broker_sink *scd_stream_broker_sink(scd_stream *st, const char *label) {
    for (guint i = 0; i < st->brokers->len; i++) {
        scd_broker_sink *k = scd_redis_sink_broker(g_ptr_array_index(st->brokers, i));
        if (strcmp(scd_broker_sink_label(k), label) == 0)
            return k;
    }
    return NULL;
}
