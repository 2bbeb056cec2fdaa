/* The broker-independent half of a broker sink (broker_sink.h): queue, writer thread, backoff. */
#include "broker/broker_sink.h"

#include <inttypes.h>
#include <string.h>

#include <stdarg.h>

#include "packetview.h"
#include "scriptprune/wire.h"

enum {
    BATCH_MAX_ENTRIES = 64,            /* entries pipelined in one round trip */
    BATCH_MAX_BYTES = 8 * 1024 * 1024, /* ... and at most this many bytes */
    BACKOFF_MIN_MS = 100,
    BACKOFF_MAX_MS = 5000,
};

struct scd_broker_sink {
    char *stream, *label;
    const scd_broker_ops *ops;
    void *impl;
    scd_broker_hooks hooks;
    sp_dtype dtype;
    uint64_t epoch;

    /* Writer thread only: the encoder. */
    ScriptPacketView view;
    sp_wire_header header; /* of the last packet that carried a width */
    bool have_header;
    GByteArray *capture;

    GMutex lock;  /* everything below */
    GCond wake;   /* new entries, stop */
    GQueue queue; /* scd_broker_entry*, oldest first; not the batch in flight */
    uint64_t limit;
    uint64_t bytes; /* queued + in flight */
    uint64_t in_flight_entries;
    uint64_t next_seq;
    uint64_t sent, dropped, reconnects, errors;
    bool connected;
    char *last_error;
    bool stop;
    int64_t flush_deadline_us; /* monotonic; valid once stop is set */

    GThread *thread;
};

static const char *const fail_names[SCD_BROKER_FAIL_COUNT] = {"refused", "auth", "timeout",
                                                              "oom",     "io",   "rejected"};

const char *scd_broker_fail_name(scd_broker_fail f) {
    return (unsigned)f < SCD_BROKER_FAIL_COUNT ? fail_names[f] : "?";
}

/* A queued packet: a reference to the pipeline's packet (its tensors are shared, not copied)
 * until the writer encodes it into entry.packet. */
typedef struct queued {
    scd_broker_entry entry;
    GstScriptPacket source;
    uint64_t bytes; /* what it counts against queue_bytes: its wire size */
} queued;

static void queued_free(queued *q) {
    if (!q)
        return;
    if (q->entry.packet)
        g_bytes_unref(q->entry.packet);
    gst_script_packet_clear(&q->source);
    g_free(q);
}

static uint64_t entry_bytes(const queued *q) {
    return q->bytes;
}

/* The wire size of p (header and trailer included), known before encoding it. */
static uint64_t wire_size(const GstScriptPacket *p, size_t d, sp_dtype dtype) {
    size_t value = dtype == SP_DTYPE_F16 ? 2 : 4;
    return SP_WIRE_HEADER_FIXED + SP_WIRE_NAME_MAX + SP_WIRE_PACKET_FIXED + SP_WIRE_TRAILER +
           (uint64_t)p->count * (d * value + SP_WIRE_INFO_BYTES);
}

/* ---- accounting (lock held) ----------------------------------------------------------------- */

/* Reports a counter increment or a gauge value to the owner (may run with the lock held). */
static void count(scd_broker_sink *s, scd_broker_count what, const char *reason, uint64_t n) {
    if (s->hooks.count)
        s->hooks.count(s->hooks.user, what, reason, n);
}

/* A log line to the owner, prefixed with nothing: the caller names stream and broker. */
G_GNUC_PRINTF(3, 4)
static void blog(scd_broker_sink *s, scd_broker_log_level level, const char *fmt, ...) {
    if (!s->hooks.log)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    s->hooks.log(s->hooks.user, level, msg);
    g_free(msg);
}

/* Drops the oldest waiting entries until the total fits the limit. Lock held. */
static void enforce_limit(scd_broker_sink *s) {
    uint64_t n = 0;
    while (s->bytes > s->limit && !g_queue_is_empty(&s->queue)) {
        queued *e = g_queue_pop_head(&s->queue);
        s->bytes -= entry_bytes(e);
        queued_free(e);
        n++;
    }
    if (n) {
        s->dropped += n;
        count(s, SCD_BROKER_COUNT_DROPPED, NULL, n);
    }
}

