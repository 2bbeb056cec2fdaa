/* The `redis:` sink: each packet of a stream is one entry of a Redis stream (XADD), through the
 * broker sink's queue and writer thread (broker_sink.h).
 *
 * Entry fields: packet (a one-packet wire stream: header + packet, see docs/wire-format.md),
 * stream, seq, epoch, window (-1: none), pts_first, pts_last (ns), tokens, d, format_version,
 * mode (the stream's packet mode: snapshot or delta). The key is trimmed with
 * `MAXLEN ~ maxlen` on every XADD when maxlen > 0. */
#ifndef SCRIPTD_REDIS_SINK_H
#define SCRIPTD_REDIS_SINK_H

#include "broker/broker_sink.h"
#include "config/config.h"

/* The stream's Redis key: cfg->key with every "{stream}" replaced by stream. g_free. */
char *scd_redis_sink_key(const char *key_template, const char *stream);

/* A started broker sink for cfg (kind SCD_SINK_REDIS). Fails when the URL is bad or the
 * password file cannot be read; an unreachable Redis is not an error (the writer retries). */
sp_status scd_redis_sink_new(const char *stream, const char *label, const scd_sink_cfg *cfg,
                             scd_metric_families *m, scd_broker_sink **out, sp_error *err);

#endif
