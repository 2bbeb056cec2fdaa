/* scriptsink: token streams that core's reader reads back (file, Unix socket with a late peer),
 * an unreachable TCP peer that never blocks the pipeline (drops and reconnects counted), the drop
 * policies, EOS draining, properties and location errors. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>

#include "gsttest.h"
#include "scriptprune/wire.h"

#define S 336
#define CAPS "video/x-raw,format=RGBx,width=336,height=336,framerate=10/1"
#define FRAME_NS (GST_SECOND / 10)

typedef struct {
    sp_wire_header header;
    guint packets;
    guint64 windows[64];
    guint counts[64];
    gchar error[SP_ERROR_MAX];
} Stream;

/* Reads a whole wire stream with core's reader; FALSE with s->error on any problem. */
static gboolean read_stream(const guint8 *data, gsize len, Stream *s) {
    memset(s, 0, sizeof *s);
    sp_wire_reader *r = sp_wire_reader_new(0);
    sp_error err;
    sp_error_clear(&err);
    gboolean ok = sp_wire_reader_feed(r, data, len, &err) == SP_OK;
    while (ok) {
        sp_packet p;
        bool got = false;
        ok = sp_wire_reader_next(r, &p, &got, &err) == SP_OK;
        if (!ok || !got)
            break;
        if (s->packets < 64) {
            s->windows[s->packets] = p.window;
            s->counts[s->packets] = (guint)p.count;
        }
        s->packets++;
    }
    if (ok)
        ok = sp_wire_reader_finish(r, &err) == SP_OK;
    if (sp_wire_reader_header(r))
        s->header = *sp_wire_reader_header(r);
    g_strlcpy(s->error, err.message, sizeof s->error);
    sp_wire_reader_free(r);
    return ok;
}

static GstElement *by_name(GstHarness *h, const gchar *name) {
    GstElement *e = gst_bin_get_by_name(GST_BIN(h->element), name);
    fail_unless(e != NULL);
    return e;
}

static guint64 counter(GstHarness *h, const gchar *name) {
    GstElement *sink = by_name(h, "out");
    guint64 v = 0;
    g_object_get(sink, name, &v, NULL);
    gst_object_unref(sink);
    return v;
}

static void push_frames(GstHarness *h, guint first, guint n) {
    for (guint i = first; i < first + n; i++)
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(S, S, i, i * FRAME_NS)),
                               GST_FLOW_OK);
}

static void push_eos(GstHarness *h) {
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
}

static gchar *harness_launch(const gchar *prune, const gchar *sink) {
    return g_strdup_printf("scriptencode ! scriptprune %s ! scriptsink name=out %s", prune, sink);
}

GST_START_TEST(test_file_stream_reads_back) {
    gchar *dir = gt_tmpdir();
    gchar *path = g_build_filename(dir, "tokens.sptok", NULL);
    gchar *sinkprops = g_strdup_printf("location=file://%s", path);
    gchar *launch =
        harness_launch("emit=window window=4 hop=2 window-budget=16 stream-name=cam0", sinkprops);
    GstHarness *h = gt_harness(launch, CAPS);
    push_frames(h, 0, 7);
    push_eos(h); /* drains the queue */
    fail_unless_equals_uint64(counter(h, "packets-written"), 4);
    fail_unless_equals_uint64(counter(h, "packets-dropped"), 0);
    guint64 bytes = counter(h, "bytes-written");
    gt_teardown(h);

    gchar *data;
    gsize len;
    fail_unless(g_file_get_contents(path, &data, &len, NULL));
    fail_unless_equals_uint64(len, bytes);
    Stream s;
    fail_unless(read_stream((const guint8 *)data, len, &s), "core reader: %s", s.error);
    fail_unless_equals_int(s.packets, 4); /* frames 1, 3, 5 and the partial window at EOS */
    fail_unless_equals_int(s.header.kind, SP_PACKET_WINDOW);
    fail_unless_equals_int(s.header.d, 256);
    fail_unless_equals_int(s.header.grid_h, 24);
    fail_unless_equals_int(s.header.window, 4);
    fail_unless_equals_int(s.header.hop, 2);
    fail_unless_equals_int(s.header.budget, 16);
    fail_unless_equals_int(s.header.dtype, SP_DTYPE_F16);
    fail_unless_equals_string(s.header.name, "cam0");
    for (guint i = 0; i < s.packets; i++) {
        fail_unless_equals_uint64(s.windows[i], i);
        fail_unless_equals_int(s.counts[i], 16); /* exact budgets */
    }
    g_free(data);
    g_free(launch);
    g_free(sinkprops);
    g_free(path);
    gt_rmdir(dir);
}
GST_END_TEST;

