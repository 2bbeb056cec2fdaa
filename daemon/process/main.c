/* scriptd: the visual-token pruning daemon.
 *
 *   scriptd --config FILE [--exit-when-done] [--ready-file PATH]   run
 *   scriptd --check -c FILE          validate the config and exit (0 ok, 2 invalid)
 *   scriptd --print-config [-c FILE] the effective config with every key
 *   scriptd --config-reference       the reference of every key (Markdown)
 *
 * One GLib main loop runs everything that is not a streaming thread: the GStreamer bus watches,
 * the HTTP server, the signal handlers, the sd_notify timers. */
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "config/config.h"
#include "http/http.h"
#include "runtime/jobs.h"
#include "telemetry/log.h"
#include "process/notify.h"
#include "runtime/query.h"
#include "process/reload.h"
#include "runtime/runner.h"
#include "scriptprune/select.h"
#include "runtime/sinks.h"
#include "runtime/streams.h"
#include "runtime/summary.h"

#ifndef SCRIPTD_DEFAULT_CONFIG
#define SCRIPTD_DEFAULT_CONFIG "/etc/scriptd/scriptd.yaml"
#endif

enum {
    EXIT_OK = 0,
    EXIT_FAILURE_RUN = 1, /* could not start (listener, plugin) or failed at run time */
    EXIT_BAD_CONFIG = 2,  /* the config (or the command line) is invalid */
};

enum {
    DRAIN_TIMEOUT_MS = 3000, /* SIGTERM: streams get this long to drain; the process exits < 5 s */
    READY_TIMEOUT_S = 30,    /* READY=1 at the latest after this, with sources still starting */
};

typedef struct options {
    char *config;
    gboolean check, print_config, reference, version, exit_when_done, summary_json;
    char *ready_file;
} options;

/* ---- process state changes ------------------------------------------------------------------ */

char *scd_app_status_text(scd_app *app) {
    char *streams = scd_streams_status(app->streams);
    GString *g = g_string_new(streams);
    g_free(streams);
    if (!scd_jobs_idle(app->jobs))
        g_string_append(g, "; jobs running");
    const char *addr = app->http ? scd_http_tcp_address(app->http) : "";
    if (addr[0])
        g_string_append_printf(g, "; API on %s", addr);
    const char *sock = scd_app_config(app)->server.unix_socket;
    if (sock[0])
        g_string_append_printf(g, "%s%s", addr[0] ? " and " : "; API on ", sock);
    return g_string_free(g, FALSE);
}

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

void scd_app_changed(scd_app *app) {
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

static void ffmpeg_log(void *avcl, int level, const char *fmt, va_list ap) {
    (void)avcl;
    if (level > av_log_get_level())
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n)
        scd_log(SCD_LOG_DEBUG, "ffmpeg", "%s", line);
}

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

