/* scriptsink's Redis Streams delivery (sinkredis.h). */
#include "sinkredis.h"

#include <string.h>

#ifdef SCRIPT_HAVE_REDIS
#include "broker/broker_sink.h"
#include "broker/redis_conn.h"
#include "broker/redis_stream.h"
#endif

GST_DEBUG_CATEGORY_EXTERN(gst_script_sink_debug);
#define GST_CAT_DEFAULT gst_script_sink_debug

#define REDIS_UNIX_SCHEME "redis+unix://"

gboolean sink_redis_location_is(const gchar *location) {
    return location && (g_str_has_prefix(location, "redis://") ||
                        g_str_has_prefix(location, REDIS_UNIX_SCHEME));
}

#ifdef SCRIPT_HAVE_REDIS

struct SinkRedis {
    gchar *url; /* as the broker's parser reads it: redis://... or unix://... */
    gchar *key_template, *password_file;
    guint64 maxlen, queue_bytes;
    sp_dtype dtype;
    SinkRedisCounters counters;
    scd_broker_sink *broker; /* NULL until the first packet, and after finish */
    guint sinks_made;        /* labels the broker sinks: redis0, redis1, ... */
};

static void add(const SinkRedisCounters *c, guint64 *counter, guint64 n) {
    GST_OBJECT_LOCK(c->owner);
    *counter += n;
    GST_OBJECT_UNLOCK(c->owner);
}

static void on_count(void *user, scd_broker_count what, const char *reason, uint64_t n) {
    (void)reason;
    SinkRedis *r = user;
    if (n == 0)
        return;
    if (what == SCD_BROKER_COUNT_SENT)
        add(&r->counters, r->counters.written, n);
    else if (what == SCD_BROKER_COUNT_DROPPED)
        add(&r->counters, r->counters.dropped, n);
    else if (what == SCD_BROKER_COUNT_RECONNECTS)
        add(&r->counters, r->counters.reconnects, n);
}

static void on_log(void *user, scd_broker_log_level level, const char *message) {
    SinkRedis *r = user;
    if (level == SCD_BROKER_LOG_WARNING)
        GST_WARNING_OBJECT(r->counters.owner, "%s", message);
    else if (level == SCD_BROKER_LOG_INFO)
        GST_INFO_OBJECT(r->counters.owner, "%s", message);
    else
        GST_DEBUG_OBJECT(r->counters.owner, "%s", message);
}

SinkRedis *sink_redis_new(const gchar *location, const gchar *key_template, guint64 maxlen,
                          const gchar *password_file, guint64 queue_bytes, sp_dtype dtype,
                          const SinkRedisCounters *counters, gchar **msg) {
    gchar *url = g_str_has_prefix(location, REDIS_UNIX_SCHEME)
                     ? g_strconcat("unix://", location + strlen(REDIS_UNIX_SCHEME), NULL)
                     : g_strdup(location);
    /* Everything that can be wrong in the settings is found now, not by the writer later. */
    scd_redis_target t;
    sp_error err;
    sp_error_clear(&err);
    if (scd_redis_target_init(&t, url, password_file ? password_file : "", &err) != SP_OK) {
        *msg = g_strdup_printf("location %s: %s", location, err.message);
        g_free(url);
        return NULL;
    }
    scd_redis_target_clear(&t);
    if (!key_template || !*key_template) {
        *msg = g_strdup("redis-key must not be empty");
        g_free(url);
        return NULL;
    }
    SinkRedis *r = g_new0(SinkRedis, 1);
    r->url = url;
    r->key_template = g_strdup(key_template);
    r->password_file = g_strdup(password_file ? password_file : "");
    r->maxlen = maxlen;
    r->queue_bytes = queue_bytes;
    r->dtype = dtype;
    r->counters = *counters;
    return r;
}

void sink_redis_packet(SinkRedis *r, const GstScriptPacket *p) {
    if (!r->broker) {
        const gchar *stream =
            p->stream_name && *p->stream_name ? p->stream_name : GST_OBJECT_NAME(r->counters.owner);
        const scd_broker_ops *ops = NULL;
        void *impl = NULL;
        sp_error err;
        sp_error_clear(&err);
        if (scd_redis_stream_new(stream, r->url, r->password_file, r->key_template, r->maxlen, &ops,
                                 &impl, &err) != SP_OK) {
            /* Checked at start: only a password file that changed since can get here. */
            GST_WARNING_OBJECT(r->counters.owner, "packet dropped: %s", err.message);
            add(&r->counters, r->counters.dropped, 1);
            return;
        }
        gchar label[32];
        g_snprintf(label, sizeof label, "redis%u", r->sinks_made++);
        scd_broker_hooks hooks = {on_count, on_log, r};
        r->broker = scd_broker_sink_new(stream, label, ops, impl, r->queue_bytes, r->dtype, &hooks);
        GST_INFO_OBJECT(r->counters.owner, "XADD to %s", scd_broker_sink_describe(r->broker));
    }
    sp_error err;
    sp_error_clear(&err);
    if (!scd_broker_sink_packet(r->broker, p, &err)) {
        GST_WARNING_OBJECT(r->counters.owner, "packet dropped: %s", err.message);
        add(&r->counters, r->counters.dropped, 1);
    }
}

void sink_redis_finish(SinkRedis *r, guint timeout_ms) {
    if (!r || !r->broker)
        return;
    scd_broker_sink_free(r->broker, timeout_ms);
    r->broker = NULL;
}

void sink_redis_free(SinkRedis *r, guint timeout_ms) {
    if (!r)
        return;
    sink_redis_finish(r, timeout_ms);
    g_free(r->url);
    g_free(r->key_template);
    g_free(r->password_file);
    g_free(r);
}

#else /* no hiredis */

SinkRedis *sink_redis_new(const gchar *location, const gchar *key_template, guint64 maxlen,
                          const gchar *password_file, guint64 queue_bytes, sp_dtype dtype,
                          const SinkRedisCounters *counters, gchar **msg) {
    (void)key_template;
    (void)maxlen;
    (void)password_file;
    (void)queue_bytes;
    (void)dtype;
    (void)counters;
    *msg = g_strdup_printf("location %s: this scriptsink was built without hiredis "
                           "(libhiredis-dev), so it cannot write to Redis",
                           location);
    return NULL;
}

void sink_redis_packet(SinkRedis *r, const GstScriptPacket *p) {
    (void)r;
    (void)p;
}

void sink_redis_finish(SinkRedis *r, guint timeout_ms) {
    (void)r;
    (void)timeout_ms;
}

void sink_redis_free(SinkRedis *r, guint timeout_ms) {
    (void)r;
    (void)timeout_ms;
}

#endif
