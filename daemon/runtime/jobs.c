/* Jobs over files (jobs.h). */
#include "runtime/jobs.h"

#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/log.h"
#include "runtime/runner.h"

enum { MAX_FRAME_TIMES = 4096 }; /* sampled frame times listed in a job's result */

struct scd_job {
    scd_jobs *owner;
    char *id;
    scd_job_request req;
    scd_config_ref *cfgref; /* the config in force at submission (encoder and pruning defaults) */
    scd_job_state state;
    char *error;
    int64_t submitted_us, started_us, ended_us;
    scd_run *run;
    guint stop_idle;
    char *query_npy;
    GBytes *tokens; /* result safetensors */
    guint result_count;

    /* Streaming thread. */
    atomic_uint_fast64_t frames, tokens_in, tokens_out, packets;
    GMutex times_lock;
    GArray *frame_pts; /* gint64 ns of sampled frames, at most MAX_FRAME_TIMES */
    /* Main thread, from emissions. */
    uint64_t temporal_drops, spatial_drops, select_ns_total;
};

struct scd_jobs {
    scd_app *app;
    GPtrArray *items; /* scd_job*, submission order */
    guint64 serial;
};

static const char *const job_state_names[] = {"queued", "running", "done", "failed", "cancelled"};

const char *scd_job_state_name(scd_job_state s) {
    return (unsigned)s < G_N_ELEMENTS(job_state_names) ? job_state_names[s] : "?";
}

