/* scriptsink's byte transport: locations (file://, unix://, tcp://), opening and connecting, and
 * writing with bounded waits so a stuck peer cannot hold the writer thread forever. */
#ifndef GST_SCRIPT_SINKCONN_H
#define GST_SCRIPT_SINKCONN_H

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum { SINK_LOC_FILE, SINK_LOC_UNIX, SINK_LOC_TCP } SinkLocKind;

typedef struct {
    SinkLocKind kind;
    gchar *path; /* file and unix */
    gchar *host; /* tcp */
    gchar *port; /* tcp, decimal */
} SinkLocation;

/* Parses file:///path, unix:///path, tcp://host:port (IPv6 hosts in brackets) or a plain
 * absolute path (a file). FALSE with *msg (g_free). */
gboolean sink_location_parse(const gchar *location, SinkLocation *out, gchar **msg);
void sink_location_clear(SinkLocation *loc);

/* Opens a file (created or truncated) or connects a socket (waiting at most timeout_ms). Returns
 * the descriptor, or -1 with *msg. Sockets are non-blocking. */
int sink_connect(const SinkLocation *loc, gint timeout_ms, gchar **msg);

/* Writes all len bytes. Sockets wait for room in slices of 100 ms, give up after stall_ms
 * without progress or when *stop becomes non-zero. FALSE with *msg. */
gboolean sink_write_all(int fd, gboolean socket, const void *data, gsize len, gint stall_ms,
                        const gint *stop, gchar **msg);

G_END_DECLS

#endif
