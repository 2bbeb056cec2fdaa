/* A sink that publishes each token packet of a stream to a message broker, without ever blocking
 * the pipeline on it. Broker-independent: the bounded queue, the writer thread, reconnection with
 * backoff, drop accounting and metrics live here; a broker (Redis Streams today, see
 * redis_sink.h) supplies a small table of operations. A second broker (e.g. Kafka) is one more
 * table: nothing here names Redis.
 *
 *   streaming thread ──scd_broker_sink_packet──► queue (≤ queue_bytes) ──writer thread──► broker
 *                        (packet references)                       (encodes, batches)
 *
 * Every packet becomes one entry: a one-packet wire stream (header + packet, so any wire reader
 * decodes it alone) with a sequence number, numbered 0, 1, 2... for the life of the sink, and the
 * sink's epoch (creation time, µs since 1970) that tells sequences of two sink lifetimes apart.
 * When the queue is full the OLDEST entries are dropped and counted: a consumer that finds a gap
 * in the sequence numbers has lost exactly that many packets, and the drop counter says so too.
 * Entries in flight when the connection breaks are sent again after the reconnection, so a
 * consumer may see a sequence number twice (it skips the repeat): delivery is at least once.
 *
 * Threads: scd_broker_sink_packet from one streaming thread at a time (the pipeline pays reference
 * counts only); the rest from any thread.
 * Counters and log lines go to the owner through scd_broker_hooks (the daemon makes metrics and
 * journal lines of them, the scriptsink element debug output); scd_broker_sink_stats is the
 * pull side. */
#ifndef SCRIPTD_BROKER_SINK_H
#define SCRIPTD_BROKER_SINK_H

#include <gst/script/script.h>
#include <stdbool.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/tensor.h"
#include "scriptprune/wire.h"

/* One queued packet, as a broker backend sees it. */
typedef struct scd_broker_entry {
    GBytes *packet;      /* wire stream of one packet: stream header, then the packet */
    uint64_t seq;        /* 0, 1, 2... per sink lifetime */
    uint64_t epoch;      /* the sink's creation time (µs since 1970): names its sequence */
    int64_t window;      /* window id, -1 for none */
    int64_t pts_first;   /* ns */
    int64_t pts_last;    /* ns */
    uint32_t tokens, d;  /* tokens in the packet, token width */
    sp_packet_mode mode; /* what the stream's packets promise (snapshot, delta) */
} scd_broker_entry;

/* Why a broker operation failed: the log line and the `reason` of the error metric. */
typedef enum scd_broker_fail {
    SCD_BROKER_REFUSED = 0, /* nothing listens there (or the socket does not exist) */
    SCD_BROKER_AUTH,        /* password missing or wrong */
    SCD_BROKER_TIMEOUT,     /* connect or reply took too long */
    SCD_BROKER_OOM,         /* the broker is out of memory (maxmemory reached) */
    SCD_BROKER_IO,          /* the connection broke (reset, closed by the server) */
    SCD_BROKER_REJECTED,    /* the broker refused the entry (wrong key type, ...) */
    SCD_BROKER_FAIL_COUNT
} scd_broker_fail;

const char *scd_broker_fail_name(scd_broker_fail f); /* "refused", "auth", ... */

/* The outcome of one entry of a batch. */
typedef enum scd_broker_result {
    SCD_BROKER_SENT = 0, /* stored by the broker */
    SCD_BROKER_DROPPED,  /* the broker answered with an error: it will not store it */
    SCD_BROKER_UNKNOWN,  /* no answer (connection lost): send again */
} scd_broker_result;

/* What a broker implements. impl is the backend's own state; the writer thread alone calls
 * these, one at a time. */