static void record_failure(scd_broker_sink *s, scd_broker_fail why, const char *msg) {
    g_mutex_lock(&s->lock);
    g_free(s->last_error);
    s->last_error = g_strdup_printf("%s: %s", scd_broker_fail_name(why), msg);
    s->errors++;
    g_mutex_unlock(&s->lock);
    count(s, SCD_BROKER_COUNT_FAILURES, scd_broker_fail_name(why), 1);
}

/* ---- encoding (writer thread) and queueing (streaming thread) ------------------------------ */

static sp_status capture_sink(void *user, const void *data, size_t len, sp_error *err) {
    (void)err;
    g_byte_array_append(user, data, (guint)len);
    return SP_OK;
}

/* The stream header for p: its own, or for a packet without tokens (which carries no width)
 * the previous packet's. */
static sp_status header_for(scd_broker_sink *s, const GstScriptPacket *p, sp_error *err) {
    if (gst_script_packet_width(p) == 0) {
        if (s->have_header)
            return SP_OK;
        return sp_error_set(err, SP_ERR_STATE,
                            "an empty packet before any packet with tokens has no header");
    }
    sp_status st = script_packet_wire_header(p, s->dtype, &s->header, err);
    s->have_header = st == SP_OK;
    return st;
}

static sp_status encode(scd_broker_sink *s, const GstScriptPacket *p, sp_error *err) {
    g_byte_array_set_size(s->capture, 0);
    sp_status st = header_for(s, p, err);
    if (st != SP_OK)
        return st;
    st = script_packet_view_map(&s->view, p, s->header.d, err);
    if (st != SP_OK)
        return st;
    /* A writer per packet: each entry is a wire stream of its own (header + one packet). */
    sp_wire_writer *w = NULL;
    st = sp_wire_writer_new(&s->header, capture_sink, s->capture, &w, err);
    if (st == SP_OK)
        st = sp_wire_writer_packet(w, &s->view.packet, err);
    sp_wire_writer_free(w);
    script_packet_view_release(&s->view);
    return st;
}

bool scd_broker_sink_packet(scd_broker_sink *s, const GstScriptPacket *p, sp_error *err) {
    (void)err;
    /* Only references here: encoding (copy, checks, checksum) happens on the writer thread, so
     * the pipeline pays a few reference counts per packet whatever the packet's size. */
    queued *q = g_new0(queued, 1);
    gst_script_packet_init(&q->source);
    gst_script_packet_copy_into(&q->source, p);
    q->entry.epoch = s->epoch;
    q->entry.window = p->window_id == G_MAXUINT64 ? -1 : (int64_t)p->window_id;
    q->entry.pts_first = (int64_t)p->pts_first;
    q->entry.pts_last = (int64_t)p->pts_last;
    q->entry.tokens = p->count;
    q->entry.mode = (sp_packet_mode)p->mode;
    q->bytes = wire_size(p, gst_script_packet_width(p), s->dtype);
    g_mutex_lock(&s->lock);
    q->entry.seq = s->next_seq++;
    g_queue_push_tail(&s->queue, q);
    s->bytes += entry_bytes(q);
    enforce_limit(s);
    g_cond_signal(&s->wake);
    g_mutex_unlock(&s->lock);
    return true;
}

/* Encodes the entries of a batch that are not encoded yet (writer thread). An entry that cannot
 * be encoded is marked DROPPED in res and counted as a sink error. */