static void request_close_file(scd_job_request *r) {
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static void request_clear(scd_job_request *r) {
    request_close_file(r);
    g_free(r->path_shown);
    scd_query_unref(r->query);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void job_free(scd_job *job) {
    if (job->stop_idle)
        g_source_remove(job->stop_idle);
    scd_run_free(job->run);
    if (job->query_npy)
        g_unlink(job->query_npy);
    g_free(job->query_npy);
    request_clear(&job->req);
    scd_config_ref_release(job->cfgref);
    if (job->tokens)
        g_bytes_unref(job->tokens);
    g_array_unref(job->frame_pts);
    g_mutex_clear(&job->times_lock);
    g_free(job->error);
    g_free(job->id);
    g_free(job);
}

static guint running(scd_jobs *j) {
    guint n = 0;
    for (guint i = 0; i < j->items->len; i++)
        n += ((scd_job *)g_ptr_array_index(j->items, i))->state == SCD_JOB_RUNNING;
    return n;
}

static void start_next(scd_jobs *j);

static gboolean stop_idle_cb(gpointer data) {
    scd_job *job = data;
    job->stop_idle = 0;
    scd_run_free(job->run);
    job->run = NULL;
    if (job->query_npy) {
        g_unlink(job->query_npy);
        g_clear_pointer(&job->query_npy, g_free);
    }
    start_next(job->owner);
    return G_SOURCE_REMOVE;
}

static void finish(scd_job *job, scd_job_state state, const char *error) {
    scd_app *app = job->owner->app;
    job->state = state;
    job->ended_us = g_get_monotonic_time();
    request_close_file(&job->req); /* the run's reader holds its own descriptor */
    if (error) {
        g_free(job->error);
        job->error = g_strdup(error);
    }
    const char *l[] = {scd_job_state_name(state)};
    scd_metric_counter_add(app->m->jobs_total, l, 1);
    if (state == SCD_JOB_DONE)
        scd_log(SCD_LOG_INFO, "job", "%s: done: %" PRIu64 " frames, %u tokens selected in %.2f s",
                job->id, (uint64_t)atomic_load(&job->frames), job->result_count,
                (double)(job->ended_us - job->started_us) / 1e6);
    else
        scd_log(state == SCD_JOB_FAILED ? SCD_LOG_ERROR : SCD_LOG_INFO, "job", "%s: %s%s%s",
                job->id, scd_job_state_name(state), error ? ": " : "", error ? error : "");
    /* The run's bus callback may be on the stack: free it from an idle source. */
    if (job->run && !job->stop_idle)
        job->stop_idle = g_idle_add(stop_idle_cb, job);
    else if (!job->run)
        start_next(job->owner);
    scd_app_changed(app);
}

static void on_frame(void *user, const GstScriptTokensMeta *meta) {
    scd_job *job = user;
    atomic_fetch_add(&job->frames, 1);
    atomic_fetch_add(&job->tokens_in, gst_script_tokens_meta_n_tokens(meta));
    g_mutex_lock(&job->times_lock);
    if (job->frame_pts->len < MAX_FRAME_TIMES) {
        gint64 pts = GST_CLOCK_TIME_IS_VALID(meta->pts) ? (gint64)meta->pts : -1;
        g_array_append_val(job->frame_pts, pts);
    }
    g_mutex_unlock(&job->times_lock);
}

static void on_packet(void *user, const GstScriptPacket *p) {
    scd_job *job = user;
    atomic_fetch_add(&job->packets, 1);
    atomic_fetch_add(&job->tokens_out, p->count);
}

static void on_emission(void *user, const GstStructure *s) {
    scd_job *job = user;
    guint64 v = 0;
    if (gst_structure_get_uint64(s, "temporal-drops", &v))
        job->temporal_drops += v;
    if (gst_structure_get_uint64(s, "spatial-drops", &v))
        job->spatial_drops += v;
    if (gst_structure_get_uint64(s, "select-ns", &v))
        job->select_ns_total += v;
}

/* At the end of the file: the job's answer is a reselection over everything it saw. */
static void complete(scd_job *job) {
    /* A file cut short is not a result: the caller would take a prefix for the whole video. */
    char *early = scd_run_early_end(job->run);
    if (early) {
        finish(job, SCD_JOB_FAILED, early);
        g_free(early);
        return;
    }
    GstStructure *r = scd_run_reselect(job->run, job->req.query, job->req.budget, 0, G_MAXUINT64);
    gboolean ok = FALSE;
    if (r)
        gst_structure_get_boolean(r, "ok", &ok);
    if (!ok) {
        const char *why = r ? gst_structure_get_string(r, "error") : NULL;
        if (atomic_load(&job->frames) == 0)
            why = "the file holds no video frame that could be sampled";
        finish(job, SCD_JOB_FAILED, why ? why : "reselect failed");
    } else {
        gst_structure_get_uint(r, "count", &job->result_count);
        gst_structure_get(r, "safetensors", G_TYPE_BYTES, &job->tokens, NULL);
        finish(job, SCD_JOB_DONE, NULL);
    }
    if (r)
        gst_structure_free(r);
}

static void on_event(void *user, scd_run_event ev, const char *text) {
    scd_job *job = user;
    if (job->state != SCD_JOB_RUNNING)
        return;
    switch (ev) {
        case SCD_RUN_EOS:
            complete(job);
            break;
        case SCD_RUN_ERROR:
            finish(job, SCD_JOB_FAILED, text);
            break;
        case SCD_RUN_WARNING:
            scd_log(SCD_LOG_WARNING, "job", "%s: %s", job->id, text);
            break;
        case SCD_RUN_PLAYING:
            break;
    }
}

static void start_job(scd_job *job) {
    scd_app *app = job->owner->app;
    const scd_config *cfg = job->cfgref->cfg;
    sp_error err;
    sp_error_clear(&err);
    job->state = SCD_JOB_RUNNING;
    job->started_us = g_get_monotonic_time();
    if (job->req.query) {
        job->query_npy = g_strdup_printf("%s/job-%s-query.npy", app->work_dir, job->id);
        if (scd_query_write_npy(job->req.query, job->query_npy, &err) != SP_OK) {
            finish(job, SCD_JOB_FAILED, err.message);
            return;
        }
    }
    scd_run_spec spec = {
        .name = job->id,
        .kind = SCD_SOURCE_FILE,
        .source = job->req.path_shown,
        .source_fd = &job->req.fd,
        .fps = job->req.fps,
        .encoder = &cfg->encoder,
        .pruning = &cfg->pruning,
        .query_npy = job->query_npy,
    };
    scd_run_callbacks cb = {
        .frame = on_frame, .packet = on_packet, .event = on_event, .emission = on_emission};
    scd_log(SCD_LOG_INFO, "job", "%s: started on %s at %g fps, budget %u", job->id,
            job->req.path_shown, job->req.fps, job->req.budget);
    if (scd_run_start(&spec, &cb, job, &job->run, &err) != SP_OK)
        finish(job, SCD_JOB_FAILED, err.message);
}

static void start_next(scd_jobs *j) {
    if (j->app->stopping)
        return;
    guint limit = (guint)scd_app_config(j->app)->server.max_running_jobs;
    for (guint i = 0; i < j->items->len && running(j) < limit; i++) {
        scd_job *job = g_ptr_array_index(j->items, i);
        if (job->state == SCD_JOB_QUEUED)
            start_job(job);
    }
}

scd_jobs *scd_jobs_new(scd_app *app) {
    scd_jobs *j = g_new0(scd_jobs, 1);
    j->app = app;
    j->items = g_ptr_array_new();
    return j;
}

void scd_jobs_free(scd_jobs *j) {
    if (!j)
        return;
    for (guint i = 0; i < j->items->len; i++)
        job_free(g_ptr_array_index(j->items, i));
    g_ptr_array_unref(j->items);
    g_free(j);
}

static bool finished_state(scd_job_state s) {
    return s == SCD_JOB_DONE || s == SCD_JOB_FAILED || s == SCD_JOB_CANCELLED;
}

sp_status scd_jobs_submit(scd_jobs *j, scd_job_request *req, const char **id_out, sp_error *err) {
    *id_out = NULL;
    guint max = (guint)scd_app_config(j->app)->server.max_jobs;
    while (j->items->len >= max) {
        guint victim = G_MAXUINT;
        for (guint i = 0; i < j->items->len && victim == G_MAXUINT; i++)
            if (finished_state(((scd_job *)g_ptr_array_index(j->items, i))->state))
                victim = i;
        if (victim == G_MAXUINT) {
            request_clear(req);
            return sp_error_set(err, SP_ERR_STATE,
                                "%u jobs are queued or running (server.max_jobs): try later", max);
        }
        job_free(g_ptr_array_steal_index(j->items, victim));
    }
    scd_job *job = g_new0(scd_job, 1);
    job->owner = j;
    job->id = g_strdup_printf("job-%06" G_GUINT64_FORMAT "-%08x", ++j->serial, g_random_int());
    job->req = *req;
    memset(req, 0, sizeof *req);
    req->fd = -1;
    job->cfgref = scd_config_ref_acquire(j->app->cfg);
    job->submitted_us = g_get_monotonic_time();
    job->frame_pts = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_mutex_init(&job->times_lock);
    g_ptr_array_add(j->items, job);
    *id_out = job->id;
    start_next(j);
    return SP_OK;
}

scd_job *scd_jobs_find(scd_jobs *j, const char *id) {
    for (guint i = 0; i < j->items->len; i++) {
        scd_job *job = g_ptr_array_index(j->items, i);
        if (strcmp(job->id, id) == 0)
            return job;
    }
    return NULL;
}

scd_job_state scd_jobs_cancel(scd_jobs *j, scd_job *job) {
    (void)j;
    if (!finished_state(job->state))
        finish(job, SCD_JOB_CANCELLED, NULL);
    return job->state;
}

void scd_jobs_remove(scd_jobs *j, scd_job *job) {
    if (job->state == SCD_JOB_RUNNING) {
        job->state = SCD_JOB_CANCELLED;
        const char *l[] = {"cancelled"};
        scd_metric_counter_add(j->app->m->jobs_total, l, 1);
    }
    g_ptr_array_remove(j->items, job);
    job_free(job);
    start_next(j);
}

scd_job_state scd_job_state_of(const scd_job *job) {
    return job->state;
}

const char *scd_job_id(const scd_job *job) {
    return job->id;
}

GBytes *scd_job_tokens(const scd_job *job) {
    return job->state == SCD_JOB_DONE ? job->tokens : NULL;
}

gboolean scd_jobs_idle(scd_jobs *j) {
    for (guint i = 0; i < j->items->len; i++)
        if (!finished_state(((scd_job *)g_ptr_array_index(j->items, i))->state))
            return FALSE;
    return TRUE;
}

void scd_jobs_refresh_metrics(scd_jobs *j) {
    guint n[G_N_ELEMENTS(job_state_names)] = {0};
    for (guint i = 0; i < j->items->len; i++)
        n[((scd_job *)g_ptr_array_index(j->items, i))->state]++;
    for (size_t s = 0; s < G_N_ELEMENTS(job_state_names); s++) {
        const char *l[] = {job_state_names[s]};
        scd_metric_gauge_set(j->app->m->jobs, l, n[s]);
    }
}

void scd_job_get_summary(scd_job *job, scd_job_summary *out) {
    memset(out, 0, sizeof *out);
    out->id = job->id;
    out->path = job->req.path_shown;
    out->query = job->req.query ? job->req.query->describe : NULL;
    out->error = job->error;
    out->state = job->state;
    out->fps = job->req.fps;
    out->budget = job->req.budget;
    double progress = job->state == SCD_JOB_DONE ? 1.0 : scd_run_progress(job->run);
    out->progress = progress < 0 ? 0.0 : progress;
    out->frames = atomic_load(&job->frames);
    out->tokens_in = atomic_load(&job->tokens_in);
    out->tokens_out = atomic_load(&job->tokens_out);
    if (job->state != SCD_JOB_DONE)
        return;
    out->result_tokens = job->result_count;
    out->temporal_drops = job->temporal_drops;
    out->spatial_drops = job->spatial_drops;
    out->windows = atomic_load(&job->packets);
    out->wall_seconds = (double)(job->ended_us - job->started_us) / 1e6;
    out->selection_ms_per_frame =
        out->frames ? (double)job->select_ns_total / 1e6 / (double)out->frames : 0.0;
    g_mutex_lock(&job->times_lock);
    gint64 last =
        job->frame_pts->len ? g_array_index(job->frame_pts, gint64, job->frame_pts->len - 1) : 0;
    out->video_seconds_sampled = (double)last / 1e9;
    out->frame_times = g_array_sized_new(FALSE, FALSE, sizeof(double), job->frame_pts->len);
    for (guint i = 0; i < job->frame_pts->len; i++) {
        double t = (double)g_array_index(job->frame_pts, gint64, i) / 1e9;
        g_array_append_val(out->frame_times, t);
    }
    g_mutex_unlock(&job->times_lock);
}

void scd_job_summary_clear(scd_job_summary *s) {
    if (s->frame_times)
        g_array_unref(s->frame_times);
    s->frame_times = NULL;
}

guint scd_jobs_count(const scd_jobs *j) {
    return j->items->len;
}

scd_job *scd_jobs_nth(scd_jobs *j, guint i) {
    return i < j->items->len ? g_ptr_array_index(j->items, i) : NULL;
}
