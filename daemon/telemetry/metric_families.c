/* Declaration of scriptd's metric families: one table, registered in its order (the order of
 * /metrics). */
#include "telemetry/metric_families.h"

#include <stddef.h>

#include "telemetry/log.h"

static scd_metric *add(scd_metrics *reg, scd_metric_type type, const char *name, const char *help,
                       const char *const *labels, size_t n_labels, const double *bounds,
                       size_t n_bounds) {
    scd_metric *m = NULL;
    sp_error err;
    if (scd_metrics_add(reg, type, name, help, labels, n_labels, bounds, n_bounds, &m, &err) !=
        SP_OK)
        g_error("metrics: %s", err.message); /* a bad declaration here is a bug, not a state */
    return m;
}

static const char *const by_stream[] = {"stream"};
static const char *const by_stream_reason[] = {"stream", "reason"};
static const char *const by_stream_queue[] = {"stream", "queue"};
static const char *const by_stream_sink[] = {"stream", "sink"};
static const char *const by_stream_sink_reason[] = {"stream", "sink", "reason"};
static const char *const by_stream_watch[] = {"stream", "watch"};
static const char *const by_stream_watch_reason[] = {"stream", "watch", "reason"};
static const char *const by_route_status[] = {"route", "status"};
static const char *const by_state[] = {"state"};
static const char *const by_result[] = {"result"};
static const char *const by_version[] = {"version"};
/* 100 us .. 10 s: a window's selection ranges from well under a millisecond (patch tokens,
 * small budgets) to seconds (large windows of CLIP tokens on a slow CPU). */
static const double selection_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                          0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                          1,      2.5,     5,      10};

#define LABELS(a) (a), G_N_ELEMENTS(a)
#define NO_LABELS NULL, 0
#define BOUNDS(a) (a), G_N_ELEMENTS(a)
#define NO_BOUNDS NULL, 0

/* One family: where scd_metric_families keeps it, and how it is declared. */
typedef struct family_decl {
    size_t field; /* offsetof(scd_metric_families, ...) */
    scd_metric_type type;
    const char *name, *help;
    const char *const *labels;
    size_t n_labels;
    const double *bounds;
    size_t n_bounds;
} family_decl;

