/* HTTP follow clients of a stream (see follow.h). */
#include "runtime/follow.h"

#include <string.h>

#include "telemetry/log.h"
#include "packetview.h"
#include "scriptprune/wire.h"

typedef struct client {
    scd_follow *owner;
    SoupServerMessage *msg;
    GSocket *sock;     /* the connection's socket, shut down to drop a slow client; may be NULL */
    guint gen;         /* wire stream the client is reading; 0 = waiting for a header */
    uint64_t appended; /* bytes handed to libsoup */
    uint64_t written;  /* bytes libsoup reported written */
    gulong finished_id, wrote_id;
    guint events; /* event kinds asked for (SCD_FOLLOW_EVENT_BIT) */
    bool closing;
} client;

struct scd_follow {
    char *id;
    scd_metric_families *m;

    /* Streaming side (lock): the writer of the current run and the bytes it produced. */
    GMutex lock;
    sp_wire_writer *writer;
    sp_wire_header header;
    GByteArray *capture; /* what the writer's sink received during one call */
    GBytes *header_bytes;
    guint gen;    /* incremented for each new wire stream */
    bool new_run; /* the next packet starts a new wire stream */
    ScriptPacketView view;

    /* Main thread. */
    GPtrArray *clients;  /* client* */
    GBytes *main_header; /* header of the newest wire stream delivered */
    guint main_gen;
    uint64_t limit;
};

typedef struct delivery {
    scd_follow *f;
    guint gen;
    GBytes *header; /* the stream header of gen */
    GBytes *packet;
} delivery;

static sp_status capture_sink(void *user, const void *data, size_t len, sp_error *err) {
    (void)err;
    g_byte_array_append(user, data, (guint)len);
    return SP_OK;
}

scd_follow *scd_follow_new(const char *stream_id, uint64_t queue_limit, scd_metric_families *m) {
    scd_follow *f = g_atomic_rc_box_new0(scd_follow);
    f->id = g_strdup(stream_id);
    f->m = m;
    g_mutex_init(&f->lock);
    f->capture = g_byte_array_new();
    f->clients = g_ptr_array_new();
    f->limit = queue_limit;
    script_packet_view_init(&f->view);
    return f;
}

scd_follow *scd_follow_ref(scd_follow *f) {
    return g_atomic_rc_box_acquire(f);
}

static void client_end(client *c);
static void client_detach(client *c);

static void follow_clear(gpointer data) {
    scd_follow *f = data;
    /* End every response and stop tracking it: libsoup finishes sending on its own. */
    while (f->clients->len > 0) {
        client *c = g_ptr_array_index(f->clients, f->clients->len - 1);
        client_end(c);
        client_detach(c);
    }
    g_ptr_array_unref(f->clients);
    sp_wire_writer_free(f->writer);
    g_byte_array_unref(f->capture);
    if (f->header_bytes)
        g_bytes_unref(f->header_bytes);
    if (f->main_header)
        g_bytes_unref(f->main_header);
    script_packet_view_free(&f->view);
    g_mutex_clear(&f->lock);
    g_free(f->id);
}

void scd_follow_unref(scd_follow *f) {
    if (f)
        g_atomic_rc_box_release_full(f, follow_clear);
}

void scd_follow_new_run(scd_follow *f) {
    g_mutex_lock(&f->lock);
    f->new_run = true;
    g_mutex_unlock(&f->lock);
}

/* ---- main thread ---------------------------------------------------------------------------- */

static void client_detach(client *c) {
    scd_follow *f = c->owner;
    g_signal_handler_disconnect(c->msg, c->finished_id);
    g_signal_handler_disconnect(c->msg, c->wrote_id);
    g_ptr_array_remove(f->clients, c);
    g_object_unref(c->msg);
    g_clear_object(&c->sock);
    g_free(c);
    const char *l[] = {f->id};
    scd_metric_gauge_set(f->m->follow_clients, l, f->clients->len);
}

static void on_finished(SoupServerMessage *msg, gpointer data) {
    (void)msg;
    client_detach(data);
}

static void on_wrote(SoupServerMessage *msg, guint n, gpointer data) {
    (void)msg;
    client *c = data;
    c->written += n;
}

