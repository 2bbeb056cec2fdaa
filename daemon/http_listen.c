/* Listening sockets of the HTTP API (http_listen.h). */
#include "http_listen.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>

#include "log.h"

#define SOCKET_KEY "scd-socket"

struct scd_listen {
    SoupServer *server;
    GSocketService *service;
};

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                            gpointer data) {
    (void)service;
    (void)source;
    scd_listen *l = data;
    GSocket *sock = g_socket_connection_get_socket(conn);
    if (g_socket_get_family(sock) != G_SOCKET_FAMILY_UNIX)
        g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
    GSocketAddress *local = g_socket_connection_get_local_address(conn, NULL);
    GSocketAddress *remote = g_socket_connection_get_remote_address(conn, NULL);
    /* An unnamed UNIX client has no address to report: give libsoup an empty one. */
    if (!local)
        local = g_unix_socket_address_new("");
    if (!remote)
        remote = g_unix_socket_address_new("");
    g_object_set_data_full(G_OBJECT(remote), SOCKET_KEY, g_object_ref(sock), g_object_unref);
    GError *gerr = NULL;
    if (!soup_server_accept_iostream(l->server, G_IO_STREAM(conn), local, remote, &gerr)) {
        scd_log(SCD_LOG_WARNING, "http", "a connection could not be accepted: %s",
                gerr ? gerr->message : "error");
        g_clear_error(&gerr);
    }
    g_object_unref(local);
    g_object_unref(remote);
    return TRUE;
}

scd_listen *scd_listen_new(SoupServer *server) {
    scd_listen *l = g_new0(scd_listen, 1);
    l->server = server;
    l->service = g_socket_service_new();
    g_signal_connect(l->service, "incoming", G_CALLBACK(on_incoming), l);
    return l;
}

void scd_listen_free(scd_listen *l) {
    if (!l)
        return;
    g_socket_service_stop(l->service);
    g_socket_listener_close(G_SOCKET_LISTENER(l->service));
    g_signal_handlers_disconnect_by_data(l->service, l);
    g_object_unref(l->service);
    g_free(l);
}

sp_status scd_listen_tcp(scd_listen *l, const char *host, int port, int *bound_port,
                         sp_error *err) {
    *bound_port = 0;
    GError *gerr = NULL;
    GInetAddress *ia = g_inet_address_new_from_string(host);
    if (!ia) {
        GResolver *res = g_resolver_get_default();
        GList *list = g_resolver_lookup_by_name(res, host, NULL, &gerr);
        g_object_unref(res);
        if (!list) {
            sp_error_set(err, SP_ERR_IO, "server.listen: cannot resolve '%s': %s", host,
                         gerr ? gerr->message : "no address");
            g_clear_error(&gerr);
            return SP_ERR_IO;
        }
        ia = g_object_ref(list->data);
        g_resolver_free_addresses(list);
    }
    GSocketAddress *sa = g_inet_socket_address_new(ia, (guint16)port);
    g_object_unref(ia);
    GSocketAddress *effective = NULL;
    gboolean ok =
        g_socket_listener_add_address(G_SOCKET_LISTENER(l->service), sa, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, &gerr);
    g_object_unref(sa);
    if (!ok) {
        sp_error_set(err, SP_ERR_IO, "server.listen: cannot listen on %s:%d: %s", host, port,
                     gerr ? gerr->message : "error");
        g_clear_error(&gerr);
        return SP_ERR_IO;
    }
    if (effective && G_IS_INET_SOCKET_ADDRESS(effective))
        *bound_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
    if (effective)
        g_object_unref(effective);
    g_socket_service_start(l->service);
    return SP_OK;
}

sp_status scd_listen_unix(scd_listen *l, const char *path, sp_error *err) {
    GStatBuf sb;
    if (g_lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode))
            return sp_error_set(err, SP_ERR_IO, "server.unix_socket: %s exists and is not a socket",
                                path);
        g_unlink(path); /* a stale socket of an earlier run */
    }
    GError *gerr = NULL;
    GSocket *s =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &gerr);
    GSocketAddress *ua = s ? g_unix_socket_address_new(path) : NULL;
    gboolean ok = s && g_socket_bind(s, ua, TRUE, &gerr) && g_socket_listen(s, &gerr) &&
                  g_socket_listener_add_socket(G_SOCKET_LISTENER(l->service), s, NULL, &gerr);
    if (ua)
        g_object_unref(ua);
    if (s)
        g_object_unref(s);
    if (!ok) {
        sp_error_set(err, SP_ERR_IO, "server.unix_socket: cannot listen on %s: %s", path,
                     gerr ? gerr->message : "error");
        g_clear_error(&gerr);
        return SP_ERR_IO;
    }
    g_socket_service_start(l->service);
    return SP_OK;
}

GSocket *scd_http_message_socket(SoupServerMessage *msg) {
    GSocketAddress *remote = soup_server_message_get_remote_address(msg);
    return remote ? g_object_get_data(G_OBJECT(remote), SOCKET_KEY) : NULL;
}
