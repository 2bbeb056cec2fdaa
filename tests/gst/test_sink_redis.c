/* scriptsink with redis:// locations, against a real redis-server started here on a free
 * loopback port (no persistence): every packet arrives once, in order, as one XADD entry whose
 * `packet` field core's wire reader decodes; a Redis that is away never blocks the pipeline (the
 * packets are dropped at EOS and counted); unix sockets, the key template and MAXLEN; bad
 * locations are errors at start. */
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gsttest.h"
#include "scriptprune/wire.h"

#define S 336
#define CAPS "video/x-raw,format=RGBx,width=336,height=336,framerate=10/1"
#define FRAME_NS (GST_SECOND / 10)

typedef struct {
    GPid pid;
    int port;      /* TCP, 0 for the unix socket only */
    gchar *dir;    /* working directory (and socket) */
    gchar *socket; /* unix socket path */
} RedisServer;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fail_unless(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    socklen_t len = sizeof sa;
    fail_unless(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static redisContext *connect_to(const RedisServer *r) {
    struct timeval tv = {2, 0};
    return r->port ? redisConnectWithTimeout("127.0.0.1", r->port, tv)
                   : redisConnectUnixWithTimeout(r->socket, tv);
}

/* Starts redis-server and waits (at most 30 s) until it answers PING. */
static void redis_start(RedisServer *r, gboolean tcp) {
    r->dir = gt_tmpdir();
    r->socket = g_build_filename(r->dir, "redis.sock", NULL);
    r->port = tcp ? free_port() : 0;
    gchar *port = g_strdup_printf("%d", r->port);
    gchar *argv[] = {"redis-server", "--port",  port,     "--bind", "127.0.0.1",
                     "--unixsocket", r->socket, "--save", "",       "--appendonly",
                     "no",           "--dir",   r->dir,   NULL};
    GError *gerr = NULL;
    fail_unless(
        g_spawn_async(NULL, argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, &r->pid, &gerr),
        "redis-server: %s", gerr ? gerr->message : "?");
    g_free(port);
    for (guint i = 0; i < 300; i++) {
        redisContext *c = connect_to(r);
        if (c && !c->err) {
            redisReply *reply = redisCommand(c, "PING");
            gboolean up = reply && reply->type == REDIS_REPLY_STATUS;
            freeReplyObject(reply);
            redisFree(c);
            if (up)
                return;
        } else if (c) {
            redisFree(c);
        }
        g_usleep(100000);
    }
    fail("redis-server did not answer PING");
}

static void redis_stop(RedisServer *r) {
    kill(r->pid, SIGTERM);
    int status;
    waitpid(r->pid, &status, 0);
    g_spawn_close_pid(r->pid);
    g_free(r->socket);
    gt_rmdir(r->dir);
}

static gchar *launch_line(const gchar *sinkprops) {
    return g_strdup_printf("scriptencode ! scriptprune emit=window window=4 hop=2 window-budget=16 "
                           "stream-name=cam0 ! scriptsink name=out %s",
                           sinkprops);
}

static guint64 counter(GstHarness *h, const gchar *name) {
    GstElement *sink = gst_bin_get_by_name(GST_BIN(h->element), "out");
    guint64 v = 0;
    g_object_get(sink, name, &v, NULL);
    gst_object_unref(sink);
    return v;
}

static void run_frames(GstHarness *h, guint n) {
    for (guint i = 0; i < n; i++)
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(S, S, i, i * FRAME_NS)),
                               GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos())); /* drains to Redis */
}

static const redisReply *field(const redisReply *fields, const gchar *name) {
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1];
    fail("entry has no field %s", name);
    return NULL;
}

/* Checks every entry of key: n of them, seq 0..n-1, windows 0..n-1, each packet decoded by core's
 * reader with the fields agreeing with it. */
static void check_entries(const RedisServer *r, const gchar *key, guint n) {
    redisContext *c = connect_to(r);
    fail_unless(c && !c->err);
    redisReply *all = redisCommand(c, "XRANGE %s - +", key);
    fail_unless(all && all->type == REDIS_REPLY_ARRAY);
    fail_unless_equals_int(all->elements, n);
    for (size_t i = 0; i < all->elements; i++) {
        const redisReply *fields = all->element[i]->element[1];
        fail_unless_equals_string(field(fields, "stream")->str, "cam0");
        fail_unless_equals_uint64(g_ascii_strtoull(field(fields, "seq")->str, NULL, 10), i);
        fail_unless_equals_uint64(g_ascii_strtoull(field(fields, "window")->str, NULL, 10), i);
        const redisReply *bytes = field(fields, "packet");
        sp_wire_reader *wr = sp_wire_reader_new(0);
        sp_error err;
        sp_error_clear(&err);
        fail_unless(sp_wire_reader_feed(wr, bytes->str, bytes->len, &err) == SP_OK, "%s",
                    err.message);
        sp_packet p;
        bool got = false;
        fail_unless(sp_wire_reader_next(wr, &p, &got, &err) == SP_OK && got, "%s", err.message);
        fail_unless_equals_uint64(p.window, i);
        fail_unless_equals_int(p.count, 16);
        fail_unless_equals_uint64(g_ascii_strtoull(field(fields, "tokens")->str, NULL, 10),
                                  p.count);
        fail_unless_equals_int(g_ascii_strtoll(field(fields, "d")->str, NULL, 10), p.d);
        fail_unless_equals_string(sp_wire_reader_header(wr)->name, "cam0");
        fail_unless(sp_wire_reader_next(wr, &p, &got, &err) == SP_OK && !got);
        sp_wire_reader_free(wr);
    }
    freeReplyObject(all);
    redisFree(c);
}