/* Ends the response with the terminating chunk; libsoup sends what is queued first. */
static void client_end(client *c) {
    if (c->closing)
        return;
    c->closing = true;
    soup_message_body_complete(soup_server_message_get_response_body(c->msg));
    soup_server_message_unpause(c->msg);
}

/* Disconnects a client that fell behind: shutting the socket down fails its pending write, and
 * libsoup then finishes the message (on_finished frees the client). */
static void client_drop(client *c) {
    scd_follow *f = c->owner;
    const char *l[] = {f->id};
    scd_metric_counter_add(f->m->follow_dropped, l, 1);
    scd_log(SCD_LOG_WARNING, "follow",
            "%s: a client fell %" G_GUINT64_FORMAT " bytes behind (bound %" G_GUINT64_FORMAT
            "): disconnected",
            f->id, c->appended - c->written, f->limit);
    c->closing = true;
    if (c->sock)
        g_socket_shutdown(c->sock, TRUE, TRUE, NULL);
    soup_message_body_complete(soup_server_message_get_response_body(c->msg));
    soup_server_message_unpause(c->msg);
}

static void client_append(client *c, GBytes *bytes) {
    if (c->closing)
        return;
    gsize n = g_bytes_get_size(bytes);
    if (c->appended - c->written + n > c->owner->limit) {
        client_drop(c);
        return;
    }
    soup_message_body_append_bytes(soup_server_message_get_response_body(c->msg), bytes);
    c->appended += n;
    soup_server_message_unpause(c->msg);
}

static gboolean deliver(gpointer data) {
    delivery *d = data;
    scd_follow *f = d->f;
    if (d->gen != f->main_gen) {
        if (f->main_header)
            g_bytes_unref(f->main_header);
        f->main_header = g_bytes_ref(d->header);
        f->main_gen = d->gen;
    }
    /* Copy: ending or dropping a client may remove it from the array. */
    GPtrArray *snapshot = g_ptr_array_copy(f->clients, NULL, NULL);
    for (guint i = 0; i < snapshot->len; i++) {
        client *c = g_ptr_array_index(snapshot, i);
        if (c->closing)
            continue;
        if (c->gen == 0) {
            c->gen = d->gen;
            client_append(c, d->header);
        } else if (c->gen != d->gen) {
            client_end(c); /* a new wire stream began: this client's stream is complete */
            continue;
        }
        client_append(c, d->packet);
    }
    g_ptr_array_unref(snapshot);
    return G_SOURCE_REMOVE;
}

static void delivery_free(gpointer data) {
    delivery *d = data;
    g_bytes_unref(d->header);
    g_bytes_unref(d->packet);
    scd_follow_unref(d->f);
    g_free(d);
}

void scd_follow_attach(scd_follow *f, SoupServerMessage *msg, GSocket *sock, guint events) {
    client *c = g_new0(client, 1);
    c->owner = f;
    c->events = events;
    c->msg = g_object_ref(msg);
    c->sock = sock ? g_object_ref(sock) : NULL;
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
    soup_message_headers_set_content_type(h, SCD_FOLLOW_CONTENT_TYPE, NULL);
    soup_message_headers_replace(h, "Cache-Control", "no-store");
    /* Sent chunks are not kept: a follow response may run for days. */
    soup_message_body_set_accumulate(soup_server_message_get_response_body(msg), FALSE);
    c->finished_id = g_signal_connect(msg, "finished", G_CALLBACK(on_finished), c);
    c->wrote_id = g_signal_connect(msg, "wrote-body-data", G_CALLBACK(on_wrote), c);
    g_ptr_array_add(f->clients, c);
    if (f->main_header) {
        c->gen = f->main_gen;
        client_append(c, f->main_header);
    }
    const char *l[] = {f->id};
    scd_metric_gauge_set(f->m->follow_clients, l, f->clients->len);
}

void scd_follow_event(scd_follow *f, unsigned kind, GBytes *record) {
    /* Copy: dropping a client that fell behind removes it from the array. */
    GPtrArray *snapshot = g_ptr_array_copy(f->clients, NULL, NULL);
    for (guint i = 0; i < snapshot->len; i++) {
        client *c = g_ptr_array_index(snapshot, i);
        if (c->gen != 0 && (c->events & SCD_FOLLOW_EVENT_BIT(kind)))
            client_append(c, record);
    }
    g_ptr_array_unref(snapshot);
}

