/* Connection probe for failed network sources (netprobe.h). */
#include "media/netprobe.h"

#include <string.h>

enum { PROBE_TIMEOUT_S = 5 };

typedef struct probe {
    char *where; /* host:port as probed */
    GCancellable *cancel;
    scd_netprobe_done done;
    void *user;
} probe;

static guint16 default_port(const char *scheme) {
    if (g_ascii_strcasecmp(scheme, "https") == 0)
        return 443;
    if (g_ascii_strcasecmp(scheme, "http") == 0)
        return 80;
    return 554; /* rtsp, rtsps, rtspt */
}

static void connected(GObject *src, GAsyncResult *res, gpointer data) {
    probe *p = data;
    GError *gerr = NULL;
    GSocketConnection *conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(src), res, &gerr);
    if (!g_cancellable_is_cancelled(p->cancel)) {
        char *cause;
        if (conn)
            cause = g_strdup_printf("the server at %s accepts connections: the failure is in the "
                                    "protocol or the media",
                                    p->where);
        else if (g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
            cause = g_strdup_printf("connection to %s refused (no server listening)", p->where);
        else if (g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            cause =
                g_strdup_printf("connection to %s timed out after %d s", p->where, PROBE_TIMEOUT_S);
        else
            cause = g_strdup_printf("cannot connect to %s: %s", p->where,
                                    gerr ? gerr->message : "unknown error");
        p->done(p->user, cause);
        g_free(cause);
    }
    if (conn)
        g_object_unref(conn);
    g_clear_error(&gerr);
    g_object_unref(p->cancel);
    g_free(p->where);
    g_free(p);
}

gboolean scd_netprobe_start(const char *uri, GCancellable *cancel, scd_netprobe_done done,
                            void *user) {
    const char *scheme = g_uri_peek_scheme(uri); /* interned, lower case */
    if (!scheme || (strncmp(scheme, "rtsp", 4) != 0 && strncmp(scheme, "http", 4) != 0))
        return FALSE;
    GError *gerr = NULL;
    GSocketConnectable *addr = g_network_address_parse_uri(uri, default_port(scheme), &gerr);
    if (!addr) {
        g_clear_error(&gerr);
        return FALSE;
    }
    probe *p = g_new0(probe, 1);
    p->where = g_strdup_printf("%s:%u", g_network_address_get_hostname(G_NETWORK_ADDRESS(addr)),
                               (unsigned)g_network_address_get_port(G_NETWORK_ADDRESS(addr)));
    p->cancel = g_object_ref(cancel);
    p->done = done;
    p->user = user;
    GSocketClient *client = g_socket_client_new();
    g_socket_client_set_timeout(client, PROBE_TIMEOUT_S);
    g_socket_client_connect_async(client, addr, cancel, connected, p);
    g_object_unref(client);
    g_object_unref(addr);
    return TRUE;
}
