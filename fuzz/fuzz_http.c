/* libFuzzer target: the HTTP API's request handling, through the real SoupServer and routes
 * (daemon/http/http_server.c, http_routes_*.c, http_query.c), over a socket pair: no network, one
 * process, one main loop, like scriptd itself.
 *
 * The app is set up once as process/service.c does, with one configured stream ("cam", a file
 * source that cannot start: GStreamer runs with no plugins, so no pipeline ever runs and nothing
 * is timing dependent) and a media root holding a tiny PNG and a text file. Each input becomes
 * one HTTP/1.1 request:
 *   byte 0   method (low 3 bits) and Content-Type of the body (bits 3-5)
 *   byte 1   route prefix ("/v1/streams/cam/query", "/v1/jobs", ...; or none)
 *   then     the rest of the request target up to the first '\n' (a path tail and query string;
 *            bytes that cannot appear in a request line are percent-encoded), then the body.
 * Properties: every request gets a well-formed response; every error with a body (4xx, 5xx;
 * libsoup's own refusals of unparsable requests have none) carries the JSON error object; nothing
 * answers 500 (bad input is the client's fault, never an internal error); no request hangs (a
 * response within 10 s, or abort). */
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libavutil/log.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "fuzz_check.h"
#include "http/http.h"
#include "runtime/jobs.h"
#include "telemetry/log.h"
#include "process/notify.h"
#include "runtime/query.h"
#include "process/reload.h"
#include "runtime/streams.h"

enum { MAX_BODY = 64 * 1024, RESPONSE_TIMEOUT_S = 10 };

/* The process-level reactions (READY, STATUS, --exit-when-done: process/service.c) do not exist
 * here: app.changed stays NULL. */
static scd_app app;
static char *tmp_dir;
static bool trace;

static const char *const methods[] = {"GET", "POST",    "DELETE", "HEAD",
                                      "PUT", "OPTIONS", "GET",    "POST"};
static const char *const content_types[] = {"application/json", "application/json; charset=utf-8",
                                            "image/png",        "multipart/form-data; boundary=b",
                                            "text/plain",       NULL,
                                            "image/jpeg",       "application/x-npy"};
static const char *const routes[] = {
    "",
    "/healthz",
    "/metrics",
    "/v1/streams",
    "/v1/streams/cam",
    "/v1/streams/cam/query",
    "/v1/streams/cam/tokens",
    "/v1/streams/cam/follow",
    "/v1/streams/nope/query",
    "/v1/jobs",
    "/v1/jobs/",
    "/v1/streams/",
};

/* A 1x1 RGB PNG, the media root's exemplar image. */
static const uint8_t tiny_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08,
    0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d,
    0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char *path = g_build_filename(dir, name, NULL);
    FUZZ_REQUIRE(g_file_set_contents(path, data, (gssize)len, NULL));
    g_free(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    trace = g_getenv("FUZZ_HTTP_TRACE") != NULL;
    tmp_dir = g_dir_make_tmp("scriptd-fuzz-http-XXXXXX", NULL);
    FUZZ_REQUIRE(tmp_dir != NULL);
    char *media = g_build_filename(tmp_dir, "media", NULL);
    char *work = g_build_filename(tmp_dir, "work", NULL);
    char *registry = g_build_filename(tmp_dir, "registry.bin", NULL);
    FUZZ_REQUIRE(g_mkdir(media, 0700) == 0 && g_mkdir(work, 0700) == 0);
    write_file(media, "red.png", tiny_png, sizeof tiny_png);
    write_file(media, "notes.txt", "not a picture\n", 14);

    /* GStreamer without plugins: every pipeline fails to build at once, deterministically. */
    g_setenv("GST_REGISTRY_1_0", registry, TRUE);
    g_setenv("GST_PLUGIN_SYSTEM_PATH_1_0", "", TRUE);
    g_setenv("GST_PLUGIN_PATH_1_0", "", TRUE);
    g_setenv("GST_REGISTRY_FORK", "no", TRUE);
    gst_init(NULL, NULL);
    av_log_set_level(AV_LOG_QUIET);

    char *yaml = g_strdup_printf("server:\n"
                                 "  listen: \"127.0.0.1:0\"\n"
                                 "  media_root: \"%s\"\n"
                                 "  max_body_bytes: 1MiB\n"
                                 "  max_jobs: 4\n"
                                 "  restart_min_s: 3600\n"
                                 "  restart_max_s: 3600\n"
                                 "  log_level: error\n"
                                 "streams:\n"
                                 "  - id: cam\n"
                                 "    file: \"%s/missing.mp4\"\n",
                                 media, media);
    scd_config *cfg = NULL;
    scd_config_error ce;
    if (scd_config_load_string(yaml, strlen(yaml), "fuzz-http.yaml", tmp_dir, &cfg, &ce) != SP_OK) {
        fprintf(stderr, "fuzz-http: config: %s\n", ce.message);
        abort();
    }
    g_free(yaml);
    scd_apply_log_settings(cfg);
    app.started_us = g_get_monotonic_time();
    app.config_path = g_strdup("fuzz-http.yaml");
    app.cfg = scd_config_ref_new(cfg);
    app.work_dir = work;
    app.loop = g_main_loop_new(NULL, FALSE);
    app.m = scd_metric_families_new();
    app.encoders = scd_encoders_new();
    app.streams = scd_streams_new(&app);
    app.jobs = scd_jobs_new(&app);
    sp_error err;
    if (scd_http_new(&app, &app.http, &err) != SP_OK) {
        fprintf(stderr, "fuzz-http: %s\n", err.message);
        abort();
    }
    scd_streams_apply(app.streams, app.cfg);
    g_free(media);
    g_free(registry);
    return 0;
}

