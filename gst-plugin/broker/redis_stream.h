/* The Redis Streams backend of the broker sink: each packet of a stream is one entry of a Redis
 * stream (XADD), pipelined in batches (broker_sink.h has the queue and the writer thread).
 *
 * Entry fields: packet (a one-packet wire stream: header + packet, see docs/wire-format.md),
 * stream, seq, epoch, window (-1: none), pts_first, pts_last (ns), tokens, d, format_version,
 * mode (the stream's packet mode: snapshot or delta).
 * The key is trimmed with `MAXLEN ~ maxlen` on every XADD when maxlen > 0. */
#ifndef SCRIPT_BROKER_REDIS_STREAM_H
#define SCRIPT_BROKER_REDIS_STREAM_H

#include <stdint.h>

#include "broker/broker_sink.h"

/* The default key template: one Redis stream per scriptd stream. */
#define SCD_REDIS_DEFAULT_KEY "scriptd:{stream}:packets"

/* key_template with every "{stream}" replaced by stream. g_free. */
char *scd_redis_stream_key(const char *key_template, const char *stream);

/* The backend for `url` (redis://[:password@]host:port[/db] or unix:///path[?db=N]) and key.
 * password_file: NULL or "" for none (its first line wins over a URL password). Fails when the
 * URL is bad or the password file cannot be read; an unreachable Redis is not an error (the
 * writer retries). *impl goes to scd_broker_sink_new with *ops. */
sp_status scd_redis_stream_new(const char *stream, const char *url, const char *password_file,
                               const char *key_template, uint64_t maxlen,
                               const scd_broker_ops **ops, void **impl, sp_error *err);

#endif
