/* scriptsink's redis:// locations: each packet becomes one entry of a Redis stream (XADD, fields
 * as the daemon's `redis:` sink writes them, docs/scale-out.md), through the broker sink's bounded
 * queue and writer thread, so the streaming thread never waits for Redis. Built with hiredis;
 * without it, redis:// locations are refused with a clear message.
 *
 * Locations: redis://[:password@]host:port[/db] or redis+unix:///path[?db=N]. The key template's
 * "{stream}" is the packets' stream name (the element's name when they carry none).
 * Thread-safety: sink_redis_packet from the streaming thread; the rest from the element's state
 * changes; the counters the sink adds go through the element's object lock. */
#ifndef GST_SCRIPT_SINKREDIS_H
#define GST_SCRIPT_SINKREDIS_H

#include <gst/gst.h>
#include <gst/script/script.h>

#include "scriptprune/tensor.h"

G_BEGIN_DECLS

/* What the sink reports to the element (added under the element's object lock). */
typedef struct {
    GstObject *owner;                        /* for debug output and the lock */
    guint64 *written, *dropped, *reconnects; /* the element's counters */
} SinkRedisCounters;

typedef struct SinkRedis SinkRedis;

/* TRUE when location names Redis (redis:// or redis+unix://). */
gboolean sink_redis_location_is(const gchar *location);

/* Checks the location and the password file and prepares the sink; the Redis connection is made
 * by the writer, in the background, once the first packet arrives. NULL with *msg (g_free). */
SinkRedis *sink_redis_new(const gchar *location, const gchar *key_template, guint64 maxlen,
                          const gchar *password_file, guint64 queue_bytes, sp_dtype dtype,
                          const SinkRedisCounters *counters, gchar **msg);

/* Queues p (never waits for Redis; the oldest entries go when queue_bytes is reached). */
void sink_redis_packet(SinkRedis *r, const GstScriptPacket *p);

/* Sends what is queued for at most timeout_ms, drops and counts the rest, and closes the
 * connection; later packets start a new connection (and a new sequence epoch). */
void sink_redis_finish(SinkRedis *r, guint timeout_ms);

/* finish(timeout_ms), then frees. NULL is accepted. */
void sink_redis_free(SinkRedis *r, guint timeout_ms);

G_END_DECLS

#endif
