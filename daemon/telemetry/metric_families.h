/* scriptd's metric families, declared once at start and updated by streams, jobs and the HTTP
 * server. Names and meanings are listed in the README (section "HTTP API", /metrics).
 *
 * Counters only grow for the life of the process (a stream restart does not reset them); gauges
 * are refreshed just before each scrape. Thread-safe (the registry's mutex). */
#ifndef SCRIPTD_METRIC_FAMILIES_H
#define SCRIPTD_METRIC_FAMILIES_H

#include <glib.h>

#include "telemetry/metrics_text.h"

typedef struct scd_metric_families {
    scd_metrics *reg;
    /* per stream: label "stream" */
    scd_metric *frames_seen;    /* decoded frames that entered the pipeline tail */
    scd_metric *frames;         /* sampled frames encoded and pruned */
    scd_metric *frames_encoded; /* of those, frames the vision encoder ran on */
    scd_metric *frames_skipped; /* ... and frames the change gate skipped (last tokens again) */
    scd_metric *tokens_in;      /* tokens of those frames */
    scd_metric *tokens_out;     /* tokens in emitted packets */
    scd_metric *packets;        /* emitted packets */
    scd_metric *drops;          /* + label "reason": temporal, spatial */
    scd_metric *select_seconds; /* histogram: selection time per emitted packet */
    scd_metric *restarts;       /* source restarts after a failure */
    scd_metric *source_errors;  /* failures (pipeline errors, source drops) */
    scd_metric *stream_up;      /* gauge: 1 while PLAYING */
    scd_metric *queue_depth;    /* gauge, + label "queue": buffers waiting in a branch queue */
    scd_metric *history_bytes;  /* gauge: bytes of history held by scriptprune */
    scd_metric *sink_written;   /* + label "sink": packets written by a daemon or scriptsink sink */
    scd_metric *sink_dropped;   /* + label "sink": packets a sink dropped */
    scd_metric *sink_reconnects;  /* + label "sink": scriptsink reconnection attempts */
    scd_metric *sink_errors;      /* + label "sink": write failures of daemon sinks */
    scd_metric *sink_queue_bytes; /* gauge, + label "sink": broker sinks' queued bytes */
    scd_metric *sink_connected;   /* gauge, + label "sink": 1 while a broker sink is connected */
    scd_metric *sink_failures;    /* + labels "sink", "reason": broker sinks' failures */
    scd_metric *follow_clients;   /* gauge */
    scd_metric *follow_dropped;   /* clients disconnected for falling behind */
    scd_metric *follow_bytes;     /* gauge: bytes queued for follow clients */
    scd_metric *queries;          /* queries applied (config, HTTP) */
    /* standing questions (runtime/watch.h): labels "stream", "watch" (its index in the list) */
    scd_metric *watch_asked;    /* chat requests sent */
    scd_metric *watch_answered; /* answers received */
    scd_metric *watch_failed;   /* + label "reason": upstream_error, upstream_timeout, local */
    scd_metric *watch_skipped;  /* due while the previous one was still in flight */
    /* process */
    scd_metric *http_requests; /* labels "route", "status" */
    scd_metric *jobs;          /* gauge, label "state" */
    scd_metric *jobs_total;    /* counter, label "result": done, failed, cancelled */
    scd_metric *reloads;       /* counter, label "result": ok, rejected */
    scd_metric *watchdog_pings;
    scd_metric *watchdog_skipped; /* ticks without a ping because a stream stalled */
    scd_metric *build_info;       /* gauge 1, label "version" */
} scd_metric_families;

scd_metric_families *scd_metric_families_new(void);
void scd_metric_families_free(scd_metric_families *m);

/* Shorthands that ignore errors: the families are declared here with the labels the callers
 * pass, so a failure would be a programming error (logged once by the caller's tests). */
void scd_metric_counter_add(scd_metric *m, const char *const *labels, double delta);
void scd_metric_gauge_set(scd_metric *m, const char *const *labels, double value);
void scd_metric_histogram_observe(scd_metric *m, const char *const *labels, double value);

#endif
