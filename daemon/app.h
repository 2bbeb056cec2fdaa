/* The daemon's process state, shared by its parts (streams, jobs, HTTP API, notify, reload).
 *
 * Threads: everything here belongs to the main thread (the GLib main loop that also runs the
 * GStreamer bus watches and the HTTP server), except the metrics registry, which has its own
 * mutex. Streaming threads never touch scd_app; they reach their own stream or job object only.
 *
 * Configs are shared by reference: a running stream keeps the config it was started from (its
 * scd_stream_cfg lives inside it) while a reload installs a new one, so a config is freed when
 * its last user lets go.
 *
 * Memory: the daemon allocates with GLib (g_new, g_strdup, ...), which aborts the process when
 * memory runs out; that is the policy (systemd restarts the service), so those calls are not
 * checked one by one. Allocations of core (sp_*) and FFmpeg are checked and reported. */
#ifndef SCRIPTD_APP_H
#define SCRIPTD_APP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/config_ref.h"
#include "telemetry/metric_families.h"

typedef struct scd_streams scd_streams;
typedef struct scd_jobs scd_jobs;
typedef struct scd_http scd_http;
typedef struct scd_notify scd_notify;
typedef struct scd_encoders scd_encoders;
typedef struct scd_cluster scd_cluster;

typedef struct scd_app scd_app;
struct scd_app {
    GMainLoop *loop;
    char *config_path;      /* as given on the command line */
    scd_config_ref *cfg;    /* the config in force */
    scd_metric_families *m; /* the metric families (and their registry) */
    scd_encoders *encoders;
    scd_streams *streams;
    scd_jobs *jobs;
    scd_http *http;
    scd_notify *notify;
    scd_cluster *cluster;  /* NULL: this node runs every configured stream (cluster.h) */
    struct scd_mllm *mllm; /* the MLLM client of `ask` (runtime/mllm_client.h) */
    char *token;           /* bearer token from server.token_file, NULL = no authentication */
    char *work_dir;        /* private directory: uploaded exemplars, query files for elements */
    char *ready_file;      /* --ready-file */
    bool exit_when_done;   /* --exit-when-done */
    bool stopping;         /* SIGTERM/SIGINT received: draining */
    bool ready_sent;       /* READY=1 sent once */
    int exit_status;
    int64_t started_us; /* g_get_monotonic_time() at start */
    guint ready_timer;  /* READY at the latest (process/service.c) */
    guint drain_timer;  /* SIGTERM drain deadline (process/service.c) */
    /* What scd_app_changed() calls: set by the process (process/service.c), which drives the
     * streams and jobs that report here; a pointer, so that they do not call up into it. */
    void (*changed)(scd_app *app);
};

/* The config in force (borrowed; valid until the next reload returns to the main loop). */
static inline const scd_config *scd_app_config(const scd_app *app) {
    return app->cfg->cfg;
}

/* Called by streams and jobs when something the process-level logic waits for happened (a stream
 * settled, finished or failed; a job ended): READY, STATUS and --exit-when-done are reconsidered.
 * Main thread. Calls app->changed when set (app.c). */
void scd_app_changed(scd_app *app);

#endif