/* A listening Unix socket that accepts one peer and reads it to the end. */
typedef struct {
    int fd;
    GByteArray *bytes;
    GThread *thread;
} Listener;

static gpointer listen_thread(gpointer data) {
    Listener *l = data;
    int c = accept(l->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    guint8 buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        g_byte_array_append(l->bytes, buf, (guint)n);
    close(c);
    return NULL;
}

static void listen_unix(Listener *l, const gchar *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    l->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    fail_unless(l->fd >= 0);
    fail_unless(bind(l->fd, (struct sockaddr *)&sa, sizeof sa) == 0, "%s", g_strerror(errno));
    fail_unless(listen(l->fd, 1) == 0);
    l->bytes = g_byte_array_new();
    l->thread = g_thread_new("listener", listen_thread, l);
}

static void listener_join(Listener *l) {
    g_thread_join(l->thread);
    close(l->fd);
}

/* Waits (at most 10 s) until the named counter reaches at least `want`. */
static gboolean wait_counter(GstHarness *h, const gchar *name, guint64 want) {
    for (guint i = 0; i < 1000; i++) {
        if (counter(h, name) >= want)
            return TRUE;
        g_usleep(10000);
    }
    return FALSE;
}

GST_START_TEST(test_unix_socket_with_a_late_peer) {
    gchar *dir = gt_tmpdir();
    gchar *path = g_build_filename(dir, "scriptd.sock", NULL);
    gchar *sinkprops =
        g_strdup_printf("location=unix://%s reconnect-min-ms=20 reconnect-max-ms=80", path);
    gchar *launch = harness_launch("emit=frame budget=12", sinkprops);
    GstHarness *h = gt_harness(launch, CAPS);
    /* nobody listens yet: the frames still flow, packets wait in the queue */
    push_frames(h, 0, 4);
    fail_unless(wait_counter(h, "reconnects", 1));
    fail_unless_equals_uint64(counter(h, "packets-written"), 0);
    Listener l;
    listen_unix(&l, path);
    push_frames(h, 4, 2);
    push_eos(h);
    fail_unless_equals_uint64(counter(h, "packets-written"), 6);
    fail_unless_equals_uint64(counter(h, "packets-dropped"), 0);
    gt_teardown(h); /* closes the connection */
    listener_join(&l);
    Stream s;
    fail_unless(read_stream(l.bytes->data, l.bytes->len, &s), "core reader: %s", s.error);
    fail_unless_equals_int(s.packets, 6);
    fail_unless_equals_int(s.header.kind, SP_PACKET_FRAME);
    for (guint i = 0; i < 6; i++)
        fail_unless_equals_uint64(s.windows[i], i);
    g_byte_array_unref(l.bytes);
    g_free(launch);
    g_free(sinkprops);
    g_free(path);
    gt_rmdir(dir);
}
GST_END_TEST;

/* A TCP port on loopback where nobody listens. */
static guint free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fail_unless(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

GST_START_TEST(test_unreachable_tcp_peer_never_blocks) {
    gchar *sinkprops = g_strdup_printf("location=tcp://127.0.0.1:%u max-queue-packets=2 "
                                       "reconnect-min-ms=5 reconnect-max-ms=20 "
                                       "drain-timeout-ms=100",
                                       free_port());
    gchar *launch = harness_launch("emit=frame budget=8", sinkprops);
    GstHarness *h = gt_harness(launch, CAPS);
    gint64 t0 = g_get_monotonic_time();
    push_frames(h, 0, 12);
    fail_unless(wait_counter(h, "reconnects", 3));
    push_eos(h);
    /* 12 frames and a bounded drain: no waiting for the peer */
    fail_unless(g_get_monotonic_time() - t0 < 20 * G_USEC_PER_SEC);
    fail_unless_equals_uint64(counter(h, "packets-written"), 0);
    fail_unless_equals_uint64(counter(h, "bytes-written"), 0);
    /* everything is dropped: by the queue bound, then at EOS */
    fail_unless(wait_counter(h, "packets-dropped", 12));
    fail_unless_equals_uint64(counter(h, "packets-dropped"), 12);
    fail_unless(counter(h, "reconnects") >= 3);
    fail_unless(gt_pop_message(gt_bus(h), GST_MESSAGE_ERROR, NULL) == NULL);
    gt_teardown(h);
    g_free(launch);
    g_free(sinkprops);
}
GST_END_TEST;

/* Frame packets 0..7 into a queue of 3 while the peer is away, then the peer comes. */
static void run_policy(const gchar *policy, Stream *s, guint64 *dropped) {
    gchar *dir = gt_tmpdir();
    gchar *path = g_build_filename(dir, "p.sock", NULL);
    gchar *sinkprops = g_strdup_printf("location=unix://%s drop-policy=%s max-queue-packets=3 "
                                       "reconnect-min-ms=400 reconnect-max-ms=400",
                                       path, policy);
    gchar *launch = harness_launch("emit=frame budget=4", sinkprops);
    GstHarness *h = gt_harness(launch, CAPS);
    push_frames(h, 0, 8);
    Listener l;
    listen_unix(&l, path);
    push_eos(h);
    *dropped = counter(h, "packets-dropped");
    gt_teardown(h);
    listener_join(&l);
    fail_unless(read_stream(l.bytes->data, l.bytes->len, s), "core reader: %s", s->error);
    g_byte_array_unref(l.bytes);
    g_free(launch);
    g_free(sinkprops);
    g_free(path);
    gt_rmdir(dir);
}

GST_START_TEST(test_drop_policies) {
    Stream s;
    guint64 dropped;
    run_policy("newest", &s, &dropped);
    fail_unless(dropped >= 4, "dropped %" G_GUINT64_FORMAT, dropped);
    fail_unless_equals_int(s.packets + dropped, 8);
    fail_unless_equals_uint64(s.windows[0], 0); /* the first packets stay */
    fail_unless(s.windows[s.packets - 1] < 7);
    run_policy("oldest", &s, &dropped);
    fail_unless(dropped >= 4);
    fail_unless_equals_int(s.packets + dropped, 8);
    fail_unless_equals_uint64(s.windows[s.packets - 1], 7); /* the last packets stay */
}
GST_END_TEST;

/* READY -> PAUSED of a scriptsink; the error text, or NULL. */
static gchar *start_error(const gchar *location) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptsink", NULL);
    g_object_set(e, "location", location, NULL);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    gchar *text = NULL;
    if (gst_element_set_state(e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
        GstMessage *m = gt_pop_message(bus, GST_MESSAGE_ERROR, NULL);
        GError *err = NULL;
        gst_message_parse_error(m, &err, NULL);
        text = g_strdup(err->message);
        g_error_free(err);
        gst_message_unref(m);
    }
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
    return text;
}

GST_START_TEST(test_locations_and_properties) {
    gchar *t = start_error("file:///nonexistent-dir/x.sptok");
    fail_unless(t && strstr(t, "/nonexistent-dir/x.sptok") && strstr(t, "No such file"), "%s", t);
    g_free(t);
    t = start_error("http://example.com/x");
    fail_unless(t && strstr(t, "scheme"), "%s", t);
    g_free(t);
    t = start_error("tcp://localhost");
    fail_unless(t && strstr(t, "port"), "%s", t);
    g_free(t);
    t = start_error("relative/path");
    fail_unless(t && strstr(t, "absolute"), "%s", t);
    g_free(t);
    /* a TCP peer that is away is not an error at start */
    t = start_error("tcp://127.0.0.1:9");
    fail_unless(t == NULL, "%s", t);

    GstElement *e = gst_element_factory_make("scriptsink", NULL);
    g_object_set(e, "location", "tcp://[::1]:7000", "max-queue-packets", 9, "max-queue-bytes",
                 G_GUINT64_CONSTANT(12345), "drop-policy", 1, "dtype", 1, "reconnect-min-ms", 7,
                 "reconnect-max-ms", 70, "drain-timeout-ms", 700, NULL);
    gchar *loc;
    guint mp, rmin, rmax, drain;
    guint64 mb, written;
    gint policy, dtype;
    gboolean sync;
    g_object_get(e, "location", &loc, "max-queue-packets", &mp, "max-queue-bytes", &mb,
                 "drop-policy", &policy, "dtype", &dtype, "reconnect-min-ms", &rmin,
                 "reconnect-max-ms", &rmax, "drain-timeout-ms", &drain, "packets-written", &written,
                 "sync", &sync, NULL);
    fail_unless_equals_string(loc, "tcp://[::1]:7000");
    fail_unless_equals_int(mp, 9);
    fail_unless_equals_uint64(mb, 12345);
    fail_unless_equals_int(policy, 1);
    fail_unless_equals_int(dtype, 1);
    fail_unless_equals_int(rmin, 7);
    fail_unless_equals_int(rmax, 70);
    fail_unless_equals_int(drain, 700);
    fail_unless_equals_uint64(written, 0);
    fail_if(sync);
    g_free(loc);
    /* any caps: it only reads the meta and the packet events */
    GstPad *pad = gst_element_get_static_pad(e, "sink");
    GstCaps *caps = gst_caps_from_string("application/x-anything");
    fail_unless(gst_pad_query_accept_caps(pad, caps));
    gst_caps_unref(caps);
    gst_object_unref(pad);
    /* counters are read-only */
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "packets-dropped");
    fail_if(ps->flags & G_PARAM_WRITABLE);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_f32_and_buffers_without_packets) {
    gchar *dir = gt_tmpdir();
    gchar *path = g_build_filename(dir, "t.sptok", NULL);
    /* frames without a tokens meta (sample-every) and without packets (window) are skipped */
    gchar *launch = g_strdup_printf("scriptencode sample-every=2 ! scriptprune emit=window "
                                    "window=2 hop=2 window-budget=5 ! scriptsink name=out "
                                    "dtype=f32 location=file://%s",
                                    path);
    GstHarness *h = gt_harness(launch, CAPS);
    push_frames(h, 0, 9); /* 5 encoded frames: packets after the 2nd and 4th, and at EOS */
    push_eos(h);
    fail_unless_equals_uint64(counter(h, "packets-written"), 3);
    gt_teardown(h);
    gchar *data;
    gsize len;
    fail_unless(g_file_get_contents(path, &data, &len, NULL));
    Stream s;
    fail_unless(read_stream((const guint8 *)data, len, &s), "%s", s.error);
    fail_unless_equals_int(s.header.dtype, SP_DTYPE_F32);
    fail_unless_equals_int(s.packets, 3);
    g_free(data);
    g_free(launch);
    g_free(path);
    gt_rmdir(dir);
}
GST_END_TEST;

static Suite *sink_suite(void) {
    Suite *s = suite_create("gst-sink");
    TCase *tc = tcase_create("sink");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_file_stream_reads_back);
    tcase_add_test(tc, test_unix_socket_with_a_late_peer);
    tcase_add_test(tc, test_unreachable_tcp_peer_never_blocks);
    tcase_add_test(tc, test_drop_policies);
    tcase_add_test(tc, test_locations_and_properties);
    tcase_add_test(tc, test_f32_and_buffers_without_packets);
    return s;
}

GST_CHECK_MAIN(sink);
