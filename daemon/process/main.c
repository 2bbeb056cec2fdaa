/* scriptd: the visual-token pruning daemon.
 *
 *   scriptd --config FILE [--exit-when-done] [--ready-file PATH]   run
 *   scriptd --check -c FILE          validate the config and exit (0 ok, 2 invalid)
 *   scriptd --print-config [-c FILE] the effective config with every key
 *   scriptd --config-reference       the reference of every key (Markdown)
 *
 * main() reads the command line and the config; process/service.c runs the daemon. */
#include <gst/gst.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "process/reload.h"
#include "process/service.h"
#include "runtime/runner.h"
#include "telemetry/log.h"

#ifndef SCRIPTD_DEFAULT_CONFIG
#define SCRIPTD_DEFAULT_CONFIG "/etc/scriptd/scriptd.yaml"
#endif

typedef struct options {
    char *config;
    gboolean check, print_config, reference, version, exit_when_done, summary_json;
    char *ready_file;
} options;

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
    int rc = SCD_EXIT_OK;
    /* The files it names: missing or unreadable ones are reported at their key. */
    char *text = NULL;
    gsize len = 0;
    GString *problems = g_string_new(NULL);
    if (g_file_get_contents(path, &text, &len, NULL) &&
        scd_config_check_files(cfg, text, len, problems) > 0) {
        fputs(problems->str, stderr);
        rc = SCD_EXIT_BAD_CONFIG;
    }
    g_string_free(problems, TRUE);
    g_free(text);
    /* A token file that is there but holds no usable token. */
    char *token = NULL;
    sp_error err;
    if (rc == SCD_EXIT_OK && cfg->server.token_file[0] &&
        scd_read_token_file(cfg->server.token_file, &token, &err) != SP_OK) {
        fprintf(stderr, "%s: %s\n", path, err.message);
        rc = SCD_EXIT_BAD_CONFIG;
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
            rc = SCD_EXIT_BAD_CONFIG;
        }
        if (bin)
            gst_object_unref(bin);
        g_clear_error(&gerr);
    }
    if (rc == SCD_EXIT_OK)
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
        return SCD_EXIT_BAD_CONFIG;
    }
    g_option_context_free(ctx);
    int rc = SCD_EXIT_OK;
    if (argc > 1) {
        fprintf(stderr, "scriptd: unexpected argument '%s' (see --help)\n", argv[1]);
        rc = SCD_EXIT_BAD_CONFIG;
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
        rc = SCD_EXIT_BAD_CONFIG;
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
    scd_run_options ro = {.config_path = o.config,
                          .ready_file = o.ready_file,
                          .exit_when_done = o.exit_when_done,
                          .summary_json = o.summary_json};
    rc = scd_service_run(&ro, cfg); /* takes cfg */
    gst_deinit();
done:
    g_free(o.config);
    g_free(o.ready_file);
    return rc;
}
