/* scriptsink: the emitted packets (from buffers' GstScriptTokensMeta and GstScriptPacket events)
 * go into a bounded queue; a writer thread sends them with core's sp_wire_writer to a file, a
 * Unix socket or TCP, a stream header first on every new file or connection. The streaming thread
 * never waits for the peer: when the queue is full the drop policy applies. A peer that is away
 * is retried with exponential backoff (reconnect-min-ms doubling up to reconnect-max-ms). At EOS
 * the queue is drained for at most drain-timeout-ms; what remains is dropped and counted. */
#include "gstscriptsink.h"

#include <string.h>
#include <unistd.h>

#include <gst/script/script.h>

#include "elements.h"
#include "enums.h"
#include "packetview.h"
#include "packetwire.h"
#include "sinkconn.h"
#include "sinkqueue.h"
#include "sinkredis.h"

GST_DEBUG_CATEGORY(gst_script_sink_debug); /* sinkredis.c logs under it too */
#define GST_CAT_DEFAULT gst_script_sink_debug

#define DEFAULT_MAX_PACKETS 256
#define DEFAULT_MAX_BYTES (G_GUINT64_CONSTANT(64) << 20)
#define DEFAULT_POLICY GST_SCRIPT_DROP_OLDEST
#define DEFAULT_DTYPE GST_SCRIPT_WIRE_F16
#define DEFAULT_RECONNECT_MIN 100
#define DEFAULT_RECONNECT_MAX 5000
#define DEFAULT_DRAIN_TIMEOUT 5000
#define CONNECT_TIMEOUT_MS 2000
#define STALL_MS 5000
#define DEFAULT_REDIS_KEY "scriptd:{stream}:packets"

enum {
    PROP_0,
    PROP_LOCATION,
    PROP_MAX_PACKETS,
    PROP_MAX_BYTES,
    PROP_DROP_POLICY,
    PROP_DTYPE,
    PROP_RECONNECT_MIN,
    PROP_RECONNECT_MAX,
    PROP_DRAIN_TIMEOUT,
    PROP_REDIS_KEY,
    PROP_REDIS_MAXLEN,
    PROP_REDIS_PASSWORD_FILE,
    PROP_PACKETS_WRITTEN,
    PROP_PACKETS_DROPPED,
    PROP_RECONNECTS,
    PROP_BYTES_WRITTEN,
};

/* Where sp_wire_writer's bytes go: the current descriptor. */
typedef struct {
    struct _GstScriptSink *self;
    gboolean socket;
} FdSink;

struct _GstScriptSink {
    GstBaseSink parent;

    /* properties and counters: GST_OBJECT_LOCK */
    gchar *location;
    guint max_packets;
    guint64 max_bytes;
    GstScriptDropPolicy policy;
    GstScriptWireDtype dtype;
    guint reconnect_min, reconnect_max, drain_timeout;
    guint64 written, dropped, reconnects, bytes_written;
    gchar *redis_key, *redis_password_file;
    guint64 redis_maxlen;

    /* redis:// locations: the broker sink's queue and writer replace the ones below */
    SinkRedis *redis;

    /* the queue and the writer thread: lock + cond */
    GMutex lock;
    GCond cond;
    SinkQueue queue;
    gboolean in_flight; /* the writer holds an item outside the queue */
    gboolean discard;   /* after an EOS drain: a failed item is dropped, not retried */
    gint stopping;      /* atomic: stop() asks the thread to end */
    GThread *thread;
    SinkLocation loc;
    gboolean warned_mismatch;