static int run(const options *o, scd_config *cfg) {
    scd_app app = {0};
    int rc = EXIT_OK;
    app.started_us = g_get_monotonic_time();
    app.config_path = o->config;
    app.exit_when_done = o->exit_when_done;
    app.ready_file = o->ready_file;
    app.cfg = scd_cfgref_new(cfg);
    sp_error err;
    if (cfg->server.token_file[0] &&
        scd_read_token_file(cfg->server.token_file, &app.token, &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "main", "%s", err.message);
        scd_cfgref_release(app.cfg);
        return EXIT_BAD_CONFIG;
    }
    if (o->exit_when_done && refuse_endless_sources(cfg)) {
        g_free(app.token);
        scd_cfgref_release(app.cfg);
        return EXIT_BAD_CONFIG;
    }
    remove_stale_temp_files(cfg, o->ready_file);
    if (cfg->server.blas_threads > 0)
        sp_blas_set_threads(cfg->server.blas_threads);
    if (!find_plugin()) {
        scd_log(SCD_LOG_ERROR, "main",
                "the GStreamer plugin 'scriptprune' is not installed: install scriptd, or set "
                "GST_PLUGIN_PATH_1_0 to the build's gst-plugin directory");
        rc = EXIT_FAILURE_RUN;
        goto out;
    }
    app.work_dir = make_work_dir();
    if (!app.work_dir) {
        rc = EXIT_FAILURE_RUN;
        goto out;
    }
    app.loop = g_main_loop_new(NULL, FALSE);
    app.m = scd_dmetrics_new();
    const char *ver[] = {SCRIPTD_VERSION};
    scd_mg_set(app.m->build_info, ver, 1);
    app.encoders = scd_encoders_new();
    app.streams = scd_streams_new(&app);
    app.jobs = scd_jobs_new(&app);
    app.notify = scd_notify_new(&app);
    if (scd_http_new(&app, &app.http, &err) != SP_OK) {
        scd_log(SCD_LOG_ERROR, "main", "%s", err.message);
        rc = EXIT_FAILURE_RUN;
        goto out;
    }
    scd_log(SCD_LOG_INFO, "main", "scriptd %s: config %s, API on %s%s%s", SCRIPTD_VERSION,
            o->config, scd_http_tcp_address(app.http)[0] ? scd_http_tcp_address(app.http) : "-",
            cfg->server.unix_socket[0] ? " and " : "", cfg->server.unix_socket);
    guint sig_ids[3] = {g_unix_signal_add(SIGHUP, on_sighup, &app),
                        g_unix_signal_add(SIGTERM, on_sigterm, &app),
                        g_unix_signal_add(SIGINT, on_sigterm, &app)};
    app.ready_timer = g_timeout_add_seconds(READY_TIMEOUT_S, ready_timeout, &app);
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
            rc = EXIT_FAILURE_RUN;
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
    scd_jobs_free(app.jobs);
    scd_http_free(app.http);
    /* Deliveries to follow clients and finished HTTP exchanges still queued: let them run. */
    for (int i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++)
        ;
    scd_notify_free(app.notify);
    scd_encoders_free(app.encoders);
    scd_dmetrics_free(app.m);
    if (app.loop)
        g_main_loop_unref(app.loop);
    remove_work_dir(app.work_dir);
    g_free(app.work_dir);
    g_free(app.token);
    scd_cfgref_release(app.cfg);
    if (rc == EXIT_OK)
        scd_log(SCD_LOG_INFO, "main", "stopped");
    return rc;
}

/* ---- command line --------------------------------------------------------------------------- */

static scd_config *load_or_report(const char *path) {
    scd_config *cfg = NULL;
    scd_config_error e;
    if (scd_config_load_file(path, &cfg, &e) != SP_OK) {
        fprintf(stderr, "%s\n", e.message);
        return NULL;
    }
    return cfg;
}

/* --check: what the reader checks, plus what needs more than the file: the files it names (video
 * files, query images and embeddings, model folders, the token file) and `pipeline:`
 * descriptions (parsed by GStreamer, not run). */
static int check_config(const char *path, const scd_config *cfg) {
    int rc = EXIT_OK;
    /* The files it names: missing or unreadable ones are reported at their key. */
    char *text = NULL;
    gsize len = 0;
    GString *problems = g_string_new(NULL);
    if (g_file_get_contents(path, &text, &len, NULL) &&
        scd_config_check_files(cfg, text, len, problems) > 0) {
        fputs(problems->str, stderr);
        rc = EXIT_BAD_CONFIG;
    }
    g_string_free(problems, TRUE);
    g_free(text);
    /* A token file that is there but holds no usable token. */
    char *token = NULL;
    sp_error err;
    if (rc == EXIT_OK && cfg->server.token_file[0] &&
        scd_read_token_file(cfg->server.token_file, &token, &err) != SP_OK) {
        fprintf(stderr, "%s: %s\n", path, err.message);
        rc = EXIT_BAD_CONFIG;
    }
    g_free(token);
    for (size_t i = 0; i < cfg->n_streams; i++) {
        const scd_stream_cfg *sc = &cfg->streams[i];
        if (sc->source_kind != SCD_SOURCE_PIPELINE)
            continue;
        if (!gst_is_initialized())
            gst_init(NULL, NULL);
        GError *gerr = NULL;
        GstElement *bin = scd_parse_user_pipeline(sc->pipeline, &gerr);
        if (!bin || gerr) {
            fprintf(stderr, "%s: streams[%zu] '%s': pipeline does not parse: %s\n", path, i, sc->id,
                    gerr ? gerr->message : "unknown error");
            rc = EXIT_BAD_CONFIG;
        }
        if (bin)
            gst_object_unref(bin);
        g_clear_error(&gerr);
    }
    if (rc == EXIT_OK)
        printf("%s: valid (%zu stream%s)\n", path, cfg->n_streams, cfg->n_streams == 1 ? "" : "s");
    return rc;
}

