/* The running daemon: setup, the signals, READY and STATUS for systemd, the drain on SIGTERM,
 * --exit-when-done, teardown. One GLib main loop runs everything that is not a streaming thread:
 * the GStreamer bus watches, the HTTP server, the signal handlers, the sd_notify timers. */
#include "process/service.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "http/http.h"
#include "process/notify.h"
#include "process/reload.h"
#include "process/status.h"
#include "runtime/jobs.h"
#include "runtime/mllm_client.h"
#include "runtime/query.h"
#include "runtime/cluster.h"
#include "runtime/runner.h"
#include "runtime/sinks.h"
#include "runtime/streams.h"
#include "runtime/watch.h"
#include "process/summary.h"
#include "scriptprune/select.h"
#include "telemetry/log.h"

enum {
    DRAIN_TIMEOUT_MS = 3000, /* SIGTERM: streams get this long to drain; the process exits < 5 s */
    READY_TIMEOUT_S = 30,    /* READY=1 at the latest after this, with sources still starting */
};

static void write_ready_file(scd_app *app) {
    if (!app->ready_file)
        return;
    char *text = g_strdup_printf(
        "{\"pid\": %d, \"listen\": \"%s\", \"port\": %d, \"unix_socket\": \"%s\"}\n", (int)getpid(),
        scd_http_tcp_address(app->http), scd_http_tcp_port(app->http),
        scd_app_config(app)->server.unix_socket);
    sp_error err;
    if (scd_write_file_atomic(app->ready_file, text, strlen(text), &err) != SP_OK)
        scd_log(SCD_LOG_ERROR, "main", "--ready-file: %s", err.message);
    g_free(text);
}

static void send_ready(scd_app *app) {
    if (app->ready_sent || app->stopping)
        return;
    app->ready_sent = true;
    char *status = scd_app_status_text(app);
    scd_notify_ready(app->notify, status);
    write_ready_file(app);
    scd_log(SCD_LOG_INFO, "main", "ready: %s", status);
    g_free(status);
}

static void on_drained(void *user) {
    scd_app *app = user;
    scd_log(SCD_LOG_INFO, "main", "every stream drained");
    g_main_loop_quit(app->loop);
}

static gboolean drain_deadline(gpointer data) {
    scd_app *app = data;
    app->drain_timer = 0;
    scd_log(SCD_LOG_WARNING, "main", "streams did not drain within %d ms: stopping them",
            DRAIN_TIMEOUT_MS);
    g_main_loop_quit(app->loop);
    return G_SOURCE_REMOVE;
}

static void begin_stop(scd_app *app, const char *why) {
    if (app->stopping)
        return;
    app->stopping = true;
    scd_log(SCD_LOG_INFO, "main", "stopping: %s", why);
    scd_notify_stopping(app->notify);
    app->drain_timer = g_timeout_add(DRAIN_TIMEOUT_MS, drain_deadline, app);
    scd_streams_drain(app->streams, on_drained, app);
}

/* The hook scd_app_changed() calls (app.c): streams and jobs report there, and this decides. */
static void on_app_changed(scd_app *app) {
    if (!app->ready_sent && scd_streams_settled(app->streams))
        send_ready(app);
    else if (app->ready_sent && !app->stopping) {
        char *status = scd_app_status_text(app);
        scd_notify_status(app->notify, status);
        g_free(status);
    }
    if (app->exit_when_done && !app->stopping && scd_streams_all_done(app->streams) &&
        scd_jobs_idle(app->jobs))
        begin_stop(app, "every source ended (--exit-when-done)");
}

