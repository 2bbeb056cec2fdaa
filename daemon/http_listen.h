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
 * although libsoup's own accessor has none for connections it did not accept. Main thread. */
#ifndef SCRIPTD_HTTP_LISTEN_H
#define SCRIPTD_HTTP_LISTEN_H

#include <libsoup/soup.h>

#include "scriptprune/error.h"

typedef struct scd_listen scd_listen;

scd_listen *scd_listen_new(SoupServer *server);
/* Closes the listening sockets (connections already accepted stay with libsoup). */
void scd_listen_free(scd_listen *l);

/* host (IPv4/IPv6 literal or a name, resolved once), port 0 = any free port. *bound_port gets
 * the port the kernel gave. */
sp_status scd_listen_tcp(scd_listen *l, const char *host, int port, int *bound_port, sp_error *err);
/* A UNIX stream socket at path (a stale socket file there is replaced; anything else is an
 * error). */
sp_status scd_listen_unix(scd_listen *l, const char *path, sp_error *err);

/* The socket of the connection msg arrived on, or NULL. Borrowed. */
GSocket *scd_http_message_socket(SoupServerMessage *msg);

#endif