static const family_decl families[] = {
    {offsetof(scd_metric_families, frames_seen), SCD_METRIC_COUNTER, "scriptd_frames_seen_total",
     "Decoded frames that reached the stream's sampling stage", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, frames), SCD_METRIC_COUNTER, "scriptd_frames_total",
     "Sampled frames encoded into tokens and pruned", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, frames_encoded), SCD_METRIC_COUNTER,
     "scriptd_frames_encoded_total", "Sampled frames the vision encoder ran on", LABELS(by_stream),
     NO_BOUNDS},
    {offsetof(scd_metric_families, frames_skipped), SCD_METRIC_COUNTER,
     "scriptd_frames_skipped_total",
     "Sampled frames the change gate found unchanged since the last encoded one: the encoder "
     "did not run and the last tokens were sent to the stream again",
     LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, tokens_in), SCD_METRIC_COUNTER, "scriptd_tokens_in_total",
     "Tokens produced by the vision encoder", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, tokens_out), SCD_METRIC_COUNTER, "scriptd_tokens_out_total",
     "Tokens in emitted packets (what the MLLM receives)", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, packets), SCD_METRIC_COUNTER, "scriptd_packets_total",
     "Packets emitted", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, drops), SCD_METRIC_COUNTER, "scriptd_tokens_dropped_total",
     "Tokens dropped before selection, by reason: temporal (an earlier kept token represents it) "
     "or spatial (GSP)",
     LABELS(by_stream_reason), NO_BOUNDS},
    {offsetof(scd_metric_families, select_seconds), SCD_METRIC_HISTOGRAM,
     "scriptd_selection_seconds",
     "Time scriptprune spent selecting (temporal graph, GSP, QCSP) for one emitted packet",
     LABELS(by_stream), BOUNDS(selection_bounds)},
    {offsetof(scd_metric_families, restarts), SCD_METRIC_COUNTER, "scriptd_source_restarts_total",
     "Times a failed source was started again (reconnects)", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, source_errors), SCD_METRIC_COUNTER,
     "scriptd_source_errors_total",
     "Source failures: pipeline errors, dropped or ended live sources", LABELS(by_stream),
     NO_BOUNDS},
    {offsetof(scd_metric_families, stream_up), SCD_METRIC_GAUGE, "scriptd_stream_up",
     "1 while the stream's pipeline is PLAYING", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, queue_depth), SCD_METRIC_GAUGE, "scriptd_queue_depth_buffers",
     "Buffers waiting in a branch queue of the stream's pipeline", LABELS(by_stream_queue),
     NO_BOUNDS},
    {offsetof(scd_metric_families, history_bytes), SCD_METRIC_GAUGE, "scriptd_history_bytes",
     "Bytes of past candidates scriptprune keeps for queries and /tokens", LABELS(by_stream),
     NO_BOUNDS},
    {offsetof(scd_metric_families, sink_written), SCD_METRIC_COUNTER,
     "scriptd_sink_packets_written_total", "Packets written by a sink", LABELS(by_stream_sink),
     NO_BOUNDS},
    {offsetof(scd_metric_families, sink_dropped), SCD_METRIC_COUNTER,
     "scriptd_sink_packets_dropped_total", "Packets a sink dropped (full queue, unreachable peer)",
     LABELS(by_stream_sink), NO_BOUNDS},
    {offsetof(scd_metric_families, sink_reconnects), SCD_METRIC_COUNTER,
     "scriptd_sink_reconnects_total",
     "Connection attempts of a scriptsink after a refusal or a loss", LABELS(by_stream_sink),
     NO_BOUNDS},
    {offsetof(scd_metric_families, sink_errors), SCD_METRIC_COUNTER, "scriptd_sink_errors_total",
     "Packets a daemon sink failed to write", LABELS(by_stream_sink), NO_BOUNDS},
    {offsetof(scd_metric_families, sink_queue_bytes), SCD_METRIC_GAUGE, "scriptd_sink_queue_bytes",
     "Bytes of packets a broker sink holds, waiting or in flight", LABELS(by_stream_sink),
     NO_BOUNDS},
    {offsetof(scd_metric_families, sink_connected), SCD_METRIC_GAUGE, "scriptd_sink_connected",
     "1 while a broker sink is connected to its broker", LABELS(by_stream_sink), NO_BOUNDS},
    {offsetof(scd_metric_families, sink_failures), SCD_METRIC_COUNTER,
     "scriptd_sink_failures_total",
     "Failures of a broker sink by reason: refused, auth, timeout, oom, io, rejected (the last "
     "one is in /v1/streams)",
     LABELS(by_stream_sink_reason), NO_BOUNDS},
    {offsetof(scd_metric_families, follow_clients), SCD_METRIC_GAUGE, "scriptd_follow_clients",
     "Clients of GET /v1/streams/{id}/follow", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, follow_dropped), SCD_METRIC_COUNTER,
     "scriptd_follow_dropped_clients_total",
     "Follow clients disconnected because they fell too far behind", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, follow_bytes), SCD_METRIC_GAUGE, "scriptd_follow_queued_bytes",
     "Bytes queued for follow clients, not yet sent", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, queries), SCD_METRIC_COUNTER, "scriptd_queries_total",
     "Queries applied to the stream", LABELS(by_stream), NO_BOUNDS},
    {offsetof(scd_metric_families, watch_asked), SCD_METRIC_COUNTER, "scriptd_watch_asked_total",
     "Standing questions sent to the MLLM (watch: index in streams[].watch)",
     LABELS(by_stream_watch), NO_BOUNDS},
    {offsetof(scd_metric_families, watch_answered), SCD_METRIC_COUNTER,
     "scriptd_watch_answered_total", "Standing questions the MLLM answered",
     LABELS(by_stream_watch), NO_BOUNDS},
    {offsetof(scd_metric_families, watch_failed), SCD_METRIC_COUNTER, "scriptd_watch_failed_total",
     "Standing questions without an answer, by reason: upstream_error, upstream_timeout, local",
     LABELS(by_stream_watch_reason), NO_BOUNDS},
    {offsetof(scd_metric_families, watch_skipped), SCD_METRIC_COUNTER,
     "scriptd_watch_skipped_total",
     "Standing questions not asked because the previous one was still awaiting its answer",
     LABELS(by_stream_watch), NO_BOUNDS},
    {offsetof(scd_metric_families, http_requests), SCD_METRIC_COUNTER,
     "scriptd_http_requests_total", "HTTP requests by route and status", LABELS(by_route_status),
     NO_BOUNDS},
    {offsetof(scd_metric_families, jobs), SCD_METRIC_GAUGE, "scriptd_jobs", "Jobs kept, by state",
     LABELS(by_state), NO_BOUNDS},
    {offsetof(scd_metric_families, jobs_total), SCD_METRIC_COUNTER, "scriptd_jobs_finished_total",
     "Jobs that ended, by result", LABELS(by_result), NO_BOUNDS},
    {offsetof(scd_metric_families, reloads), SCD_METRIC_COUNTER, "scriptd_reloads_total",
     "Configuration reloads (SIGHUP), by result", LABELS(by_result), NO_BOUNDS},
    {offsetof(scd_metric_families, watchdog_pings), SCD_METRIC_COUNTER,
     "scriptd_watchdog_pings_total", "WATCHDOG=1 notifications sent", NO_LABELS, NO_BOUNDS},
    {offsetof(scd_metric_families, watchdog_skipped), SCD_METRIC_COUNTER,
     "scriptd_watchdog_skipped_total",
     "Watchdog ticks without a ping because a stream did not advance", NO_LABELS, NO_BOUNDS},
    {offsetof(scd_metric_families, build_info), SCD_METRIC_GAUGE, "scriptd_build_info",
     "scriptd version", LABELS(by_version), NO_BOUNDS},
};
/* Every family of scd_metric_families (its registry, then only family pointers) is in the table. */
G_STATIC_ASSERT(G_N_ELEMENTS(families) ==
                (sizeof(scd_metric_families) - sizeof(scd_metrics *)) / sizeof(scd_metric *));

