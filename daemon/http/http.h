/* scriptd's HTTP API server (libsoup 3) on the main loop's context, which it shares with the
 * GStreamer bus watches. Routes are listed in http_server.c and documented in the README.
 *
 * Every request goes through an early stage, after its headers and before its body: the route is
 * resolved, the bearer token checked (server.token_file; /healthz is exempt), and a body larger
 * than server.max_body_bytes is refused with 413 before it is stored (Content-Length, or while a
 * chunked body arrives). Main thread only. */
#ifndef SCRIPTD_HTTP_H
#define SCRIPTD_HTTP_H

#include <gio/gio.h>

#include "app.h"
#include "scriptprune/error.h"

/* Listens on server.listen (TCP; port 0 picks a free one) and server.unix_socket. */
sp_status scd_http_new(scd_app *app, scd_http **out, sp_error *err);
/* Closes the listeners and every connection. */
void scd_http_free(scd_http *h);

/* Serves stream (already connected, e.g. one end of a socket pair) as one client connection, as
 * if a listener had accepted it: the fuzz target drives the real routes this way, without a
 * network. */
sp_status scd_http_serve_stream(scd_http *h, GIOStream *stream, sp_error *err);

/* The bound TCP address as host:port ("" without a TCP listener) and its port (0 without). */
const char *scd_http_tcp_address(const scd_http *h);
int scd_http_tcp_port(const scd_http *h);

#endif