    /* writer thread only */
    FdSink fdsink;
    int fd;
    sp_wire_writer *writer;
    sp_wire_header header;
    guint backoff_ms;
    gint64 next_attempt; /* monotonic us */
    ScriptPacketView view;
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

G_DEFINE_TYPE(GstScriptSink, gst_script_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE(scriptsink, "scriptsink", GST_RANK_NONE, GST_TYPE_SCRIPT_SINK);

static void add_counter(GstScriptSink *self, guint64 *counter, guint64 n) {
    GST_OBJECT_LOCK(self);
    *counter += n;
    GST_OBJECT_UNLOCK(self);
}

/* ---- writer thread ----------------------------------------------------------------------------
 */

static sp_status fd_sink(void *user, const void *data, size_t len, sp_error *err) {
    FdSink *s = user;
    gchar *msg = NULL;
    if (!sink_write_all(s->self->fd, s->socket, data, len, STALL_MS, &s->self->stopping, &msg)) {
        sp_error_set(err, SP_ERR_IO, "%s", msg);
        g_free(msg);
        return SP_ERR_IO;
    }
    add_counter(s->self, &s->self->bytes_written, len);
    return SP_OK;
}

static void disconnect(GstScriptSink *self) {
    sp_wire_writer_free(self->writer);
    self->writer = NULL;
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
}

/* Opens the destination and writes a header describing p. FALSE when it is not reachable. */
static gboolean connect_for(GstScriptSink *self, const GstScriptPacket *p, FdSink *fs) {
    gboolean file = self->loc.kind == SINK_LOC_FILE;
    if (file && self->fd < 0)
        return FALSE; /* reopening would truncate what was written */
    GST_OBJECT_LOCK(self);
    sp_dtype dtype = self->dtype == GST_SCRIPT_WIRE_F32 ? SP_DTYPE_F32 : SP_DTYPE_F16;
    if (!file && self->next_attempt != 0)
        self->reconnects++; /* an attempt after a refusal or a loss */
    GST_OBJECT_UNLOCK(self);
    gchar *msg = NULL;
    if (self->fd < 0)
        self->fd = sink_connect(&self->loc, CONNECT_TIMEOUT_MS, &msg);
    if (self->fd < 0) {
        GST_DEBUG_OBJECT(self, "%s", msg);
        g_free(msg);
        return FALSE;
    }
    fs->socket = !file;
    sp_error err;
    sp_error_clear(&err);
    if (script_packet_wire_header(p, dtype, &self->header, &err) != SP_OK ||
        sp_wire_writer_new(&self->header, fd_sink, fs, &self->writer, &err) != SP_OK) {
        GST_WARNING_OBJECT(self, "stream header: %s", err.message);
        disconnect(self);
        return FALSE;
    }
    GST_INFO_OBJECT(self, "connected; header written (d %u, grid %ux%u, %s)", self->header.d,
                    self->header.grid_h, self->header.grid_w,
                    sp_packet_kind_name(self->header.kind));
    return TRUE;
}

typedef enum { WRITE_OK, WRITE_RETRY, WRITE_DROP } WriteResult;

static WriteResult write_item(GstScriptSink *self, SinkItem *it) {
    if (!self->writer && !connect_for(self, &it->packet, &self->fdsink))
        return self->loc.kind == SINK_LOC_FILE && self->fd < 0 ? WRITE_DROP : WRITE_RETRY;
    if (!script_packet_matches_header(&it->packet, &self->header)) {
        if (!self->warned_mismatch)
            GST_ELEMENT_WARNING(self, STREAM, FORMAT,
                                ("a packet does not fit the stream header (width, grid, kind or "
                                 "budget changed): dropped"),
                                (NULL));
        self->warned_mismatch = TRUE;
        return WRITE_DROP;
    }
    sp_error err;
    sp_error_clear(&err);
    if (script_packet_view_map(&self->view, &it->packet, self->header.d, &err) != SP_OK) {
        GST_WARNING_OBJECT(self, "malformed packet dropped: %s", err.message);
        return WRITE_DROP;
    }
    sp_status st = sp_wire_writer_packet(self->writer, &self->view.packet, &err);
    script_packet_view_release(&self->view);
    if (st == SP_OK)
        return WRITE_OK;
    if (st != SP_ERR_IO) {
        GST_WARNING_OBJECT(self, "packet refused by the wire writer: %s", err.message);
        return WRITE_DROP;
    }
    GST_INFO_OBJECT(self, "lost the peer: %s", err.message);
    disconnect(self);
    /* A file is not reopened (that would truncate it): its packet is lost. */
    return self->loc.kind == SINK_LOC_FILE ? WRITE_DROP : WRITE_RETRY;
}

static void schedule_retry(GstScriptSink *self) {
    GST_OBJECT_LOCK(self);
    guint lo = self->reconnect_min, hi = MAX(self->reconnect_min, self->reconnect_max);
    GST_OBJECT_UNLOCK(self);
    self->backoff_ms = self->backoff_ms ? MIN(self->backoff_ms * 2, hi) : lo;
    self->next_attempt = g_get_monotonic_time() + (gint64)self->backoff_ms * 1000;
}

static gpointer writer_thread(gpointer data) {
    GstScriptSink *self = data;
    g_mutex_lock(&self->lock);
    for (;;) {
        while (!g_atomic_int_get(&self->stopping) &&
               (g_queue_is_empty(&self->queue.items) ||
                (!self->writer && g_get_monotonic_time() < self->next_attempt))) {
            if (g_queue_is_empty(&self->queue.items))
                g_cond_wait(&self->cond, &self->lock);
            else
                g_cond_wait_until(&self->cond, &self->lock, self->next_attempt);
        }
        if (g_atomic_int_get(&self->stopping))
            break;
        SinkItem *it = sink_queue_pop(&self->queue);
        self->in_flight = TRUE;
        g_mutex_unlock(&self->lock);

        WriteResult r = write_item(self, it);
        if (r == WRITE_OK) {
            self->backoff_ms = 0;
            self->next_attempt = 0;
            add_counter(self, &self->written, 1);
        } else if (r == WRITE_DROP) {
            add_counter(self, &self->dropped, 1);
        } else {
            schedule_retry(self);
        }

        g_mutex_lock(&self->lock);
        self->in_flight = FALSE;
        if (r == WRITE_RETRY && !self->discard) {
            sink_queue_requeue(&self->queue, it);
        } else {
            if (r == WRITE_RETRY)
                add_counter(self, &self->dropped, 1);
            sink_item_free(it);
        }
        g_cond_broadcast(&self->cond);
    }
    g_mutex_unlock(&self->lock);
    disconnect(self);
    return NULL;
}

/* ---- streaming thread -------------------------------------------------------------------------
 */

static void enqueue(GstScriptSink *self, const GstScriptPacket *p) {
    if (self->redis) {
        sink_redis_packet(self->redis, p);
        return;
    }
    GST_OBJECT_LOCK(self);
    guint max_packets = self->max_packets;
    guint64 max_bytes = self->max_bytes;
    GstScriptDropPolicy policy = self->policy;
    GST_OBJECT_UNLOCK(self);
    g_mutex_lock(&self->lock);
    self->queue.max_packets = max_packets;
    self->queue.max_bytes = max_bytes;
    self->queue.policy = policy;
    guint dropped = sink_queue_push(&self->queue, p);
    g_cond_broadcast(&self->cond);
    g_mutex_unlock(&self->lock);
    if (dropped) {
        GST_DEBUG_OBJECT(self, "queue full: %u packet(s) dropped", dropped);
        add_counter(self, &self->dropped, dropped);
    }
}

static GstFlowReturn gst_script_sink_render(GstBaseSink *sink, GstBuffer *buf) {
    GstScriptSink *self = GST_SCRIPT_SINK(sink);
    GstScriptTokensMeta *meta = gst_buffer_get_script_tokens_meta(buf);
    if (meta && meta->has_packet)
        enqueue(self, &meta->packet);
    return GST_FLOW_OK;
}

/* Waits until the writer emptied the queue, at most drain-timeout-ms; drops the rest. */
static void drain(GstScriptSink *self) {
    GST_OBJECT_LOCK(self);
    guint timeout_ms = self->drain_timeout;
    gint64 deadline = g_get_monotonic_time() + (gint64)self->drain_timeout * 1000;
    GST_OBJECT_UNLOCK(self);
    if (self->redis) {
        sink_redis_finish(self->redis, timeout_ms);
        return;
    }
    g_mutex_lock(&self->lock);
    while ((!g_queue_is_empty(&self->queue.items) || self->in_flight) &&
           g_get_monotonic_time() < deadline)
        g_cond_wait_until(&self->cond, &self->lock, deadline);
    guint left = sink_queue_clear(&self->queue);
    self->discard = self->in_flight; /* the packet being tried now is the last one */
    g_mutex_unlock(&self->lock);
    if (left) {
        GST_WARNING_OBJECT(self, "EOS: %u packet(s) not written within the drain timeout", left);
        add_counter(self, &self->dropped, left);
    }
}

static gboolean gst_script_sink_event(GstBaseSink *sink, GstEvent *event) {
    GstScriptSink *self = GST_SCRIPT_SINK(sink);
    if (gst_script_packet_event_is(event)) {
        GstScriptPacket p;
        gst_script_packet_init(&p);
        if (gst_script_packet_event_parse(event, &p))
            enqueue(self, &p);
        gst_script_packet_clear(&p);
        gst_event_unref(event);
        return TRUE;
    }
    if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
        drain(self);
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
        g_mutex_lock(&self->lock);
        self->discard = FALSE;
        g_mutex_unlock(&self->lock);
    }
    return GST_BASE_SINK_CLASS(gst_script_sink_parent_class)->event(sink, event);
}

/* A redis:// location: settings are checked now, Redis is reached by the broker's writer. Takes
 * location. */
static gboolean start_redis(GstScriptSink *self, gchar *location) {
    GST_OBJECT_LOCK(self);
    gchar *key = g_strdup(self->redis_key);
    gchar *password_file = g_strdup(self->redis_password_file);
    guint64 maxlen = self->redis_maxlen, queue_bytes = self->max_bytes;
    sp_dtype dtype = self->dtype == GST_SCRIPT_WIRE_F32 ? SP_DTYPE_F32 : SP_DTYPE_F16;
    GST_OBJECT_UNLOCK(self);
    SinkRedisCounters counters = {GST_OBJECT(self), &self->written, &self->dropped,
                                  &self->reconnects};
    gchar *msg = NULL;
    self->redis =
        sink_redis_new(location, key, maxlen, password_file, queue_bytes, dtype, &counters, &msg);
    if (!self->redis) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", msg), (NULL));
        g_free(msg);
    }
    g_free(key);
    g_free(password_file);
    g_free(location);
    return self->redis != NULL;
}