scd_metric_families *scd_metric_families_new(void) {
    scd_metric_families *m = g_new0(scd_metric_families, 1);
    m->reg = scd_metrics_new();
    for (size_t i = 0; i < G_N_ELEMENTS(families); i++) {
        const family_decl *f = &families[i];
        scd_metric **slot = (scd_metric **)((char *)m + f->field);
        *slot =
            add(m->reg, f->type, f->name, f->help, f->labels, f->n_labels, f->bounds, f->n_bounds);
    }
    return m;
}

void scd_metric_families_free(scd_metric_families *m) {
    if (!m)
        return;
    scd_metrics_free(m->reg);
    g_free(m);
}

void scd_metric_counter_add(scd_metric *m, const char *const *labels, double delta) {
    sp_error err;
    if (scd_metric_inc(m, labels, delta, &err) != SP_OK)
        scd_log(SCD_LOG_WARNING, "metrics", "%s", err.message);
}

void scd_metric_gauge_set(scd_metric *m, const char *const *labels, double value) {
    sp_error err;
    if (scd_metric_set(m, labels, value, &err) != SP_OK)
        scd_log(SCD_LOG_WARNING, "metrics", "%s", err.message);
}

void scd_metric_histogram_observe(scd_metric *m, const char *const *labels, double value) {
    sp_error err;
    if (scd_metric_observe(m, labels, value, &err) != SP_OK)
        scd_log(SCD_LOG_WARNING, "metrics", "%s", err.message);
}
