/* The daemon's `redis:` sinks (redis_sink.h): a Redis Streams broker sink made from a stream's
 * config, whose counters become the sink_* metrics and whose log lines go to the journal. */
#include "broker/redis_sink.h"

#include "broker/redis_stream.h"
#include "telemetry/log.h"

/* What one sink's hooks need: the metric families and the labels of its series. */
typedef struct metrics_hook {
    scd_metric_families *m;
    char *stream, *label;
} metrics_hook;

static void on_count(void *user, scd_broker_count what, const char *reason, uint64_t n) {
    metrics_hook *h = user;
    scd_metric_families *m = h->m;
    const char *l[] = {h->stream, h->label, reason};
    double v = (double)n;
    switch (what) {
        case SCD_BROKER_COUNT_SENT:
            scd_metric_counter_add(m->sink_written, l, v);
            break;
        case SCD_BROKER_COUNT_DROPPED:
            scd_metric_counter_add(m->sink_dropped, l, v);
            break;
        case SCD_BROKER_COUNT_RECONNECTS:
            scd_metric_counter_add(m->sink_reconnects, l, v);
            break;
        case SCD_BROKER_COUNT_ERRORS:
            scd_metric_counter_add(m->sink_errors, l, v);
            break;
        case SCD_BROKER_COUNT_FAILURES:
            scd_metric_counter_add(m->sink_failures, l, v);
            break;
        case SCD_BROKER_GAUGE_CONNECTED:
            scd_metric_gauge_set(m->sink_connected, l, v);
            break;
        case SCD_BROKER_GAUGE_QUEUE_BYTES:
            scd_metric_gauge_set(m->sink_queue_bytes, l, v);
            break;
        case SCD_BROKER_COUNT_KINDS:
            break;
    }
}

static void on_log(void *user, scd_broker_log_level level, const char *message) {
    (void)user;
    scd_log(level == SCD_BROKER_LOG_WARNING ? SCD_LOG_WARNING
            : level == SCD_BROKER_LOG_INFO  ? SCD_LOG_INFO
                                            : SCD_LOG_DEBUG,
            "sink", "%s", message);
}

struct scd_redis_sink {
    scd_broker_sink *broker;
    metrics_hook hook;
};

sp_status scd_redis_sink_new(const char *stream, const char *label, const scd_sink_cfg *cfg,
                             scd_metric_families *m, scd_redis_sink **out, sp_error *err) {
    *out = NULL;
    const scd_broker_ops *ops = NULL;
    void *impl = NULL;
    sp_status st = scd_redis_stream_new(stream, cfg->redis, cfg->password_file, cfg->key,
                                        cfg->maxlen, &ops, &impl, err);
    if (st != SP_OK)
        return st;
    scd_redis_sink *r = g_new0(scd_redis_sink, 1);
    r->hook = (metrics_hook){m, g_strdup(stream), g_strdup(label)};
    scd_broker_hooks hooks = {on_count, on_log, &r->hook};
    r->broker =
        scd_broker_sink_new(stream, label, ops, impl, cfg->queue_bytes,
                            cfg->dtype == SCD_WIRE_F16 ? SP_DTYPE_F16 : SP_DTYPE_F32, &hooks);
    *out = r;
    return SP_OK;
}

scd_broker_sink *scd_redis_sink_broker(scd_redis_sink *r) {
    return r->broker;
}

void scd_redis_sink_free(scd_redis_sink *r, unsigned flush_ms) {
    if (!r)
        return;
    scd_broker_sink_free(r->broker, flush_ms);
    g_free(r->hook.stream);
    g_free(r->hook.label);
    g_free(r);
}