static void encode_batch(scd_broker_sink *s, queued **batch, size_t n, scd_broker_result *res) {
    for (size_t i = 0; i < n; i++) {
        queued *q = batch[i];
        res[i] = SCD_BROKER_UNKNOWN;
        if (q->entry.packet)
            continue;
        sp_error err;
        sp_error_clear(&err);
        if (encode(s, &q->source, &err) != SP_OK) {
            res[i] = SCD_BROKER_DROPPED;
            g_mutex_lock(&s->lock);
            s->errors++;
            g_mutex_unlock(&s->lock);
            count(s, SCD_BROKER_COUNT_ERRORS, NULL, 1);
            blog(s, SCD_BROKER_LOG_WARNING, "%s: %s: packet %" PRIu64 " not encoded: %s", s->stream,
                 s->label, q->entry.seq, err.message);
            continue;
        }
        q->entry.packet = g_byte_array_free_to_bytes(s->capture);
        s->capture = g_byte_array_sized_new((guint)g_bytes_get_size(q->entry.packet));
        q->entry.d = s->header.d;
        gst_script_packet_clear(&q->source); /* the pipeline's buffers go back now */
    }
}

/* ---- writer thread -------------------------------------------------------------------------- */

/* Waits up to ms, or until stop (lock held). During a flush it never waits past the deadline. */
static void wait_ms(scd_broker_sink *s, unsigned ms) {
    int64_t until = g_get_monotonic_time() + (int64_t)ms * 1000;
    if (s->stop)
        until = MIN(until, s->flush_deadline_us);
    while (g_get_monotonic_time() < until && !s->stop)
        g_cond_wait_until(&s->wake, &s->lock, until);
}

static bool flush_over(scd_broker_sink *s) {
    return s->stop &&
           (g_queue_is_empty(&s->queue) || g_get_monotonic_time() >= s->flush_deadline_us);
}

static void set_connected(scd_broker_sink *s, bool on) {
    g_mutex_lock(&s->lock);
    s->connected = on;
    g_mutex_unlock(&s->lock);
    count(s, SCD_BROKER_GAUGE_CONNECTED, NULL, on ? 1 : 0);
}

/* Connects, logging state changes (not every retry). Returns false after a failure's backoff. */
static bool connect_once(scd_broker_sink *s, unsigned *backoff_ms, bool *failing, bool *ever) {
    scd_broker_fail why = SCD_BROKER_IO;
    char *msg = NULL;
    if (*ever) {
        g_mutex_lock(&s->lock);
        s->reconnects++;
        g_mutex_unlock(&s->lock);
        count(s, SCD_BROKER_COUNT_RECONNECTS, NULL, 1);
    }
    *ever = true;
    if (s->ops->connect(s->impl, &why, &msg)) {
        set_connected(s, true);
        blog(s, SCD_BROKER_LOG_INFO, "%s: %s %s: connected", s->stream, s->ops->name,
             s->ops->describe(s->impl));
        *failing = false;
        *backoff_ms = BACKOFF_MIN_MS;
        return true;
    }
    record_failure(s, why, msg);
    blog(s, *failing ? SCD_BROKER_LOG_DEBUG : SCD_BROKER_LOG_WARNING,
         "%s: %s %s: cannot connect (%s): %s; retrying every %.1f-%.0f s while packets queue",
         s->stream, s->ops->name, s->ops->describe(s->impl), scd_broker_fail_name(why), msg,
         BACKOFF_MIN_MS / 1000.0, BACKOFF_MAX_MS / 1000.0);
    g_free(msg);
    *failing = true;
    g_mutex_lock(&s->lock);
    wait_ms(s, *backoff_ms);
    g_mutex_unlock(&s->lock);
    *backoff_ms = MIN(*backoff_ms * 2, (unsigned)BACKOFF_MAX_MS);
    return false;
}

/* Takes up to a batch from the head of the queue (lock held). */
static size_t take_batch(scd_broker_sink *s, queued **batch) {
    size_t n = 0;
    uint64_t bytes = 0;
    while (n < BATCH_MAX_ENTRIES && !g_queue_is_empty(&s->queue)) {
        queued *e = g_queue_peek_head(&s->queue);
        if (n > 0 && bytes + entry_bytes(e) > BATCH_MAX_BYTES)
            break;
        batch[n++] = g_queue_pop_head(&s->queue);
        bytes += entry_bytes(e);
    }
    s->in_flight_entries = n;
    return n;
}

