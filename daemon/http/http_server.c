/* The HTTP server: listeners, the early stage (route, auth, body size), dispatch, and the
 * per-route request counter. */
#include "http/http.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <stdbool.h>
#include <string.h>

#include "http/http_listen.h"
#include "http/http_routes.h"
#include "http/http_util.h"
#include "telemetry/log.h"

#define ROUTE_KEY "scd-route"
#define LIMIT_KEY "scd-body-limit"

typedef struct route {
    const char *pattern; /* "/v1/streams/{id}/tokens" */
    const char *methods; /* comma-separated */
    void (*fn)(scd_route_ctx *c);
} route;

static const route routes[] = {
    {"/healthz", "GET", scd_route_healthz},
    {"/metrics", "GET", scd_route_metrics},
    {"/v1/streams", "GET", scd_route_streams},
    {"/v1/streams/{id}", "GET", scd_route_stream},
    {"/v1/streams/{id}/query", "GET,POST,DELETE", scd_route_stream_query},
    {"/v1/streams/{id}/tokens", "GET", scd_route_stream_tokens},
    {"/v1/streams/{id}/follow", "GET", scd_route_stream_follow},
    {"/v1/streams/{id}/ask", "POST", scd_route_stream_ask},
    {"/v1/jobs", "GET,POST", scd_route_jobs},
    {"/v1/jobs/{id}", "GET,DELETE", scd_route_job},
    {"/v1/jobs/{id}/tokens", "GET", scd_route_job_tokens},
};

struct scd_http {
    scd_app *app;
    SoupServer *server;
    scd_listen *listen;
    char *tcp_address;
    int tcp_port;
    char *unix_path; /* the socket file we created */
};

/* ---- routing -------------------------------------------------------------------------------- */

static bool valid_id(const char *s, size_t n) {
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* Matches path against pattern; the {id} segment goes to id (cap bytes). */
static bool match(const char *pattern, const char *path, char *id, size_t cap) {
    id[0] = '\0';
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
        size_t pn = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sn = se ? (size_t)(se - path) : strlen(path);
        if (pn == 4 && strncmp(pattern, "{id}", 4) == 0) {
            if (!valid_id(path, sn) || sn >= cap)
                return false;
            memcpy(id, path, sn);
            id[sn] = '\0';
        } else if (pn != sn || strncmp(pattern, path, pn) != 0) {
            return false;
        }
        pattern += pn;
        path += sn;
    }
    /* One trailing slash is tolerated ("/v1/streams/"). */
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

static const route *find_route(const char *path, char *id, size_t cap) {
    for (size_t i = 0; i < G_N_ELEMENTS(routes); i++)
        if (match(routes[i].pattern, path, id, cap))
            return &routes[i];
    return NULL;
}

static bool method_allowed(const route *r, const char *method) {
    char **list = g_strsplit(r->methods, ",", -1);
    bool ok = g_strv_contains((const char *const *)list, method);
    g_strfreev(list);
    return ok;
}

/* ---- early stage ---------------------------------------------------------------------------- */

static void on_got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer data) {
    (void)chunk;
    scd_http *h = data;
    (void)h;
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    guint64 limit = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(msg), LIMIT_KEY));
    if (soup_server_message_get_status(msg) == 0 && body && (guint64)body->length > limit) {
        /* Stop keeping what arrives; the handler will not run (a status is set). */
        soup_message_body_set_accumulate(body, FALSE);
        soup_message_body_truncate(body);
        scd_http_error(
            msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
            "the request body exceeds server.max_body_bytes (%" G_GUINT64_FORMAT " bytes)", limit);
    }
}

static bool authorized(scd_http *h, SoupServerMessage *msg) {
    const char *token = h->app->token;
    if (!token)
        return true;
    const char *auth =
        soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    if (!auth || g_ascii_strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    while (*given == ' ')
        given++;
    return scd_secure_equal(given, token);
}

static void early_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                          GHashTable *query, gpointer data) {
    (void)server;
    (void)query;
    scd_http *h = data;
    /* One request per connection: see http_listen.h (libsoup 3.2 leaks kept-alive connections
     * that clients close while idle). */
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
    char id[80];
    const route *r = find_route(path, id, sizeof id);
    g_object_set_data(G_OBJECT(msg), ROUTE_KEY, (gpointer)(r ? r->pattern : "unmatched"));
    if (r && r->fn != scd_route_healthz && !authorized(h, msg)) {
        soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                     "WWW-Authenticate", "Bearer realm=\"scriptd\"");
        scd_http_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
                       "a valid 'Authorization: Bearer TOKEN' header is required");
        return;
    }
    guint64 limit = scd_app_config(h->app)->server.max_body_bytes;
    SoupMessageHeaders *rh = soup_server_message_get_request_headers(msg);
    if (soup_message_headers_get_encoding(rh) == SOUP_ENCODING_CONTENT_LENGTH &&
        (guint64)soup_message_headers_get_content_length(rh) > limit) {
        /* Refused before the body is read (or, without Expect: 100-continue, read and
         * discarded: nothing is stored). */
        soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
        scd_http_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
                       "the request body (%" G_GINT64_FORMAT
                       " bytes) exceeds server.max_body_bytes (%" G_GUINT64_FORMAT " bytes)",
                       (gint64)soup_message_headers_get_content_length(rh), limit);
        return;
    }
    g_object_set_data(G_OBJECT(msg), LIMIT_KEY, GSIZE_TO_POINTER((gsize)limit));
    g_signal_connect(msg, "got-chunk", G_CALLBACK(on_got_chunk), h);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer data) {
    (void)server;
    scd_http *h = data;
    char id[80];
    const route *r = find_route(path, id, sizeof id);
    if (!r) {
        scd_http_error(msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such route: %s", path);
        return;
    }
    const char *method = soup_server_message_get_method(msg);
    if (strcmp(method, "HEAD") == 0)
        method = "GET"; /* libsoup sends the headers of the GET answer, without the body */
    if (!method_allowed(r, method)) {
        char **list = g_strsplit(r->methods, ",", -1);
        char *value = g_strjoinv(", ", list);
        g_strfreev(list);
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", value);
        scd_http_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                       "%s is not allowed on %s (allowed: %s)", method, r->pattern, value);
        g_free(value);
        return;
    }
    scd_route_ctx c = {
        .app = h->app, .msg = msg, .method = method, .id = id[0] ? id : NULL, .query = query};
    r->fn(&c);
}

