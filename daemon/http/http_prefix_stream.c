/* A pollable input stream with a prefix (http_prefix_stream.h). */
#include "http/http_prefix_stream.h"

#include <string.h>

typedef struct {
    GInputStream parent;
    GIOStream *conn;
    GInputStream *base; /* conn's input stream (borrowed from conn) */
    GBytes *prefix;
    gsize pos; /* bytes of prefix returned so far */
} ScdPrefixStream;

typedef struct {
    GInputStreamClass parent_class;
} ScdPrefixStreamClass;

static void pollable_iface_init(GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE(ScdPrefixStream, scd_prefix_stream, G_TYPE_INPUT_STREAM,
                        G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM, pollable_iface_init))

static gsize prefix_left(ScdPrefixStream *s) {
    return g_bytes_get_size(s->prefix) - s->pos;
}

/* Copies up to count bytes of the prefix; returns how many. */
static gssize take_prefix(ScdPrefixStream *s, void *buffer, gsize count) {
    gsize n = MIN(count, prefix_left(s));
    memcpy(buffer, (const char *)g_bytes_get_data(s->prefix, NULL) + s->pos, n);
    s->pos += n;
    return (gssize)n;
}

static gssize read_fn(GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                      GError **error) {
    ScdPrefixStream *s = (ScdPrefixStream *)stream;
    if (prefix_left(s) > 0)
        return take_prefix(s, buffer, count);
    return g_input_stream_read(s->base, buffer, count, cancellable, error);
}

static gboolean close_fn(GInputStream *stream, GCancellable *cancellable, GError **error) {
    ScdPrefixStream *s = (ScdPrefixStream *)stream;
    return g_io_stream_close(s->conn, cancellable, error);
}

static gboolean can_poll(GPollableInputStream *stream) {
    (void)stream;
    return TRUE;
}

static gboolean is_readable(GPollableInputStream *stream) {
    ScdPrefixStream *s = (ScdPrefixStream *)stream;
    return prefix_left(s) > 0 ||
           g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(s->base));
}

static GSource *create_source(GPollableInputStream *stream, GCancellable *cancellable) {
    ScdPrefixStream *s = (ScdPrefixStream *)stream;
    /* Readable now (a source that is ready at once), or when the connection is. The child gets
     * its dummy callback from g_pollable_source_new_full and must not have one already: replacing
     * a closure callback invalidates the old closure, and GLib's invalidation notifier destroys
     * the (not yet attached) source, which then never fires: a request body that arrived after
     * its head was never read. */
    GSource *child =
        prefix_left(s) > 0
            ? g_timeout_source_new(0)
            : g_pollable_input_stream_create_source(G_POLLABLE_INPUT_STREAM(s->base), NULL);
    GSource *src = g_pollable_source_new_full(stream, child, cancellable);
    g_source_unref(child);
    return src;
}

static gssize read_nonblocking(GPollableInputStream *stream, void *buffer, gsize count,
                               GError **error) {
    ScdPrefixStream *s = (ScdPrefixStream *)stream;
    if (prefix_left(s) > 0)
        return take_prefix(s, buffer, count);
    return g_pollable_input_stream_read_nonblocking(G_POLLABLE_INPUT_STREAM(s->base), buffer, count,
                                                    NULL, error);
}

static void pollable_iface_init(GPollableInputStreamInterface *iface) {
    iface->can_poll = can_poll;
    iface->is_readable = is_readable;
    iface->create_source = create_source;
    iface->read_nonblocking = read_nonblocking;
}

static void finalize(GObject *object) {
    ScdPrefixStream *s = (ScdPrefixStream *)object;
    g_bytes_unref(s->prefix);
    g_object_unref(s->conn);
    G_OBJECT_CLASS(scd_prefix_stream_parent_class)->finalize(object);
}

static void scd_prefix_stream_class_init(ScdPrefixStreamClass *klass) {
    G_OBJECT_CLASS(klass)->finalize = finalize;
    G_INPUT_STREAM_CLASS(klass)->read_fn = read_fn;
    G_INPUT_STREAM_CLASS(klass)->close_fn = close_fn;
}

static void scd_prefix_stream_init(ScdPrefixStream *s) {
    (void)s;
}

GInputStream *scd_prefix_stream_new(GIOStream *conn, GBytes *prefix) {
    ScdPrefixStream *s = g_object_new(scd_prefix_stream_get_type(), NULL);
    s->conn = g_object_ref(conn);
    s->base = g_io_stream_get_input_stream(conn);
    s->prefix = g_bytes_ref(prefix);
    return G_INPUT_STREAM(s);
}