/* Settles a published batch: sent and dropped entries leave, unanswered ones go back to the head
 * of the queue in order (then the limit may drop the oldest of them). */
static void settle(scd_broker_sink *s, queued **batch, size_t n, const scd_broker_result *res) {
    uint64_t sent = 0, dropped = 0;
    g_mutex_lock(&s->lock);
    for (size_t i = n; i-- > 0;) {
        if (res[i] == SCD_BROKER_UNKNOWN) {
            g_queue_push_head(&s->queue, batch[i]);
            continue;
        }
        if (res[i] == SCD_BROKER_SENT)
            sent++;
        else
            dropped++;
        s->bytes -= entry_bytes(batch[i]);
        queued_free(batch[i]);
    }
    s->sent += sent;
    s->dropped += dropped;
    s->in_flight_entries = 0;
    enforce_limit(s);
    g_mutex_unlock(&s->lock);
    if (sent)
        count(s, SCD_BROKER_COUNT_SENT, NULL, sent);
    if (dropped)
        count(s, SCD_BROKER_COUNT_DROPPED, NULL, dropped);
}

static gpointer writer_main(gpointer data) {
    scd_broker_sink *s = data;
    queued *batch[BATCH_MAX_ENTRIES];
    scd_broker_entry *entries[BATCH_MAX_ENTRIES];
    scd_broker_result res[BATCH_MAX_ENTRIES];
    unsigned backoff_ms = BACKOFF_MIN_MS;
    bool failing = false, ever = false, connected = false;
    for (;;) {
        g_mutex_lock(&s->lock);
        while (g_queue_is_empty(&s->queue) && !s->stop)
            g_cond_wait(&s->wake, &s->lock);
        bool over = flush_over(s);
        g_mutex_unlock(&s->lock);
        if (over)
            break;
        if (!connected) {
            connected = connect_once(s, &backoff_ms, &failing, &ever);
            continue;
        }
        g_mutex_lock(&s->lock);
        size_t n = take_batch(s, batch);
        g_mutex_unlock(&s->lock);
        scd_broker_fail why = SCD_BROKER_IO;
        char *msg = NULL;
        encode_batch(s, batch, n, res);
        /* Publish the encoded ones in order; those that failed to encode stay DROPPED. */
        size_t m = 0;
        size_t index[BATCH_MAX_ENTRIES];
        for (size_t i = 0; i < n; i++)
            if (res[i] == SCD_BROKER_UNKNOWN) {
                index[m] = i;
                entries[m++] = &batch[i]->entry;
            }
        scd_broker_result sub[BATCH_MAX_ENTRIES];
        for (size_t i = 0; i < m; i++)
            sub[i] = SCD_BROKER_UNKNOWN;
        bool ok = m == 0 || s->ops->publish(s->impl, entries, m, sub, &why, &msg);
        for (size_t i = 0; i < m; i++)
            res[index[i]] = sub[i];
        size_t rejected = 0;
        for (size_t i = 0; i < n; i++)
            rejected += res[i] == SCD_BROKER_DROPPED;
        settle(s, batch, n, res);
        if (msg) {
            record_failure(s, why, msg);
            blog(s, SCD_BROKER_LOG_WARNING, "%s: %s %s: %s: %s%s", s->stream, s->ops->name,
                 s->ops->describe(s->impl), scd_broker_fail_name(why), msg,
                 rejected ? " (the refused packets are dropped and counted)" : "");
            g_free(msg);
        }
        if (!ok) {
            s->ops->disconnect(s->impl);
            set_connected(s, false);
            connected = false;
            failing = false; /* the first failed reconnection says why, at warning level */
        }
        if (!ok || rejected) {
            /* The broker is unwell (down, out of memory): do not hammer it. */
            g_mutex_lock(&s->lock);
            wait_ms(s, backoff_ms);
            g_mutex_unlock(&s->lock);
            backoff_ms = MIN(backoff_ms * 2, (unsigned)BACKOFF_MAX_MS);
        } else {
            backoff_ms = BACKOFF_MIN_MS;
        }
    }
    if (connected) {
        s->ops->disconnect(s->impl);
        set_connected(s, false);
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

scd_broker_sink *scd_broker_sink_new(const char *stream, const char *label,
                                     const scd_broker_ops *ops, void *impl, uint64_t queue_bytes,
                                     sp_dtype dtype, const scd_broker_hooks *hooks) {
    scd_broker_sink *s = g_new0(scd_broker_sink, 1);
    s->stream = g_strdup(stream);
    s->label = g_strdup(label);
    s->ops = ops;
    s->impl = impl;
    if (hooks)
        s->hooks = *hooks;
    s->dtype = dtype;
    s->limit = queue_bytes;
    s->epoch = (uint64_t)g_get_real_time();
    s->capture = g_byte_array_new();
    script_packet_view_init(&s->view);
    g_mutex_init(&s->lock);
    g_cond_init(&s->wake);
    g_queue_init(&s->queue);
    /* Every series exists from the start, so a scrape shows the sink before its first packet. */
    for (int c = 0; c < SCD_BROKER_COUNT_KINDS; c++)
        if (c != SCD_BROKER_COUNT_FAILURES)
            count(s, (scd_broker_count)c, NULL, 0);
    char *name = g_strdup_printf("sink-%s", label);
    s->thread = g_thread_new(name, writer_main, s);
    g_free(name);
    return s;
}

void scd_broker_sink_free(scd_broker_sink *s, unsigned flush_ms) {
    if (!s)
        return;
    g_mutex_lock(&s->lock);
    s->stop = true;
    s->flush_deadline_us = g_get_monotonic_time() + (int64_t)flush_ms * 1000;
    g_cond_signal(&s->wake);
    g_mutex_unlock(&s->lock);
    g_thread_join(s->thread);
    uint64_t left = g_queue_get_length(&s->queue);
    if (left) {
        s->dropped += left;
        count(s, SCD_BROKER_COUNT_DROPPED, NULL, left);
        blog(s, SCD_BROKER_LOG_WARNING, "%s: %s %s: %" PRIu64 " packets not sent at stop",
             s->stream, s->ops->name, s->ops->describe(s->impl), left);
    }
    g_queue_clear_full(&s->queue, (GDestroyNotify)queued_free);
    blog(s, SCD_BROKER_LOG_INFO,
         "%s: %s final: sent=%" PRIu64 " dropped=%" PRIu64 " reconnects=%" PRIu64
         " numbered=%" PRIu64,
         s->stream, s->label, s->sent, s->dropped, s->reconnects, s->next_seq);
    count(s, SCD_BROKER_GAUGE_QUEUE_BYTES, NULL, 0);
    s->ops->free(s->impl);
    script_packet_view_free(&s->view);
    g_byte_array_unref(s->capture);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->wake);
    g_free(s->last_error);
    g_free(s->stream);
    g_free(s->label);
    g_free(s);
}

void scd_broker_sink_stats(scd_broker_sink *s, scd_broker_stats *out) {
    g_mutex_lock(&s->lock);
    out->sent = s->sent;
    out->dropped = s->dropped;
    out->reconnects = s->reconnects;
    out->errors = s->errors;
    out->queue_bytes = s->bytes;
    out->queued = g_queue_get_length(&s->queue) + s->in_flight_entries;
    out->next_seq = s->next_seq;
    out->connected = s->connected;
    out->last_error = g_strdup(s->last_error);
    g_mutex_unlock(&s->lock);
}

const char *scd_broker_sink_label(const scd_broker_sink *s) {
    return s->label;
}

const char *scd_broker_sink_describe(const scd_broker_sink *s) {
    return s->ops->describe(s->impl);
}

uint64_t scd_broker_sink_epoch(const scd_broker_sink *s) {
    return s->epoch;
}

void scd_broker_sink_report_queue(scd_broker_sink *s) {
    g_mutex_lock(&s->lock);
    uint64_t b = s->bytes;
    g_mutex_unlock(&s->lock);
    count(s, SCD_BROKER_GAUGE_QUEUE_BYTES, NULL, b);
}