static gboolean ready_timeout(gpointer data) {
    scd_app *app = data;
    app->ready_timer = 0;
    if (!app->ready_sent) {
        scd_log(SCD_LOG_WARNING, "main", "sources still starting after %d s: reporting ready",
                READY_TIMEOUT_S);
        send_ready(app);
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_sighup(gpointer data) {
    scd_app *app = data;
    if (!app->stopping)
        scd_reload(app);
    return G_SOURCE_CONTINUE;
}

static gboolean on_sigterm(gpointer data) {
    scd_app *app = data;
    if (app->stopping) {
        /* A second signal: stop waiting for the drain. */
        g_main_loop_quit(app->loop);
        return G_SOURCE_CONTINUE;
    }
    begin_stop(app, "signal received");
    return G_SOURCE_CONTINUE;
}

/* ---- setup and teardown --------------------------------------------------------------------- */

/* The scriptprune plugin: from GStreamer's paths (GST_PLUGIN_PATH_1_0 in the build tree) or from
 * the directory it was installed to, which GStreamer does not search for prefixes other than its
 * own. */
static bool find_plugin(void) {
    GstElementFactory *f = gst_element_factory_find("scriptprune");
    if (!f && g_file_test(SCRIPTD_PLUGINDIR, G_FILE_TEST_IS_DIR)) {
        gst_registry_scan_path(gst_registry_get(), SCRIPTD_PLUGINDIR);
        f = gst_element_factory_find("scriptprune");
    }
    if (f)
        gst_object_unref(f);
    return f != NULL;
}

static char *make_work_dir(void) {
    const char *rt = g_getenv("RUNTIME_DIRECTORY");
    GError *gerr = NULL;
    char *dir = NULL;
    if (rt && rt[0]) {
        /* systemd may list several directories separated by ':'; the first is ours. */
        char **dirs = g_strsplit(rt, ":", 2);
        char *tmpl = g_build_filename(dirs[0], "work-XXXXXX", NULL);
        g_strfreev(dirs);
        dir = g_mkdtemp(tmpl) ? tmpl : (g_free(tmpl), NULL);
    }
    if (!dir)
        dir = g_dir_make_tmp("scriptd-XXXXXX", &gerr);
    if (!dir) {
        scd_log(SCD_LOG_ERROR, "main", "cannot create a private directory: %s",
                gerr ? gerr->message : g_strerror(errno));
        g_clear_error(&gerr);
    }
    return dir;
}

static void remove_work_dir(const char *dir) {
    if (!dir)
        return;
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *p = g_build_filename(dir, name, NULL);
            g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

/* --exit-when-done waits for every source to end: a source that never ends would make it hang
 * silently, so it is refused before anything starts. */
static bool refuse_endless_sources(const scd_config *cfg) {
    bool refused = false;
    for (size_t i = 0; i < cfg->n_streams; i++) {
        char *why = NULL;
        if (scd_source_never_ends(&cfg->streams[i], &why)) {
            scd_log(SCD_LOG_ERROR, "main",
                    "--exit-when-done: stream '%s' never ends (%s), so scriptd would never exit; "
                    "run it without --exit-when-done, or give the pipeline an end (num-buffers)",
                    cfg->streams[i].id, why);
            refused = true;
        }
        g_free(why);
    }
    return refused;
}

/* Temporary files (X.tmp-PID) a killed scriptd left in the directories it writes. */
static void remove_stale_temp_files(const scd_config *cfg, const char *ready_file) {
    guint n = 0;
    for (size_t i = 0; i < cfg->n_streams; i++)
        for (size_t k = 0; k < cfg->streams[i].n_sinks; k++) {
            const scd_sink_cfg *s = &cfg->streams[i].sinks[k];
            if (s->kind == SCD_SINK_SAFETENSORS_DIR)
                n += scd_remove_stale_temp_files(s->safetensors_dir, NULL);
            else if (s->kind == SCD_SINK_OVERLAY_DIR)
                n += scd_remove_stale_temp_files(s->overlay_dir, NULL);
        }
    if (ready_file) {
        char *dir = g_path_get_dirname(ready_file), *base = g_path_get_basename(ready_file);
        n += scd_remove_stale_temp_files(dir, base);
        g_free(dir);
        g_free(base);
    }
    if (n)
        scd_log(SCD_LOG_INFO, "main", "removed %u temporary file%s left by a stopped process", n,
                n == 1 ? "" : "s");
}

int scd_service_run(const scd_run_options *o, scd_config *cfg) {
    scd_app app = {0};
    int rc = SCD_EXIT_OK;
    app.started_us = g_get_monotonic_time();
    app.config_path = o->config_path;
    app.exit_when_done = o->exit_when_done;
    app.ready_file = o->ready_file;
    app.changed = on_app_changed;
    app.cfg = scd_config_ref_new(cfg);
    sp_error err;
    if (cfg->server.token_file[0] &&
        scd_read_token_file(cfg->server.token_file, &app.token, &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "main", "%s", err.message);
        scd_config_ref_release(app.cfg);
        return SCD_EXIT_BAD_CONFIG;
    }
    if (o->exit_when_done && refuse_endless_sources(cfg)) {
        g_free(app.token);
        scd_config_ref_release(app.cfg);
        return SCD_EXIT_BAD_CONFIG;
    }
    remove_stale_temp_files(cfg, o->ready_file);
    if (cfg->server.blas_threads > 0)
        sp_blas_set_threads(cfg->server.blas_threads);
    if (!find_plugin()) {
        scd_log(SCD_LOG_ERROR, "main",
                "the GStreamer plugin 'scriptprune' is not installed: install scriptd, or set "
                "GST_PLUGIN_PATH_1_0 to the build's gst-plugin directory");
        rc = SCD_EXIT_FAILURE_RUN;
        goto out;
    }
    app.work_dir = make_work_dir();
    if (!app.work_dir) {
        rc = SCD_EXIT_FAILURE_RUN;
        goto out;
    }
    app.loop = g_main_loop_new(NULL, FALSE);
    app.m = scd_metric_families_new();
    const char *ver[] = {SCRIPTD_VERSION};
    scd_metric_gauge_set(app.m->build_info, ver, 1);
    app.encoders = scd_encoders_new();
    app.streams = scd_streams_new(&app);
    scd_stream_observer watches;
    scd_watches_observer(&app, &watches); /* the standing questions follow every stream */
    scd_streams_set_observer(app.streams, &watches);
    app.jobs = scd_jobs_new(&app);
    app.mllm = scd_mllm_new();
    app.notify = scd_notify_new(&app);
    if (scd_http_new(&app, &app.http, &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "main", "%s", err.message);
        rc = SCD_EXIT_FAILURE_RUN;
        goto out;
    }
    if (scd_cluster_new(&app, &app.cluster, &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "main", "cluster: %s", err.message);
        rc = SCD_EXIT_BAD_CONFIG;
        goto out;
    }
    scd_log(SCD_LOG_INFO, "main", "scriptd %s: config %s, API on %s%s%s", SCRIPTD_VERSION,
            o->config_path,
            scd_http_tcp_address(app.http)[0] ? scd_http_tcp_address(app.http) : "-",
            cfg->server.unix_socket[0] ? " and " : "", cfg->server.unix_socket);
    guint sig_ids[3] = {g_unix_signal_add(SIGHUP, on_sighup, &app),
                        g_unix_signal_add(SIGTERM, on_sigterm, &app),
                        g_unix_signal_add(SIGINT, on_sigterm, &app)};
    app.ready_timer = g_timeout_add_seconds(READY_TIMEOUT_S, ready_timeout, &app);
    /* With a cluster, the streams this node runs come from its leases (cluster.h). */
    if (!app.cluster)
        scd_streams_apply(app.streams, app.cfg);
    scd_app_changed(&app);
    g_main_loop_run(app.loop);

    if (app.exit_when_done && o->summary_json)
        scd_print_summary_json(&app, stdout);
    else if (app.exit_when_done)
        scd_print_summary(&app, stdout);
    if (app.exit_when_done) {
        /* A run whose output is missing or incomplete is not a success for the caller. */
        GString *why = g_string_new(NULL);
        if (scd_streams_any_unhealthy(app.streams, why)) {
            scd_log(SCD_LOG_ERROR, "main", "not every stream completed: %s", why->str);
            rc = SCD_EXIT_FAILURE_RUN;
        }
        g_string_free(why, TRUE);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sig_ids); i++)
        g_source_remove(sig_ids[i]);
    if (app.ready_timer)
        g_source_remove(app.ready_timer);
    if (app.drain_timer)
        g_source_remove(app.drain_timer);
out:
    scd_streams_free(app.streams);
    scd_cluster_free(app.cluster); /* after the streams: their leases go once they stopped */
    scd_jobs_free(app.jobs);
    scd_mllm_free(app.mllm); /* asks in flight end (cancelled) in the iterations below */
    scd_http_free(app.http);
    /* Deliveries to follow clients and finished HTTP exchanges still queued: let them run. */
    for (int i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++)
        ;
    scd_notify_free(app.notify);
    scd_encoders_free(app.encoders);
    scd_metric_families_free(app.m);
    if (app.loop)
        g_main_loop_unref(app.loop);
    remove_work_dir(app.work_dir);
    g_free(app.work_dir);
    g_free(app.token);
    scd_config_ref_release(app.cfg);
    if (rc == SCD_EXIT_OK)
        scd_log(SCD_LOG_INFO, "main", "stopped");
    return rc;
}
