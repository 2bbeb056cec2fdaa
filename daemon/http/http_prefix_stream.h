/* An input stream that first returns bytes already read from a connection (the request head
 * scriptd reads itself, http_listen.c) and then reads on from the connection. It is pollable,
 * as libsoup requires of the streams it is given. Closing it closes the whole connection.
 * Main thread. */
#ifndef SCRIPTD_HTTP_PREFIX_STREAM_H
#define SCRIPTD_HTTP_PREFIX_STREAM_H

#include <gio/gio.h>

/* conn: the connection (referenced; its input stream must be pollable). prefix: the bytes
 * read from it so far (referenced). */
GInputStream *scd_prefix_stream_new(GIOStream *conn, GBytes *prefix);

#endif