void scd_follow_close_all(scd_follow *f) {
    GPtrArray *snapshot = g_ptr_array_copy(f->clients, NULL, NULL);
    for (guint i = 0; i < snapshot->len; i++)
        client_end(g_ptr_array_index(snapshot, i));
    g_ptr_array_unref(snapshot);
}

void scd_follow_set_limit(scd_follow *f, uint64_t queue_limit) {
    f->limit = queue_limit;
}

guint scd_follow_clients(scd_follow *f) {
    return f->clients->len;
}

uint64_t scd_follow_queued_bytes(scd_follow *f) {
    uint64_t sum = 0;
    for (guint i = 0; i < f->clients->len; i++) {
        client *c = g_ptr_array_index(f->clients, i);
        sum += c->appended - c->written;
    }
    return sum;
}

/* ---- streaming thread ----------------------------------------------------------------------- */

static GBytes *take_capture(scd_follow *f) {
    GBytes *b = g_bytes_new(f->capture->data, f->capture->len);
    g_byte_array_set_size(f->capture, 0);
    return b;
}

static bool header_equal(const sp_wire_header *a, const sp_wire_header *b) {
    return a->dtype == b->dtype && a->kind == b->kind && a->d == b->d && a->grid_h == b->grid_h &&
           a->grid_w == b->grid_w && a->window == b->window && a->hop == b->hop &&
           a->budget == b->budget && a->tau_t == b->tau_t && strcmp(a->name, b->name) == 0;
}

/* A header for p; a new writer (and wire stream) when there is none, the run changed or the
 * packet no longer fits the header (another grid or width). Lock held. */
static sp_status ensure_writer(scd_follow *f, const GstScriptPacket *p, sp_error *err) {
    sp_wire_header h;
    if (gst_script_packet_width(p) == 0 && f->writer && !f->new_run)
        return SP_OK; /* an empty packet: keep the stream's header */
    sp_status st = script_packet_wire_header(p, SP_DTYPE_F32, &h, err);
    if (st != SP_OK)
        return st;
    if (f->writer && !f->new_run && header_equal(&h, &f->header))
        return SP_OK;
    sp_wire_writer_free(f->writer);
    f->writer = NULL;
    g_byte_array_set_size(f->capture, 0);
    st = sp_wire_writer_new(&h, capture_sink, f->capture, &f->writer, err);
    if (st != SP_OK)
        return st;
    f->header = h;
    if (f->header_bytes)
        g_bytes_unref(f->header_bytes);
    f->header_bytes = take_capture(f);
    f->gen++;
    f->new_run = false;
    return SP_OK;
}

void scd_follow_packet(scd_follow *f, const GstScriptPacket *p) {
    sp_error err;
    sp_error_clear(&err);
    g_mutex_lock(&f->lock);
    sp_status st = ensure_writer(f, p, &err);
    if (st == SP_OK)
        st = script_packet_view_map(&f->view, p, f->header.d, &err);
    if (st == SP_OK) {
        st = sp_wire_writer_packet(f->writer, &f->view.packet, &err);
        script_packet_view_release(&f->view);
    }
    if (st != SP_OK) {
        g_byte_array_set_size(f->capture, 0);
        g_mutex_unlock(&f->lock);
        const char *l[] = {f->id, "follow"};
        scd_metric_counter_add(f->m->sink_errors, l, 1);
        scd_log(SCD_LOG_WARNING, "follow",
                "%s: packet of window %" G_GUINT64_FORMAT " not sent: %s", f->id, p->window_id,
                err.message);
        return;
    }
    delivery *d = g_new0(delivery, 1);
    d->f = scd_follow_ref(f);
    d->gen = f->gen;
    d->header = g_bytes_ref(f->header_bytes);
    d->packet = take_capture(f);
    g_mutex_unlock(&f->lock);
    const char *l[] = {f->id, "follow"};
    scd_metric_counter_add(f->m->sink_written, l, 1);
    /* An idle source always runs in the thread running the main loop (libsoup is not
     * thread-safe), even when nobody owns the context at the moment. */
    g_idle_add_full(G_PRIORITY_DEFAULT, deliver, d, delivery_free);
}
