/* The daemon's `redis:` sinks: each packet of a stream is one entry of a Redis stream, through a
 * broker sink (gst-plugin/broker: queue, writer thread, backoff; redis_stream.h: the entry
 * fields). The sink's counters are the sink_* metric families (labels stream, sink; failures
 * also reason) and its state changes are logged under "sink". */
#ifndef SCRIPTD_REDIS_SINK_H
#define SCRIPTD_REDIS_SINK_H

#include "broker/broker_sink.h"
#include "config/config.h"
#include "telemetry/metric_families.h"

typedef struct scd_redis_sink scd_redis_sink;

/* A started sink for cfg (kind SCD_SINK_REDIS); m must outlive it. Fails when the URL is bad or
 * the password file cannot be read; an unreachable Redis is not an error (the writer retries). */
sp_status scd_redis_sink_new(const char *stream, const char *label, const scd_sink_cfg *cfg,
                             scd_metric_families *m, scd_redis_sink **out, sp_error *err);

/* The broker sink inside (packets, stats, description). */
scd_broker_sink *scd_redis_sink_broker(scd_redis_sink *r);

/* Stops and frees (scd_broker_sink_free's flush). NULL is accepted. */
void scd_redis_sink_free(scd_redis_sink *r, unsigned flush_ms);

#endif
