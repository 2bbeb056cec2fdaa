/* The HTTP API's listening sockets, accepted by GIO and handed to libsoup.
 *
 * scriptd accepts connections itself (a GSocketService on the main context) and passes each to
 * soup_server_accept_iostream() instead of using soup_server_listen(): libsoup before 3.4 keeps
 * one reference too many on every socket its own listener accepts ("soup-listener: Plug a leak",
 * libsoup commit b545d5f0, first in 3.4.0; Debian 12 ships 3.2.3), so each connection would leak
 * a GSocket. Every response also carries "Connection: close" (http_server.c): libsoup before 3.3
 * never frees a kept-alive connection that the client closes while idle (commit d20c6601), which
 * leaked a file descriptor per client connection.
 *
 * The remote address handed to libsoup carries the connection's GSocket as object data, so that
 * scd_http_message_socket() can find the socket of a message (to disconnect a slow follow client)
 * although libsoup's own accessor has none for connections it did not accept.
 *
 * Slow and idle clients. libsoup 3.2 has no read timeouts and resets a connection whose head
 * passes its 64 KiB limit without answering. So scriptd reads each request head itself before
 * libsoup sees the connection: a connection that has not sent a complete head within
 * server.header_timeout_s is closed; a request line over SCD_HTTP_MAX_REQUEST_LINE bytes gets
 * 414, a head over SCD_HTTP_MAX_HEAD bytes 431, a Content-Length that is not a decimal number
 * 400, each with a JSON error, written here. A complete head is handed to libsoup with the bytes
 * already read in front of the connection's input (http_prefix_stream.h). From then on a timer
 * runs until libsoup has read the whole body (its "request-read" signal): when
 * server.body_timeout_s passes first, the client gets 400 and the socket is shut down, which ends
 * libsoup's read. Connections beyond server.max_connections get 503 and are closed. A reply
 * written here is followed by a lingering close (the write side is shut, what the client still
 * sends is read and dropped for a short while) so that the client sees the reply rather than a
 * reset. Main thread. */
#ifndef SCRIPTD_HTTP_LISTEN_H
#define SCRIPTD_HTTP_LISTEN_H

#include <libsoup/soup.h>

#include "scriptprune/error.h"

typedef struct scd_listen scd_listen;

/* Longest request line ("GET /path?query HTTP/1.1") and whole request head scriptd reads; both
 * stay below libsoup's own 64 KiB limit, which it enforces by resetting the connection. */
enum { SCD_HTTP_MAX_REQUEST_LINE = 8192, SCD_HTTP_MAX_HEAD = 32768 };
/* Pending connections the kernel queues for accept (listen(2) backlog). */
enum { SCD_HTTP_LISTEN_BACKLOG = 1024 };

typedef struct scd_listen_limits {
    double header_timeout_s;
    double body_timeout_s;
    int max_connections;
} scd_listen_limits;

typedef struct scd_listen_hooks {
    /* The limits now (read at each accept, so a reload applies to new connections). */
    void (*limits)(void *data, scd_listen_limits *out);
    /* A reply written here, before libsoup parsed a request: status 400, 414, 431 or 503. */
    void (*replied)(void *data, guint status);
    void *data;
} scd_listen_hooks;

scd_listen *scd_listen_new(SoupServer *server, const scd_listen_hooks *hooks);
/* Closes the listening sockets and the connections whose head is still being read (connections
 * already handed over stay with libsoup). */
void scd_listen_free(scd_listen *l);

/* host (IPv4/IPv6 literal or a name, resolved once), port 0 = any free port. *bound_port gets
 * the port the kernel gave. */
sp_status scd_listen_tcp(scd_listen *l, const char *host, int port, int *bound_port, sp_error *err);
/* A UNIX stream socket at path (a stale socket file there is replaced; anything else is an
 * error). */
sp_status scd_listen_unix(scd_listen *l, const char *path, sp_error *err);

/* The socket of the connection msg arrived on, or NULL. Borrowed. */
GSocket *scd_http_message_socket(SoupServerMessage *msg);

/* The status the client of msg was sent: the reply written here after the body timeout, else
 * the status of the response headers libsoup wrote, else msg's status (0: none yet). When the
 * client goes away during a response (a follow session it ends), libsoup turns the status into
 * 500; the client was sent the headers of another. */
guint scd_http_message_status(SoupServerMessage *msg);

#endif