typedef struct scd_broker_ops {
    const char *name; /* "redis" */
    /* Connects (and authenticates); false with *why and a message (g_free) on failure. */
    bool (*connect)(void *impl, scd_broker_fail *why, char **msg);
    /* Publishes n entries in order and fills res[i]. Returns false when the connection must be
     * dropped (res[] then ends with UNKNOWN entries); why and msg describe the first failure. */
    bool (*publish)(void *impl, scd_broker_entry *const *e, size_t n, scd_broker_result *res,
                    scd_broker_fail *why, char **msg);
    void (*disconnect)(void *impl);
    void (*free)(void *impl);
    /* Where the entries go, for logs and JSON (never a password); constant for the sink's life. */
    const char *(*describe)(void *impl);
} scd_broker_ops;

/* What the sink reports through scd_broker_hooks.count: counter increments, then the two gauges
 * (their current value). */
typedef enum scd_broker_count {
    SCD_BROKER_COUNT_SENT = 0,    /* entries the broker stored */
    SCD_BROKER_COUNT_DROPPED,     /* entries dropped (queue full, refused, left at stop) */
    SCD_BROKER_COUNT_RECONNECTS,  /* connection attempts after the first */
    SCD_BROKER_COUNT_ERRORS,      /* packets that could not be encoded */
    SCD_BROKER_COUNT_FAILURES,    /* broker failures; reason = scd_broker_fail_name */
    SCD_BROKER_GAUGE_CONNECTED,   /* 1 while connected, else 0 */
    SCD_BROKER_GAUGE_QUEUE_BYTES, /* wire bytes queued or in flight */
    SCD_BROKER_COUNT_KINDS
} scd_broker_count;

typedef enum scd_broker_log_level {
    SCD_BROKER_LOG_DEBUG = 0,
    SCD_BROKER_LOG_INFO,
    SCD_BROKER_LOG_WARNING,
} scd_broker_log_level;

/* The owner's side. Both may be called from the writer or the calling thread, sometimes with the
 * sink's lock held: they must not call back into the sink. NULL members are skipped. */
typedef struct scd_broker_hooks {
    void (*count)(void *user, scd_broker_count what, const char *reason, uint64_t n);
    void (*log)(void *user, scd_broker_log_level level, const char *message);
    void *user;
} scd_broker_hooks;

typedef struct scd_broker_sink scd_broker_sink;

/* Starts the writer thread (it connects in the background). label names the sink in metrics and
 * logs
 * ("redis0"); queue_bytes bounds the queued wire bytes; dtype is F16 or F32 for token values.
 * Takes ownership of impl. */
scd_broker_sink *scd_broker_sink_new(const char *stream, const char *label,
                                     const scd_broker_ops *ops, void *impl, uint64_t queue_bytes,
                                     sp_dtype dtype, const scd_broker_hooks *hooks);

/* Stops the writer: what is queued is still sent for up to flush_ms while the broker answers;
 * anything left is dropped and counted. NULL is accepted. */
void scd_broker_sink_free(scd_broker_sink *s, unsigned flush_ms);

/* Queues p (references to its data: the writer thread encodes it); never waits for the broker.
 * A packet that later cannot be encoded is dropped and counted as a sink error. Returns true;
 * false is kept for backends that refuse a packet up front (err says why). */
bool scd_broker_sink_packet(scd_broker_sink *s, const GstScriptPacket *p, sp_error *err);

typedef struct scd_broker_stats {
    uint64_t sent, dropped, reconnects, errors;
    uint64_t queue_bytes, queued; /* bytes and entries waiting or in flight */
    uint64_t next_seq;
    bool connected;
    char *last_error; /* NULL when none; g_free */
} scd_broker_stats;

void scd_broker_sink_stats(scd_broker_sink *s, scd_broker_stats *out);
const char *scd_broker_sink_label(const scd_broker_sink *s);
const char *scd_broker_sink_describe(const scd_broker_sink *s);
uint64_t scd_broker_sink_epoch(const scd_broker_sink *s);

/* Reports the queue gauge now (scrape time). */
void scd_broker_sink_report_queue(scd_broker_sink *s);

#endif