GST_START_TEST(test_every_packet_arrives_once_in_order) {
    RedisServer r;
    redis_start(&r, TRUE);
    gchar *props = g_strdup_printf("location=redis://127.0.0.1:%d", r.port);
    gchar *launch = launch_line(props);
    GstHarness *h = gt_harness(launch, CAPS);
    run_frames(h, 7);
    fail_unless_equals_uint64(counter(h, "packets-written"), 4);
    fail_unless_equals_uint64(counter(h, "packets-dropped"), 0);
    gt_teardown(h);
    check_entries(&r, "scriptd:cam0:packets", 4); /* the default key template */
    redis_stop(&r);
    g_free(launch);
    g_free(props);
}
GST_END_TEST;

GST_START_TEST(test_unix_socket_key_and_maxlen) {
    RedisServer r;
    redis_start(&r, FALSE);
    gchar *props = g_strdup_printf(
        "location=redis+unix://%s redis-key=lobby:{stream} redis-maxlen=0", r.socket);
    gchar *launch = launch_line(props);
    GstHarness *h = gt_harness(launch, CAPS);
    run_frames(h, 7);
    fail_unless_equals_uint64(counter(h, "packets-written"), 4);
    gt_teardown(h);
    check_entries(&r, "lobby:cam0", 4);
    g_free(launch);
    g_free(props);

    /* MAXLEN ~ trims: with many entries the key stays far below what was sent. */
    props = g_strdup_printf("location=redis+unix://%s redis-key=short redis-maxlen=10", r.socket);
    launch = g_strdup_printf("scriptencode ! scriptprune emit=frame budget=4 ! "
                             "scriptsink name=out %s",
                             props);
    h = gt_harness(launch, CAPS);
    for (guint i = 0; i < 400; i++)
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(S, S, i, i * FRAME_NS)),
                               GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_uint64(counter(h, "packets-written"), 400);
    gt_teardown(h);
    redisContext *c = connect_to(&r);
    redisReply *len = redisCommand(c, "XLEN short");
    fail_unless(len && len->type == REDIS_REPLY_INTEGER);
    fail_unless(len->integer >= 10 && len->integer < 400, "XLEN %lld", len->integer);
    freeReplyObject(len);
    redisFree(c);
    redis_stop(&r);
    g_free(launch);
    g_free(props);
}
GST_END_TEST;

GST_START_TEST(test_absent_redis_never_blocks_the_pipeline) {
    /* Nothing listens on this port: every frame is still accepted at once, and at EOS the
     * packets that could not be sent within the drain timeout are dropped and counted. */
    gchar *props =
        g_strdup_printf("location=redis://127.0.0.1:%d drain-timeout-ms=300", free_port());
    gchar *launch = launch_line(props);
    GstHarness *h = gt_harness(launch, CAPS);
    run_frames(h, 7);
    fail_unless_equals_uint64(counter(h, "packets-written"), 0);
    fail_unless_equals_uint64(counter(h, "packets-dropped"), 4);
    gt_teardown(h);
    g_free(launch);
    g_free(props);
}
GST_END_TEST;

/* Starting with `location` fails with a message holding `want`. */
static void start_fails(const gchar *location, const gchar *more, const gchar *want) {
    GstElement *sink = gst_element_factory_make("scriptsink", NULL);
    g_object_set(sink, "location", location, NULL);
    if (more)
        gst_util_set_object_arg(G_OBJECT(sink), "redis-password-file", more);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(sink, bus);
    fail_unless_equals_int(gst_element_set_state(sink, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(m != NULL);
    GError *gerr = NULL;
    gst_message_parse_error(m, &gerr, NULL);
    fail_unless(strstr(gerr->message, want) != NULL, "%s", gerr->message);
    g_error_free(gerr);
    gst_message_unref(m);
    gst_element_set_state(sink, GST_STATE_NULL);
    gst_element_set_bus(sink, NULL);
    gst_object_unref(bus);
    gst_object_unref(sink);
}

GST_START_TEST(test_bad_locations_fail_at_start) {
    start_fails("redis://127.0.0.1:99999", NULL, "redis://127.0.0.1:99999");
    start_fails("redis://", NULL, "redis://");
    start_fails("redis://127.0.0.1:6379/x", NULL, "redis://127.0.0.1:6379/x");
    start_fails("redis://127.0.0.1:6379", "/nonexistent/password", "/nonexistent/password");
}
GST_END_TEST;

static Suite *sink_redis_suite(void) {
    gt_register_plugin();
    Suite *s = suite_create("gst-sink-redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_packet_arrives_once_in_order);
    tcase_add_test(tc, test_unix_socket_key_and_maxlen);
    tcase_add_test(tc, test_absent_redis_never_blocks_the_pipeline);
    tcase_add_test(tc, test_bad_locations_fail_at_start);
    suite_add_tcase(s, tc);
    return s;
}

GST_CHECK_MAIN(sink_redis);