/* Counted with the status the client was sent (scd_http_message_status): a follow session that
 * the client ends is counted as the 200 it was, not as the 500 libsoup records when its next
 * write fails. */
static void count_request(SoupServer *server, SoupServerMessage *msg, gpointer data) {
    (void)server;
    scd_http *h = data;
    const char *route = g_object_get_data(G_OBJECT(msg), ROUTE_KEY);
    char status[8];
    snprintf(status, sizeof status, "%u", scd_http_message_status(msg));
    const char *l[] = {route ? route : "unmatched", status};
    scd_metric_counter_add(h->app->m->http_requests, l, 1);
    if (scd_log_enabled(SCD_LOG_DEBUG)) {
        GUri *uri = soup_server_message_get_uri(msg);
        scd_log(SCD_LOG_DEBUG, "http", "%s %s -> %s", soup_server_message_get_method(msg),
                uri ? g_uri_get_path(uri) : "?", status);
    }
}

/* ---- listeners ------------------------------------------------------------------------------ */

static void listen_limits(void *data, scd_listen_limits *out) {
    scd_http *h = data;
    const scd_server_cfg *srv = &scd_app_config(h->app)->server;
    out->header_timeout_s = srv->header_timeout_s;
    out->body_timeout_s = srv->body_timeout_s;
    out->max_connections = srv->max_connections;
}

/* A reply of the connection stage (before any route is known). */
static void count_listen_reply(void *data, guint status) {
    scd_http *h = data;
    char text[8];
    snprintf(text, sizeof text, "%u", status);
    const char *l[] = {"unmatched", text};
    scd_metric_counter_add(h->app->m->http_requests, l, 1);
}

sp_status scd_http_new(scd_app *app, scd_http **out, sp_error *err) {
    *out = NULL;
    scd_http *h = g_new0(scd_http, 1);
    h->app = app;
    h->tcp_address = g_strdup("");
    h->server = soup_server_new("server-header", "scriptd/" SCRIPTD_VERSION " ", NULL);
    soup_server_add_early_handler(h->server, NULL, early_handler, h, NULL);
    soup_server_add_handler(h->server, NULL, handler, h, NULL);
    g_signal_connect(h->server, "request-finished", G_CALLBACK(count_request), h);
    g_signal_connect(h->server, "request-aborted", G_CALLBACK(count_request), h);
    const scd_listen_hooks hooks = {
        .limits = listen_limits, .replied = count_listen_reply, .data = h};
    h->listen = scd_listen_new(h->server, &hooks);
    const scd_server_cfg *srv = &scd_app_config(app)->server;
    sp_status st = SP_OK;
    if (srv->listen[0]) {
        st = scd_listen_tcp(h->listen, srv->listen_host, srv->listen_port, &h->tcp_port, err);
        if (st == SP_OK) {
            bool v6 = strchr(srv->listen_host, ':') != NULL;
            g_free(h->tcp_address);
            h->tcp_address =
                g_strdup_printf(v6 ? "[%s]:%d" : "%s:%d", srv->listen_host, h->tcp_port);
        }
    }
    if (st == SP_OK && srv->unix_socket[0]) {
        st = scd_listen_unix(h->listen, srv->unix_socket, err);
        if (st == SP_OK)
            h->unix_path = g_strdup(srv->unix_socket);
    }
    if (st != SP_OK) {
        scd_http_free(h);
        return st;
    }
    *out = h;
    return SP_OK;
}

void scd_http_free(scd_http *h) {
    if (!h)
        return;
    scd_listen_free(h->listen);
    soup_server_disconnect(h->server);
    g_object_unref(h->server);
    if (h->unix_path)
        g_unlink(h->unix_path);
    g_free(h->unix_path);
    g_free(h->tcp_address);
    g_free(h);
}

sp_status scd_http_serve_stream(scd_http *h, GIOStream *stream, sp_error *err) {
    GSocketAddress *local = g_unix_socket_address_new(""), *remote = g_unix_socket_address_new("");
    GError *gerr = NULL;
    gboolean ok = soup_server_accept_iostream(h->server, stream, local, remote, &gerr);
    g_object_unref(local);
    g_object_unref(remote);
    if (!ok) {
        sp_error_set(err, SP_ERR_IO, "cannot serve the connection: %s",
                     gerr ? gerr->message : "error");
        g_clear_error(&gerr);
        return SP_ERR_IO;
    }
    return SP_OK;
}

const char *scd_http_tcp_address(const scd_http *h) {
    return h->tcp_address;
}

int scd_http_tcp_port(const scd_http *h) {
    return h->tcp_port;
}
