/* Listening sockets of the HTTP API and the connections' first stage (http_listen.h). */
#include "http/http_listen.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/stat.h>

#include "http/http_prefix_stream.h"
#include "http/http_util.h"
#include "telemetry/log.h"

#define SOCKET_KEY "scd-socket"
#define CONN_KEY "scd-conn"
#define SENT_KEY "scd-sent-status"

/* 431 Request Header Fields Too Large (RFC 6585) has no name in libsoup 3.2. */
#define STATUS_HEADERS_TOO_LARGE 431u

/* How long a connection that got a reply here is drained before it is closed. */
#define LINGER_MS 2000
/* A header or body deadline that fires this late, or while the client's bytes wait unread, was
 * missed by the main loop (held up by a pipeline starting, a long selection, a busy machine),
 * not by the client: the reader gets GRACE_MS more before the connection is judged. */
#define STALL_US (G_USEC_PER_SEC / 2)
#define GRACE_MS 1000
#define MAX_UNREAD_GRACES 3

typedef enum {
    STAGE_HEAD,    /* reading the request head */
    STAGE_LIBSOUP, /* handed to libsoup */
    STAGE_LINGER,  /* replied here; draining what the client still sends */
} conn_stage;

typedef struct conn {
    scd_listen *l; /* NULL once the listener is freed */
    GSocketConnection *gconn;
    GSocket *sock; /* borrowed from gconn */
    GSocketAddress *local, *remote;
    GByteArray *head; /* STAGE_HEAD: bytes read so far */
    GSource *io;      /* readable watch (STAGE_HEAD, STAGE_LINGER) */
    GSource *timer;   /* header, body or linger deadline */
    conn_stage stage;
    double body_timeout_s;  /* the limit when the head was handed over */
    gint64 deadline_us;     /* monotonic time the header or body timer is due */
    guint unread_graces;    /* graces given because the client's bytes waited unread */
    SoupServerMessage *msg; /* weak: the request libsoup reads (STAGE_LIBSOUP) */
} conn;

struct scd_listen {
    SoupServer *server;
    GSocketService *service;
    scd_listen_hooks hooks;
    GHashTable *conns; /* conn* set: every connection from accept to close */
    int active;        /* connections not lingering */
    gint64 cap_warned; /* monotonic µs of the last "connections full" warning */
};

/* ---- replies written here ------------------------------------------------------------------- */

/* Writes a complete JSON error response. The socket is fresh (nothing else was written) and the
 * reply is small, so one non-blocking send fits the socket buffer; a client that is not there
 * any more simply does not get it. */
static void send_reply(GSocket *sock, guint status, const char *code, const char *message) {
    gsize len = 0;
    char *body = scd_http_error_body(code, message, &len);
    char *text =
        g_strdup_printf("HTTP/1.1 %u %s\r\nServer: scriptd/" SCRIPTD_VERSION
                        "\r\nContent-Type: application/json\r\nContent-Length: %" G_GSIZE_FORMAT
                        "\r\nConnection: close\r\n\r\n%s",
                        status,
                        status == STATUS_HEADERS_TOO_LARGE ? "Request Header Fields Too Large"
                                                           : soup_status_get_phrase(status),
                        len, body);
    g_socket_send_with_blocking(sock, text, strlen(text), FALSE, NULL, NULL);
    g_free(text);
    g_free(body);
}

/* ---- connection life ------------------------------------------------------------------------ */

