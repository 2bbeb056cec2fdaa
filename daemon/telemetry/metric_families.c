/* Declaration of scriptd's metric families. */
#include "telemetry/metric_families.h"

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

scd_metric_families *scd_metric_families_new(void) {
    scd_metric_families *m = g_new0(scd_metric_families, 1);
    scd_metrics *r = m->reg = scd_metrics_new();
    static const char *const s[] = {"stream"};
    static const char *const sr[] = {"stream", "reason"};
    static const char *const sq[] = {"stream", "queue"};
    static const char *const ss[] = {"stream", "sink"};
    static const char *const rs[] = {"route", "status"};
    static const char *const st[] = {"state"};
    static const char *const res[] = {"result"};
    static const char *const ver[] = {"version"};
    /* 100 us .. 10 s: a window's selection ranges from well under a millisecond (patch tokens,
     * small budgets) to seconds (large windows of CLIP tokens on a slow CPU). */
    static const double sel[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
    m->frames_seen = add(r, SCD_METRIC_COUNTER, "scriptd_frames_seen_total",
                         "Decoded frames that reached the stream's sampling stage", s, 1, NULL, 0);
    m->frames = add(r, SCD_METRIC_COUNTER, "scriptd_frames_total",
                    "Sampled frames encoded into tokens and pruned", s, 1, NULL, 0);
    m->tokens_in = add(r, SCD_METRIC_COUNTER, "scriptd_tokens_in_total",
                       "Tokens produced by the vision encoder", s, 1, NULL, 0);
    m->tokens_out = add(r, SCD_METRIC_COUNTER, "scriptd_tokens_out_total",
                        "Tokens in emitted packets (what the MLLM receives)", s, 1, NULL, 0);
    m->packets =
        add(r, SCD_METRIC_COUNTER, "scriptd_packets_total", "Packets emitted", s, 1, NULL, 0);
    m->drops = add(r, SCD_METRIC_COUNTER, "scriptd_tokens_dropped_total",
                   "Tokens dropped before selection, by reason: temporal (an earlier kept token "
                   "represents it) or spatial (GSP)",
                   sr, 2, NULL, 0);
    m->select_seconds = add(r, SCD_METRIC_HISTOGRAM, "scriptd_selection_seconds",
                            "Time scriptprune spent selecting (temporal graph, GSP, QCSP) for one "
                            "emitted packet",
                            s, 1, sel, G_N_ELEMENTS(sel));
    m->restarts = add(r, SCD_METRIC_COUNTER, "scriptd_source_restarts_total",
                      "Times a failed source was started again (reconnects)", s, 1, NULL, 0);
    m->source_errors =
        add(r, SCD_METRIC_COUNTER, "scriptd_source_errors_total",
            "Source failures: pipeline errors, dropped or ended live sources", s, 1, NULL, 0);
    m->stream_up = add(r, SCD_METRIC_GAUGE, "scriptd_stream_up",
                       "1 while the stream's pipeline is PLAYING", s, 1, NULL, 0);
    m->queue_depth =
        add(r, SCD_METRIC_GAUGE, "scriptd_queue_depth_buffers",
            "Buffers waiting in a branch queue of the stream's pipeline", sq, 2, NULL, 0);
    m->history_bytes =
        add(r, SCD_METRIC_GAUGE, "scriptd_history_bytes",
            "Bytes of past candidates scriptprune keeps for queries and /tokens", s, 1, NULL, 0);
    m->sink_written = add(r, SCD_METRIC_COUNTER, "scriptd_sink_packets_written_total",
                          "Packets written by a sink", ss, 2, NULL, 0);
    m->sink_dropped = add(r, SCD_METRIC_COUNTER, "scriptd_sink_packets_dropped_total",
                          "Packets a sink dropped (full queue, unreachable peer)", ss, 2, NULL, 0);
    m->sink_reconnects =
        add(r, SCD_METRIC_COUNTER, "scriptd_sink_reconnects_total",
            "Connection attempts of a scriptsink after a refusal or a loss", ss, 2, NULL, 0);
    m->sink_errors = add(r, SCD_METRIC_COUNTER, "scriptd_sink_errors_total",
                         "Packets a daemon sink failed to write", ss, 2, NULL, 0);
    m->follow_clients = add(r, SCD_METRIC_GAUGE, "scriptd_follow_clients",
                            "Clients of GET /v1/streams/{id}/follow", s, 1, NULL, 0);
    m->follow_dropped =
        add(r, SCD_METRIC_COUNTER, "scriptd_follow_dropped_clients_total",
            "Follow clients disconnected because they fell too far behind", s, 1, NULL, 0);
    m->follow_bytes = add(r, SCD_METRIC_GAUGE, "scriptd_follow_queued_bytes",
                          "Bytes queued for follow clients, not yet sent", s, 1, NULL, 0);
    m->queries = add(r, SCD_METRIC_COUNTER, "scriptd_queries_total",
                     "Queries applied to the stream", s, 1, NULL, 0);
    m->http_requests = add(r, SCD_METRIC_COUNTER, "scriptd_http_requests_total",
                           "HTTP requests by route and status", rs, 2, NULL, 0);
    m->jobs = add(r, SCD_METRIC_GAUGE, "scriptd_jobs", "Jobs kept, by state", st, 1, NULL, 0);
    m->jobs_total = add(r, SCD_METRIC_COUNTER, "scriptd_jobs_finished_total",
                        "Jobs that ended, by result", res, 1, NULL, 0);
    m->reloads = add(r, SCD_METRIC_COUNTER, "scriptd_reloads_total",
                     "Configuration reloads (SIGHUP), by result", res, 1, NULL, 0);
    m->watchdog_pings = add(r, SCD_METRIC_COUNTER, "scriptd_watchdog_pings_total",
                            "WATCHDOG=1 notifications sent", NULL, 0, NULL, 0);
    m->watchdog_skipped =
        add(r, SCD_METRIC_COUNTER, "scriptd_watchdog_skipped_total",
            "Watchdog ticks without a ping because a stream did not advance", NULL, 0, NULL, 0);
    m->build_info =
        add(r, SCD_METRIC_GAUGE, "scriptd_build_info", "scriptd version", ver, 1, NULL, 0);
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