static gboolean gst_script_sink_start(GstBaseSink *sink) {
    GstScriptSink *self = GST_SCRIPT_SINK(sink);
    GST_OBJECT_LOCK(self);
    gchar *location = g_strdup(self->location);
    self->written = self->dropped = self->reconnects = self->bytes_written = 0;
    GST_OBJECT_UNLOCK(self);
    gchar *msg = NULL;
    if (sink_redis_location_is(location))
        return start_redis(self, location);
    gboolean ok = sink_location_parse(location, &self->loc, &msg);
    if (!ok) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", msg), (NULL));
    } else if (self->loc.kind == SINK_LOC_FILE) {
        /* A file that cannot be created is a configuration error, not a peer that is away. */
        self->fd = sink_connect(&self->loc, 0, &msg);
        if (self->fd < 0) {
            GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("%s", msg), (NULL));
            ok = FALSE;
        }
    }
    g_free(msg);
    g_free(location);
    if (!ok) {
        sink_location_clear(&self->loc);
        return FALSE;
    }
    sink_queue_init(&self->queue);
    self->in_flight = FALSE;
    self->discard = FALSE;
    self->warned_mismatch = FALSE;
    self->backoff_ms = 0;
    self->next_attempt = 0;
    self->fdsink.self = self;
    g_atomic_int_set(&self->stopping, 0);
    self->thread = g_thread_new("scriptsink-writer", writer_thread, self);
    return TRUE;
}