typedef struct exchange {
    GString *response;
    bool done;
} exchange;

static gboolean on_client_readable(gint fd, GIOCondition cond, gpointer data) {
    (void)cond;
    exchange *x = data;
    char buf[16384];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        g_string_append_len(x->response, buf, n);
        return G_SOURCE_CONTINUE;
    }
    x->done = true; /* EOF (every response carries Connection: close) or an error */
    return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer data) {
    (void)data;
    fprintf(stderr, "fuzz-http: no response within %d s\n", RESPONSE_TIMEOUT_S);
    abort();
}

/* The request target: the route prefix and the input's tail, percent-encoding what cannot
 * appear in a request line. */
static void append_target(GString *req, const char *route, const uint8_t *s, size_t n) {
    g_string_append(req, route);
    if (!route[0] && (n == 0 || s[0] != '/'))
        g_string_append_c(req, '/');
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '#')
            g_string_append_printf(req, "%%%02X", s[i]);
        else
            g_string_append_c(req, (char)s[i]);
    }
}

static void check_response(const GString *r, const char *method) {
    if (r->len < 12 || strncmp(r->str, "HTTP/1.1 ", 9) != 0) {
        fprintf(stderr, "fuzz-http: malformed response:\n%.*s\n", (int)r->len, r->str);
        abort();
    }
    int status = atoi(r->str + 9);
    FUZZ_REQUIRE(status >= 200 && status < 600);
    if (status == 500) {
        fprintf(stderr, "fuzz-http: internal error for client input:\n%.*s\n", (int)r->len, r->str);
        abort();
    }
    const char *body = strstr(r->str, "\r\n\r\n");
    FUZZ_REQUIRE(body != NULL);
    /* libsoup answers a request it cannot parse (a malformed URI, say) itself, with no body;
     * every refusal of ours is a JSON error object. */
    if (status >= 400 && strcmp(method, "HEAD") != 0 && body[4] != '\0')
        FUZZ_REQUIRE(strstr(body, "\"error\"") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    const char *method = methods[data[0] & 7];
    const char *ctype = content_types[(data[0] >> 3) & 7];
    const char *route = routes[data[1] % G_N_ELEMENTS(routes)];
    const uint8_t *rest = data + 2;
    size_t n = size - 2;
    const uint8_t *nl = memchr(rest, '\n', n);
    size_t tlen = nl ? (size_t)(nl - rest) : n;
    const uint8_t *body = nl ? nl + 1 : rest + n;
    size_t blen = nl ? n - tlen - 1 : 0;
    if (blen > MAX_BODY)
        blen = MAX_BODY;

    GString *req = g_string_new(method);
    g_string_append_c(req, ' ');
    append_target(req, route, rest, tlen);
    g_string_append(req, " HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    if (ctype)
        g_string_append_printf(req, "Content-Type: %s\r\n", ctype);
    g_string_append_printf(req, "Content-Length: %zu\r\n\r\n", blen);
    g_string_append_len(req, (const char *)body, (gssize)blen);

    int sv[2];
    FUZZ_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    GSocket *sock = g_socket_new_from_fd(sv[0], NULL);
    FUZZ_REQUIRE(sock != NULL);
    GSocketConnection *conn = g_socket_connection_factory_create_connection(sock);
    sp_error err;
    FUZZ_REQUIRE(scd_http_serve_stream(app.http, G_IO_STREAM(conn), &err) == SP_OK);
    g_object_unref(conn);
    g_object_unref(sock);

    /* The whole request fits the socket buffer (MAX_BODY is far below it): write, then half-close
     * like a client that has nothing more to say. */
    for (size_t off = 0; off < req->len;) {
        ssize_t w = write(sv[1], req->str + off, req->len - off);
        FUZZ_REQUIRE(w > 0);
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    g_string_free(req, TRUE);

    exchange x = {.response = g_string_new(NULL), .done = false};
    guint watch = g_unix_fd_add(sv[1], G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_readable, &x);
    guint timer = g_timeout_add_seconds(RESPONSE_TIMEOUT_S, on_timeout, NULL);
    while (!x.done)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(timer);
    (void)watch; /* removed by returning G_SOURCE_REMOVE */
    /* Let libsoup finish with the connection (request-finished, the connection's disposal). */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    close(sv[1]);
    if (trace) /* FUZZ_HTTP_TRACE=1: what each request got (to check that seeds go deep) */
        fprintf(stderr, "%s %s%.*s -> %.12s %.300s\n", method, route, (int)tlen, (const char *)rest,
                x.response->str + 9,
                strstr(x.response->str, "\r\n\r\n") ? strstr(x.response->str, "\r\n\r\n") + 4 : "");
    check_response(x.response, method);
    g_string_free(x.response, TRUE);
    return 0;
}