int main(int argc, char **argv) {
    options o = {0};
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config,
         "Configuration file (default " SCRIPTD_DEFAULT_CONFIG ")", "FILE"},
        {"check", 0, 0, G_OPTION_ARG_NONE, &o.check,
         "Validate the configuration and exit: 0 when valid, 2 with the error's file:line:col",
         NULL},
        {"print-config", 0, 0, G_OPTION_ARG_NONE, &o.print_config,
         "Print the effective configuration (every key, defaults merged) and exit", NULL},
        {"config-reference", 0, 0, G_OPTION_ARG_NONE, &o.reference,
         "Print the reference of every configuration key (Markdown) and exit", NULL},
        {"exit-when-done", 0, 0, G_OPTION_ARG_NONE, &o.exit_when_done,
         "Exit once every stream's source has ended (files, finite pipelines) and no job is "
         "running, printing a summary of what each stream did; exit status 1 when a stream "
         "failed, produced no frame or skipped damaged data. Refused (status 2) when a source "
         "never ends (a live uri or pipeline)",
         NULL},
        {"summary-json", 0, 0, G_OPTION_ARG_NONE, &o.summary_json,
         "With --exit-when-done: print the summary as JSON Lines (one stream object a line)", NULL},
        {"ready-file", 0, 0, G_OPTION_ARG_FILENAME, &o.ready_file,
         "When ready, write a JSON object with the pid and the bound address and port to PATH",
         "PATH"},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &o.version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- prune the visual tokens of video streams");
    g_option_context_set_summary(
        ctx, "scriptd runs the Script token selection (GSP + QCSP) over live and recorded video "
             "and serves the pruned tokens over HTTP, sockets and files.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *gerr = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "scriptd: %s (see --help)\n", gerr->message);
        g_error_free(gerr);
        g_option_context_free(ctx);
        return EXIT_BAD_CONFIG;
    }
    g_option_context_free(ctx);
    int rc = EXIT_OK;
    if (argc > 1) {
        fprintf(stderr, "scriptd: unexpected argument '%s' (see --help)\n", argv[1]);
        rc = EXIT_BAD_CONFIG;
        goto done;
    }
    if (o.version) {
        printf("scriptd %s\n", SCRIPTD_VERSION);
        goto done;
    }
    if (o.reference) {
        char *md = scd_config_reference_markdown();
        fputs(md, stdout);
        g_free(md);
        goto done;
    }
    if (!o.config)
        o.config = g_strdup(SCRIPTD_DEFAULT_CONFIG);
    scd_config *cfg = load_or_report(o.config);
    if (!cfg) {
        rc = EXIT_BAD_CONFIG;
        goto done;
    }
    if (o.print_config || o.check) {
        if (o.print_config) {
            char *yaml = scd_config_to_yaml(cfg);
            fputs(yaml, stdout);
            g_free(yaml);
        } else {
            rc = check_config(o.config, cfg);
        }
        scd_config_free(cfg);
        goto done;
    }
    scd_apply_log_settings(cfg);
    gst_init(NULL, NULL);
    /* FFmpeg's own messages: at debug level only, through our logger. */
    av_log_set_level(scd_log_enabled(SCD_LOG_DEBUG) ? AV_LOG_WARNING : AV_LOG_QUIET);
    av_log_set_callback(ffmpeg_log);
    rc = run(&o, cfg); /* takes cfg */
    gst_deinit();
done:
    g_free(o.config);
    g_free(o.ready_file);
    return rc;
}