static void clear_source(GSource **s) {
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static void set_stage(conn *c, conn_stage stage) {
    if (c->l && c->stage != STAGE_LINGER && stage == STAGE_LINGER)
        c->l->active--;
    c->stage = stage;
}

/* Frees c; the socket is closed with gconn unless libsoup still holds it. */
static void conn_free(conn *c) {
    clear_source(&c->io);
    clear_source(&c->timer);
    if (c->l) {
        if (c->stage != STAGE_LINGER)
            c->l->active--;
        g_hash_table_remove(c->l->conns, c);
    }
    if (c->msg)
        g_object_remove_weak_pointer(G_OBJECT(c->msg), (gpointer *)&c->msg);
    g_object_set_data(G_OBJECT(c->remote), CONN_KEY, NULL);
    if (c->head)
        g_byte_array_unref(c->head);
    g_object_unref(c->local);
    g_object_unref(c->remote);
    g_object_unref(c->gconn);
    g_free(c);
}

/* Closes a connection that libsoup never saw. */
static void conn_close(conn *c) {
    g_io_stream_close(G_IO_STREAM(c->gconn), NULL, NULL);
    conn_free(c);
}

static gboolean on_linger_readable(GSocket *sock, GIOCondition cond, gpointer data) {
    conn *c = data;
    char buf[4096];
    gssize n = (cond & G_IO_IN)
                   ? g_socket_receive_with_blocking(sock, buf, sizeof buf, FALSE, NULL, NULL)
                   : 0;
    if (n > 0)
        return G_SOURCE_CONTINUE;
    conn_close(c); /* the client closed (or the connection failed) */
    return G_SOURCE_REMOVE;
}

static gboolean on_linger_timeout(gpointer data) {
    conn *c = data;
    conn_close(c);
    return G_SOURCE_REMOVE;
}

/* Replies here and then closes gracefully: the write side is shut at once and what the client
 * still sends is drained until it closes or LINGER_MS pass, so its reply is not lost to a reset
 * (closing a socket with unread input makes the kernel send RST). */
static void reply_and_linger(conn *c, guint status, const char *code, const char *message) {
    send_reply(c->sock, status, code, message);
    if (c->l && c->l->hooks.replied)
        c->l->hooks.replied(c->l->hooks.data, status);
    g_socket_shutdown(c->sock, FALSE, TRUE, NULL);
    set_stage(c, STAGE_LINGER);
    clear_source(&c->io);
    clear_source(&c->timer);
    c->io = g_socket_create_source(c->sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(c->io, G_SOURCE_FUNC(on_linger_readable), c, NULL);
    g_source_attach(c->io, NULL);
    c->timer = g_timeout_source_new(LINGER_MS);
    g_source_set_callback(c->timer, on_linger_timeout, c, NULL);
    g_source_attach(c->timer, NULL);
}

/* Arms the header or body deadline: fn runs after ms unless the timer is cleared. */
static void arm_deadline(conn *c, guint ms, GSourceFunc fn) {
    c->deadline_us = g_get_monotonic_time() + (gint64)ms * 1000;
    c->timer = g_timeout_source_new(ms);
    g_source_set_callback(c->timer, fn, c, NULL);
    g_source_attach(c->timer, NULL);
}

/* Called from an expired deadline (c->timer already released): true when the expiry is the main
 * loop's doing (see STALL_US), after re-arming the deadline GRACE_MS from now. */
static bool regrace_if_stalled(conn *c, GSourceFunc fn) {
    gint64 late = g_get_monotonic_time() - c->deadline_us;
    /* Unread bytes alone earn a bounded number of graces: a client trickling its request could
     * otherwise always have a byte in flight when the deadline comes. */
    bool unread = c->unread_graces < MAX_UNREAD_GRACES && g_socket_get_available_bytes(c->sock) > 0;
    if (late <= STALL_US && !unread)
        return false;
    if (late <= STALL_US)
        c->unread_graces++;
    arm_deadline(c, GRACE_MS, fn);
    return true;
}

/* ---- after the hand-over: the body deadline ------------------------------------------------- */

static gboolean on_body_timeout(gpointer data) {
    conn *c = data;
    g_source_unref(c->timer);
    c->timer = NULL;
    if (regrace_if_stalled(c, on_body_timeout))
        return G_SOURCE_REMOVE;
    double limit = c->body_timeout_s;
    scd_log(SCD_LOG_INFO, "http",
            "a request body was not complete within server.body_timeout_s "
            "(%g s): 400, connection closed",
            limit);
    /* A response already under way (an early 401 or 413 answered while the body is still
     * awaited, e.g. after "Expect: 100-continue") is not followed by a second one. */
    if (!c->msg || !g_object_get_data(G_OBJECT(c->msg), SENT_KEY)) {
        char *message = g_strdup_printf(
            "the request body was not complete within server.body_timeout_s (%g s)", limit);
        send_reply(c->sock, SOUP_STATUS_BAD_REQUEST, "body_timeout", message);
        g_free(message);
        if (c->msg)
            g_object_set_data(G_OBJECT(c->msg), SENT_KEY,
                              GUINT_TO_POINTER(SOUP_STATUS_BAD_REQUEST));
    }
    /* libsoup's pending read now ends (end of input): it drops the request and the connection.
     * Nothing of the client's is left unread (it sent less than announced), so this is no
     * reset. */
    g_socket_shutdown(c->sock, TRUE, TRUE, NULL);
    return G_SOURCE_REMOVE;
}

static void on_wrote_headers(SoupServerMessage *msg, gpointer data) {
    (void)data;
    if (!g_object_get_data(G_OBJECT(msg), SENT_KEY))
        g_object_set_data(G_OBJECT(msg), SENT_KEY,
                          GUINT_TO_POINTER(soup_server_message_get_status(msg)));
}

static conn *message_conn(SoupServerMessage *msg) {
    GSocketAddress *remote = soup_server_message_get_remote_address(msg);
    return remote ? g_object_get_data(G_OBJECT(remote), CONN_KEY) : NULL;
}

static void on_request_started(SoupServer *server, SoupServerMessage *msg, gpointer data) {
    (void)server;
    (void)data;
    g_signal_connect(msg, "wrote-headers", G_CALLBACK(on_wrote_headers), NULL);
    conn *c = message_conn(msg);
    if (c && !c->msg) {
        c->msg = msg;
        g_object_add_weak_pointer(G_OBJECT(msg), (gpointer *)&c->msg);
    }
}

/* The whole body is in: the deadline is met. */
static void on_request_read(SoupServer *server, SoupServerMessage *msg, gpointer data) {
    (void)server;
    (void)data;
    conn *c = message_conn(msg);
    if (c)
        clear_source(&c->timer);
}

/* The prefix stream is gone: libsoup has dropped the connection. */
static void on_stream_gone(gpointer data) {
    conn_free(data);
}

static void hand_over(conn *c, double body_timeout_s) {
    clear_source(&c->io);
    clear_source(&c->timer);
    GBytes *prefix = g_byte_array_free_to_bytes(c->head);
    c->head = NULL;
    GInputStream *in = scd_prefix_stream_new(G_IO_STREAM(c->gconn), prefix);
    g_bytes_unref(prefix);
    GIOStream *io =
        g_simple_io_stream_new(in, g_io_stream_get_output_stream(G_IO_STREAM(c->gconn)));
    g_object_set_data_full(G_OBJECT(in), CONN_KEY, c, on_stream_gone);
    g_object_set_data(G_OBJECT(c->remote), CONN_KEY, c);
    set_stage(c, STAGE_LIBSOUP);
    c->body_timeout_s = body_timeout_s;
    arm_deadline(c, (guint)(body_timeout_s * 1000), on_body_timeout);
    GSocketAddress *local = g_object_ref(c->local), *remote = g_object_ref(c->remote);
    scd_listen *l = c->l;
    /* libsoup may read, answer and drop the request inside this call (c is then freed). */
    g_object_unref(in);
    GError *gerr = NULL;
    if (!soup_server_accept_iostream(l->server, io, local, remote, &gerr)) {
        scd_log(SCD_LOG_WARNING, "http", "a connection could not be accepted: %s",
                gerr ? gerr->message : "error");
        g_clear_error(&gerr);
    }
    g_object_unref(io);
    g_object_unref(local);
    g_object_unref(remote);
}

/* ---- before the hand-over: the request head ------------------------------------------------- */

static const guint8 *find_bytes(const guint8 *hay, gsize n, const char *needle, gsize m) {
    for (gsize i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

/* Length of the head (through the blank line) or 0 while it is incomplete. libsoup also takes
 * bare LF line ends. */
static gsize head_length(const guint8 *p, gsize n) {
    const guint8 *crlf = find_bytes(p, n, "\r\n\r\n", 4), *lf = find_bytes(p, n, "\n\n", 2);
    gsize a = crlf ? (gsize)(crlf - p) + 4 : 0, b = lf ? (gsize)(lf - p) + 2 : 0;
    if (a && b)
        return MIN(a, b);
    return a ? a : b;
}

/* True when every Content-Length header of the head is a decimal number (libsoup reads "-5"
 * as 2^64-5 and "abc" as 0). */
static bool content_length_ok(const guint8 *p, gsize n) {
    const char *name = "content-length:";
    gsize nl = strlen(name);
    const guint8 *end = p + n;
    const guint8 *line = memchr(p, '\n', n);
    while (line && ++line < end) {
        const guint8 *eol = memchr(line, '\n', (gsize)(end - line));
        if (!eol)
            break;
        if ((gsize)(eol - line) >= nl && g_ascii_strncasecmp((const char *)line, name, nl) == 0) {
            const guint8 *v = line + nl, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve == v || ve - v > 18)
                return false;
            for (const guint8 *d = v; d < ve; d++)
                if (!g_ascii_isdigit(*d))
                    return false;
        }
        line = eol;
    }
    return true;
}

/* Judges the head read so far: hands c over, replies, or leaves it waiting for more. */
static void check_head(conn *c) {
    const guint8 *p = c->head->data;
    gsize n = c->head->len;
    const guint8 *eol = memchr(p, '\n', n);
    gsize line_len = eol ? (gsize)(eol - p) : n;
    if (line_len > SCD_HTTP_MAX_REQUEST_LINE) {
        reply_and_linger(
            c, SOUP_STATUS_REQUEST_URI_TOO_LONG, "uri_too_long",
            "the request line exceeds " G_STRINGIFY(SCD_HTTP_MAX_REQUEST_LINE) " bytes");
        return;
    }
    gsize hl = head_length(p, n);
    if ((hl == 0 && n > SCD_HTTP_MAX_HEAD) || hl > SCD_HTTP_MAX_HEAD) {
        reply_and_linger(c, STATUS_HEADERS_TOO_LARGE, "headers_too_large",
                         "the request head exceeds " G_STRINGIFY(SCD_HTTP_MAX_HEAD) " bytes");
        return;
    }
    if (hl == 0)
        return;
    if (!content_length_ok(p, hl)) {
        reply_and_linger(c, SOUP_STATUS_BAD_REQUEST, "bad_content_length",
                         "Content-Length must be a decimal number of bytes");
        return;
    }
    scd_listen_limits lim;
    c->l->hooks.limits(c->l->hooks.data, &lim);
    hand_over(c, lim.body_timeout_s);
}

static gboolean on_head_readable(GSocket *sock, GIOCondition cond, gpointer data) {
    (void)cond;
    conn *c = data;
    guint8 buf[4096];
    GError *gerr = NULL;
    gssize n = g_socket_receive_with_blocking(sock, (gchar *)buf, sizeof buf, FALSE, NULL, &gerr);
    if (n < 0 && g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(gerr);
        return G_SOURCE_CONTINUE;
    }
    g_clear_error(&gerr);
    if (n <= 0) { /* the client went away, or the connection failed */
        conn_close(c);
        return G_SOURCE_REMOVE;
    }
    g_byte_array_append(c->head, buf, (guint)n);
    /* check_head may destroy this source (hand-over, reply) or free c. */
    GSource *self = g_source_ref(g_main_current_source());
    check_head(c);
    gboolean keep = !g_source_is_destroyed(self);
    g_source_unref(self);
    return keep;
}

static gboolean on_head_timeout(gpointer data) {
    conn *c = data;
    g_source_unref(c->timer);
    c->timer = NULL;
    if (regrace_if_stalled(c, on_head_timeout))
        return G_SOURCE_REMOVE;
    scd_log(SCD_LOG_DEBUG, "http",
            "a connection sent no complete request head within server.header_timeout_s: closed");
    conn_close(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *gconn, GObject *source,
                            gpointer data) {
    (void)service;
    (void)source;
    scd_listen *l = data;
    GSocket *sock = g_socket_connection_get_socket(gconn);
    if (g_socket_get_family(sock) != G_SOCKET_FAMILY_UNIX)
        g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
    conn *c = g_new0(conn, 1);
    c->l = l;
    c->gconn = g_object_ref(gconn);
    c->sock = sock;
    c->local = g_socket_connection_get_local_address(gconn, NULL);
    c->remote = g_socket_connection_get_remote_address(gconn, NULL);
    /* An unnamed UNIX client has no address to report: give libsoup an empty one. */
    if (!c->local)
        c->local = g_unix_socket_address_new("");
    if (!c->remote)
        c->remote = g_unix_socket_address_new("");
    g_object_set_data_full(G_OBJECT(c->remote), SOCKET_KEY, g_object_ref(sock), g_object_unref);
    c->head = g_byte_array_new();
    c->stage = STAGE_HEAD;
    g_hash_table_add(l->conns, c);
    l->active++;
    scd_listen_limits lim;
    l->hooks.limits(l->hooks.data, &lim);
    if (l->active > lim.max_connections) {
        /* Once per 10 s at most: a flood must not flood the journal too. */
        gint64 now = g_get_monotonic_time();
        if (l->cap_warned == 0 || now - l->cap_warned > 10 * G_USEC_PER_SEC) {
            l->cap_warned = now;
            scd_log(SCD_LOG_WARNING, "http",
                    "server.max_connections (%d) connections are open: new ones get 503",
                    lim.max_connections);
        }
        char *message =
            g_strdup_printf("too many open connections (server.max_connections is %d); retry later",
                            lim.max_connections);
        reply_and_linger(c, SOUP_STATUS_SERVICE_UNAVAILABLE, "too_many_connections", message);
        g_free(message);
        return TRUE;
    }
    c->io = g_socket_create_source(sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(c->io, G_SOURCE_FUNC(on_head_readable), c, NULL);
    g_source_attach(c->io, NULL);
    arm_deadline(c, (guint)(lim.header_timeout_s * 1000), on_head_timeout);
    return TRUE;
}

scd_listen *scd_listen_new(SoupServer *server, const scd_listen_hooks *hooks) {
    scd_listen *l = g_new0(scd_listen, 1);
    l->server = server;
    l->hooks = *hooks;
    l->conns = g_hash_table_new(g_direct_hash, g_direct_equal);
    l->service = g_socket_service_new();
    g_socket_listener_set_backlog(G_SOCKET_LISTENER(l->service), SCD_HTTP_LISTEN_BACKLOG);
    g_signal_connect(l->service, "incoming", G_CALLBACK(on_incoming), l);
    g_signal_connect(server, "request-started", G_CALLBACK(on_request_started), l);
    g_signal_connect(server, "request-read", G_CALLBACK(on_request_read), l);
    return l;
}

void scd_listen_free(scd_listen *l) {
    if (!l)
        return;
    g_socket_service_stop(l->service);
    g_socket_listener_close(G_SOCKET_LISTENER(l->service));
    g_signal_handlers_disconnect_by_data(l->service, l);
    g_signal_handlers_disconnect_by_data(l->server, l);
    /* Connections libsoup holds outlive the listener (libsoup frees them): detach them. The
     * others are closed. */
    GList *all = g_hash_table_get_keys(l->conns);
    for (GList *it = all; it; it = it->next) {
        conn *c = it->data;
        if (c->stage == STAGE_LIBSOUP) {
            clear_source(&c->timer);
            c->l = NULL;
        } else {
            conn_close(c);
        }
    }
    g_list_free(all);
    g_hash_table_destroy(l->conns);
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
    if (s)
        g_socket_set_listen_backlog(s, SCD_HTTP_LISTEN_BACKLOG);
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

guint scd_http_message_status(SoupServerMessage *msg) {
    guint sent = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(msg), SENT_KEY));
    return sent ? sent : soup_server_message_get_status(msg);
}