static gboolean gst_script_sink_stop(GstBaseSink *sink) {
    GstScriptSink *self = GST_SCRIPT_SINK(sink);
    if (self->redis) {
        GST_OBJECT_LOCK(self);
        guint timeout_ms = self->drain_timeout;
        GST_OBJECT_UNLOCK(self);
        sink_redis_free(self->redis, timeout_ms);
        self->redis = NULL;
        return TRUE;
    }
    g_mutex_lock(&self->lock);
    g_atomic_int_set(&self->stopping, 1);
    g_cond_broadcast(&self->cond);
    g_mutex_unlock(&self->lock);
    if (self->thread)
        g_thread_join(self->thread);
    self->thread = NULL;
    disconnect(self);
    guint left = sink_queue_clear(&self->queue);
    if (left)
        add_counter(self, &self->dropped, left);
    script_packet_view_free(&self->view);
    sink_location_clear(&self->loc);
    return TRUE;
}

/* ---- properties and type ----------------------------------------------------------------------
 */

static void gst_script_sink_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
    GstScriptSink *self = GST_SCRIPT_SINK(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
        case PROP_LOCATION:
            g_free(self->location);
            self->location = g_value_dup_string(value);
            break;
        case PROP_MAX_PACKETS:
            self->max_packets = g_value_get_uint(value);
            break;
        case PROP_MAX_BYTES:
            self->max_bytes = g_value_get_uint64(value);
            break;
        case PROP_DROP_POLICY:
            self->policy = g_value_get_enum(value);
            break;
        case PROP_DTYPE:
            self->dtype = g_value_get_enum(value);
            break;
        case PROP_RECONNECT_MIN:
            self->reconnect_min = g_value_get_uint(value);
            break;
        case PROP_RECONNECT_MAX:
            self->reconnect_max = g_value_get_uint(value);
            break;
        case PROP_DRAIN_TIMEOUT:
            self->drain_timeout = g_value_get_uint(value);
            break;
        case PROP_REDIS_KEY:
            g_free(self->redis_key);
            self->redis_key = g_value_dup_string(value);
            break;
        case PROP_REDIS_MAXLEN:
            self->redis_maxlen = g_value_get_uint64(value);
            break;
        case PROP_REDIS_PASSWORD_FILE:
            g_free(self->redis_password_file);
            self->redis_password_file = g_value_dup_string(value);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_script_sink_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
    GstScriptSink *self = GST_SCRIPT_SINK(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
        case PROP_LOCATION:
            g_value_set_string(value, self->location);
            break;
        case PROP_MAX_PACKETS:
            g_value_set_uint(value, self->max_packets);
            break;
        case PROP_MAX_BYTES:
            g_value_set_uint64(value, self->max_bytes);
            break;
        case PROP_DROP_POLICY:
            g_value_set_enum(value, self->policy);
            break;
        case PROP_DTYPE:
            g_value_set_enum(value, self->dtype);
            break;
        case PROP_RECONNECT_MIN:
            g_value_set_uint(value, self->reconnect_min);
            break;
        case PROP_RECONNECT_MAX:
            g_value_set_uint(value, self->reconnect_max);
            break;
        case PROP_DRAIN_TIMEOUT:
            g_value_set_uint(value, self->drain_timeout);
            break;
        case PROP_REDIS_KEY:
            g_value_set_string(value, self->redis_key);
            break;
        case PROP_REDIS_MAXLEN:
            g_value_set_uint64(value, self->redis_maxlen);
            break;
        case PROP_REDIS_PASSWORD_FILE:
            g_value_set_string(value, self->redis_password_file);
            break;
        case PROP_PACKETS_WRITTEN:
            g_value_set_uint64(value, self->written);
            break;
        case PROP_PACKETS_DROPPED:
            g_value_set_uint64(value, self->dropped);
            break;
        case PROP_RECONNECTS:
            g_value_set_uint64(value, self->reconnects);
            break;
        case PROP_BYTES_WRITTEN:
            g_value_set_uint64(value, self->bytes_written);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_script_sink_finalize(GObject *object) {
    GstScriptSink *self = GST_SCRIPT_SINK(object);
    g_free(self->location);
    g_free(self->redis_key);
    g_free(self->redis_password_file);
    g_mutex_clear(&self->lock);
    g_cond_clear(&self->cond);
    G_OBJECT_CLASS(gst_script_sink_parent_class)->finalize(object);
}

static void install_counter(GObjectClass *gc, guint id, const gchar *name, const gchar *nick,
                            const gchar *blurb) {
    g_object_class_install_property(gc, id,
                                    g_param_spec_uint64(name, nick, blurb, 0, G_MAXUINT64, 0,
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void gst_script_sink_class_init(GstScriptSinkClass *klass) {
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_script_sink_debug, "scriptsink", 0,
                            "token-stream writer (scriptd)");

    gc->set_property = gst_script_sink_set_property;
    gc->get_property = gst_script_sink_get_property;
    gc->finalize = gst_script_sink_finalize;

    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
    const GParamFlags live = rw | GST_PARAM_MUTABLE_PLAYING;
    g_object_class_install_property(
        gc, PROP_LOCATION,
        g_param_spec_string("location", "Location",
                            "Where packets go: file:///path (created or truncated), "
                            "unix:///path (a listening stream socket), tcp://host:port, or a "
                            "Redis stream: redis://[:password@]host:port[/db] or "
                            "redis+unix:///path[?db=N] (one XADD per packet, see redis-key)",
                            NULL, ready));
    g_object_class_install_property(
        gc, PROP_MAX_PACKETS,
        g_param_spec_uint("max-queue-packets", "Queue packets",
                          "Packets waiting for the writer at most; then drop-policy applies", 1,
                          G_MAXINT32, DEFAULT_MAX_PACKETS, live));
    g_object_class_install_property(
        gc, PROP_MAX_BYTES,
        g_param_spec_uint64("max-queue-bytes", "Queue bytes",
                            "Bytes of token data waiting for the writer at most (a larger single "
                            "packet is queued alone)",
                            1, G_MAXUINT64, DEFAULT_MAX_BYTES, live));
    g_object_class_install_property(
        gc, PROP_DROP_POLICY,
        g_param_spec_enum("drop-policy", "Drop policy",
                          "Which packet goes when the queue is full: the oldest queued or the "
                          "newest (incoming)",
                          GST_TYPE_SCRIPT_DROP_POLICY, DEFAULT_POLICY, live));
    g_object_class_install_property(
        gc, PROP_DTYPE,
        g_param_spec_enum("dtype", "Token dtype", "Storage of token values on the wire",
                          GST_TYPE_SCRIPT_WIRE_DTYPE, DEFAULT_DTYPE, ready));
    g_object_class_install_property(
        gc, PROP_RECONNECT_MIN,
        g_param_spec_uint("reconnect-min-ms", "Reconnect min",
                          "First wait before retrying an absent peer, in ms (doubles per retry)", 1,
                          600000, DEFAULT_RECONNECT_MIN, live));
    g_object_class_install_property(gc, PROP_RECONNECT_MAX,
                                    g_param_spec_uint("reconnect-max-ms", "Reconnect max",
                                                      "Longest wait between retries, in ms", 1,
                                                      600000, DEFAULT_RECONNECT_MAX, live));
    g_object_class_install_property(
        gc, PROP_DRAIN_TIMEOUT,
        g_param_spec_uint("drain-timeout-ms", "Drain timeout",
                          "At EOS, how long queued packets may take to be written, in ms; the "
                          "rest is dropped",
                          0, 600000, DEFAULT_DRAIN_TIMEOUT, live));
    g_object_class_install_property(
        gc, PROP_REDIS_KEY,
        g_param_spec_string("redis-key", "Redis key",
                            "redis:// locations: the stream key; {stream} is the packets' stream "
                            "name (the element's name when they carry none)",
                            DEFAULT_REDIS_KEY, ready));
    g_object_class_install_property(
        gc, PROP_REDIS_MAXLEN,
        g_param_spec_uint64("redis-maxlen", "Redis MAXLEN",
                            "redis:// locations: trim the key to about this many entries on every "
                            "XADD (MAXLEN ~); 0 keeps every entry",
                            0, G_MAXUINT64, 0, ready));
    g_object_class_install_property(
        gc, PROP_REDIS_PASSWORD_FILE,
        g_param_spec_string("redis-password-file", "Redis password file",
                            "redis:// locations: a file whose first line is the password (wins "
                            "over one in the URL)",
                            NULL, ready));
    install_counter(gc, PROP_PACKETS_WRITTEN, "packets-written", "Packets written",
                    "Packets written since start");
    install_counter(gc, PROP_PACKETS_DROPPED, "packets-dropped", "Packets dropped",
                    "Packets dropped (queue full, EOS drain timeout, refused or lost)");
    install_counter(gc, PROP_RECONNECTS, "reconnects", "Reconnects",
                    "Connection attempts after a refusal or a lost connection");
    install_counter(gc, PROP_BYTES_WRITTEN, "bytes-written", "Bytes written",
                    "Bytes written since start, stream headers included");

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_set_static_metadata(
        element_class, "Script token-stream sink", "Sink/Network",
        "Writes scriptprune's token packets in the scriptd wire format to a file, a Unix socket "
        "or TCP, with a bounded queue and reconnection",
        "scriptd developers");

    sink_class->start = GST_DEBUG_FUNCPTR(gst_script_sink_start);
    sink_class->stop = GST_DEBUG_FUNCPTR(gst_script_sink_stop);
    sink_class->render = GST_DEBUG_FUNCPTR(gst_script_sink_render);
    sink_class->event = GST_DEBUG_FUNCPTR(gst_script_sink_event);

    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_DROP_POLICY, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_WIRE_DTYPE, 0);
}

static void gst_script_sink_init(GstScriptSink *self) {
    self->max_packets = DEFAULT_MAX_PACKETS;
    self->max_bytes = DEFAULT_MAX_BYTES;
    self->policy = DEFAULT_POLICY;
    self->dtype = DEFAULT_DTYPE;
    self->reconnect_min = DEFAULT_RECONNECT_MIN;
    self->reconnect_max = DEFAULT_RECONNECT_MAX;
    self->drain_timeout = DEFAULT_DRAIN_TIMEOUT;
    self->redis_key = g_strdup(DEFAULT_REDIS_KEY);
    self->fd = -1;
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    sink_queue_init(&self->queue);
    script_packet_view_init(&self->view);
    /* Packets are data, not presentation: no clock synchronisation. */
    gst_base_sink_set_sync(GST_BASE_SINK(self), FALSE);
}
