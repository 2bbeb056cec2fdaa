/* scriptprune: the missing-meta error, properties, frame and window emissions with exact budgets
 * and consistent fates, EOS / flush / segment / timestamps going back, queries changed while
 * PLAYING (property and event, from their running time), exemplars at the frames' scale, query
 * failures, reselect and stats. */
#include <string.h>

#include "evidence.h"
#include "fates.h"
#include "gsttest.h"
#include "pruneparams.h"
#include "scriptprune/encode.h"
#include "scriptprune/npy.h"
#include "scriptprune/safetensors.h"

#define S 336
#define CAPS "video/x-raw,format=RGBx,width=336,height=336,framerate=10/1"
#define FRAME_NS (GST_SECOND / 10)

/* Pushes the frame of `shift` at pts and returns the output buffer. */
static GstBuffer *push_frame(GstHarness *h, guint shift, GstClockTime pts) {
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(S, S, shift, pts)), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    fail_unless(out != NULL);
    return out;
}

static GstScriptTokensMeta *meta_of(GstBuffer *b) {
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(b);
    fail_unless(m != NULL && m->pruned);
    return m;
}

/* Counts the fates of m: out[fate] for CANDIDATE, TEMPORAL, SPATIAL, and [3] = UNKNOWN. */
static void count_fates(GstScriptTokensMeta *m, guint out[4]) {
    memset(out, 0, 4 * sizeof *out);
    GstMapInfo map;
    fail_unless(gst_script_tensor_map(&m->fates, &map));
    for (gsize i = 0; i < map.size; i++)
        out[map.data[i] <= 2 ? map.data[i] : 3]++;
    gst_buffer_unmap(m->fates.data, &map);
}

/* Structure of the next emission message (NULL when none). */
static GstStructure *next_emission(GstBus *bus) {
    GstMessage *msg = gt_pop_message(bus, GST_MESSAGE_ELEMENT, "scriptprune-emission");
    if (!msg)
        return NULL;
    GstStructure *s = gst_structure_copy(gst_message_get_structure(msg));
    gst_message_unref(msg);
    return s;
}

static guint64 field_u64(const GstStructure *s, const gchar *name) {
    guint64 v = 0;
    fail_unless(gst_structure_get_uint64(s, name, &v), "field %s missing", name);
    return v;
}

/* The pending packet events on the harness's sink, in order; other events are dropped. */
static guint pull_packet_events(GstHarness *h, GstScriptPacket *last) {
    guint n = 0;
    GstEvent *e;
    while ((e = gst_harness_try_pull_event(h))) {
        if (gst_script_packet_event_is(e)) {
            n++;
            if (last)
                fail_unless(gst_script_packet_event_parse(e, last));
        }
        gst_event_unref(e);
    }
    return n;
}

static gchar *error_text(GstBus *bus) {
    GstMessage *m = gt_pop_message(bus, GST_MESSAGE_ERROR, NULL);
    if (!m)
        return NULL;
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    gchar *t = g_strdup(err->message);
    g_error_free(err);
    gst_message_unref(m);
    return t;
}

/* A buffer with a meta of n zero tokens of width 4 carrying tokens of frame tokens_of and, when
 * verdict >= 0, evidence against frame ref: cell 1 seen at (0.5, -1), the others `verdict`. */
static GstBuffer *evidence_buffer(guint64 tokens_of, guint64 ref, float verdict) {
    enum { N = 4 };
    GstBuffer *buf = gst_buffer_new();
    GstBuffer *tok = gst_buffer_new_allocate(NULL, N * 4 * sizeof(float), NULL);
    gst_buffer_memset(tok, 0, 0, N * 4 * sizeof(float));
    GstScriptTokensMeta *m = gst_buffer_add_script_tokens_meta(buf, tok, N, 4, NULL, 0, 2, 2);
    gst_buffer_unref(tok);
    fail_unless(m != NULL);
    m->tokens_of = tokens_of;
    if (verdict >= 0) {
        float v[N * 3];
        for (int i = 0; i < N; i++) {
            v[3 * i] = 0.0f;
            v[3 * i + 1] = 0.0f;
            v[3 * i + 2] = verdict;
        }
        v[3] = 0.5f, v[4] = -1.0f, v[5] = 1.0f;
        GstBuffer *e = gst_buffer_new_memdup(v, sizeof v);
        fail_unless(gst_script_tokens_meta_set_evidence(m, e, ref));
        gst_buffer_unref(e);
    }
    return buf;
}

/* scriptprune takes the meta's pixel evidence only against the tokens the stream took last: not
 * on a stream's first frame, not after a frame it did not take, not from a producer without it;
 * malformed evidence is an error naming the token. */
GST_START_TEST(test_pixel_evidence_only_against_the_last_frame_taken) {
    ScriptEvidence ev = {0};
    const sp_pixel_evidence *out = (const sp_pixel_evidence *)1;
    gchar *msg = NULL;
    GstBuffer *b0 = evidence_buffer(0, 0, -1), *b2 = evidence_buffer(2, 0, 0.0f);
    GstBuffer *b3 = evidence_buffer(3, 1, 2.0f), *bad = evidence_buffer(4, 2, 3.0f);
    GstScriptTokensMeta *m0 = gst_buffer_get_script_tokens_meta(b0);
    GstScriptTokensMeta *m2 = gst_buffer_get_script_tokens_meta(b2);
    GstScriptTokensMeta *m3 = gst_buffer_get_script_tokens_meta(b3);
    fail_unless(script_evidence_read(&ev, m2, &out, &msg));
    fail_unless(out == NULL, "evidence on the stream's first frame");
    fail_unless(script_evidence_read(&ev, m0, &out, &msg) && out == NULL);
    script_evidence_took(&ev, m0);
    fail_unless(script_evidence_read(&ev, m2, &out, &msg));
    fail_unless(out != NULL);
    fail_unless_equals_int(out[1].verdict, SP_PIXELS_SEEN);
    fail_unless(out[1].dy == 0.5f && out[1].dx == -1.0f);
    fail_unless_equals_int(out[0].verdict, SP_PIXELS_UNKNOWN);
    script_evidence_took(&ev, m2);
    fail_unless(script_evidence_read(&ev, m3, &out, &msg));
    fail_unless(out == NULL, "evidence against frame 1, which the stream did not take");
    fail_unless(!script_evidence_read(&ev, gst_buffer_get_script_tokens_meta(bad), &out, &msg));
    fail_unless(strstr(msg, "token 0") != NULL, "%s", msg);
    g_free(msg);
    script_evidence_restart(&ev);
    fail_unless(script_evidence_read(&ev, m2, &out, &msg) && out == NULL);
    script_evidence_free(&ev);
    gst_buffer_unref(b0);
    gst_buffer_unref(b2);
    gst_buffer_unref(b3);
    gst_buffer_unref(bad);
}
GST_END_TEST;

/* scriptencode ! scriptprune with the change gate: every frame is pruned, the skipped one is all
 * temporal repeats, and the changed frame after it has fates (its evidence compares with frame
 * 0, whose tokens the stream took last). */
GST_START_TEST(test_pixel_evidence_through_the_gate) {
    GstHarness *h =
        gt_harness("scriptencode skip-unchanged=true max-skip-s=100 ! scriptprune", CAPS);
    static const guint shift[4] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        GstBuffer *out = push_frame(h, shift[i], (GstClockTime)i * FRAME_NS);
        GstScriptTokensMeta *m = meta_of(out);
        guint f[4];
        count_fates(m, f);
        fail_unless_equals_int(f[3], 0);
        if (i == 1 || i == 3)
            fail_unless_equals_int(f[1], (gint)gst_script_tokens_meta_n_tokens(m));
        if (i == 2) {
            fail_unless(gst_script_tensor_is_set(&m->evidence));
            fail_unless_equals_uint64(m->evidence_ref, 0);
            fail_unless(f[0] + f[2] > 0, "the changed frame has nothing new");
        }
        gst_buffer_unref(out);
    }
    gt_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_no_meta_is_an_element_error) {
    GstHarness *h = gt_harness("scriptprune", CAPS);
    GstBuffer *plain = gst_buffer_new_allocate(NULL, S * S * 4, NULL);
    fail_unless_equals_int(gst_harness_push(h, plain), GST_FLOW_ERROR);
    gchar *text = error_text(gt_bus(h));
    fail_unless(text != NULL);
    fail_unless_equals_string(text, "no GstScriptTokensMeta on the buffer: put scriptencode "
                                    "upstream");
    g_free(text);
    gt_teardown(h);

    /* the same in a running pipeline: an error on the bus, no crash */
    gt_register_plugin();
    GstElement *p = gst_parse_launch("videotestsrc num-buffers=5 ! scriptprune ! fakesink", NULL);
    fail_unless(p != NULL);
    gst_element_set_state(p, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *m =
        gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    fail_unless(m != NULL && GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR);
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    fail_unless(strstr(err->message, "put scriptencode upstream") != NULL);
    g_error_free(err);
    gst_message_unref(m);
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
}
GST_END_TEST;

GST_START_TEST(test_frames_without_meta_after_encoded_ones_pass) {
    GstHarness *h = gt_harness("scriptencode sample-every=2 ! scriptprune emit=frame", CAPS);
    for (guint i = 0; i < 4; i++) {
        GstBuffer *out = push_frame(h, i, i * FRAME_NS);
        GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
        fail_unless((m != NULL) == (i % 2 == 0));
        if (m)
            fail_unless(m->pruned);
        gst_buffer_unref(out);
    }
    gt_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_properties_roundtrip) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptprune", NULL);
    g_object_set(e, "emit", 0, "budget", 33, "window", 20, "hop", 5, "window-budget", 99, "tau",
                 0.3f, "temporal-tau", 0.8f, "radius", 2, "gsp-keep", 0.25f, "history-bytes",
                 G_GUINT64_CONSTANT(1) << 20, "stream-name", "cam1", "query-text", "a dog",
                 "query-image", "/tmp/q.png", "query-embedding", "/tmp/q.npy", "encoder-backend", 1,
                 "encoder-model", "/m", "encoder-image-size", 224, "encoder-patch-size", 16,
                 "exemplar-mode", 2, NULL);
    gst_util_set_object_arg(G_OBJECT(e), "method", "qcsp");
    gint emit, backend, exemplar, method;
    guint budget, window, hop, wbudget, radius, isize, psize;
    gfloat tau, ttau, keep;
    guint64 hist;
    gchar *name, *text, *image, *emb, *model;
    g_object_get(e, "method", &method, "emit", &emit, "budget", &budget, "window", &window, "hop",
                 &hop, "window-budget", &wbudget, "tau", &tau, "temporal-tau", &ttau, "radius",
                 &radius, "gsp-keep", &keep, "history-bytes", &hist, "stream-name", &name,
                 "query-text", &text, "query-image", &image, "query-embedding", &emb,
                 "encoder-backend", &backend, "encoder-model", &model, "encoder-image-size", &isize,
                 "encoder-patch-size", &psize, "exemplar-mode", &exemplar, NULL);
    fail_unless_equals_int(method, 3); /* SP_METHOD_QCSP */
    fail_unless_equals_int(emit, 0);
    fail_unless_equals_int(budget, 33);
    fail_unless_equals_int(window, 20);
    fail_unless_equals_int(hop, 5);
    fail_unless_equals_int(wbudget, 99);
    fail_unless_equals_float(tau, 0.3f);
    fail_unless_equals_float(ttau, 0.8f);
    fail_unless_equals_int(radius, 2);
    fail_unless_equals_float(keep, 0.25f);
    fail_unless_equals_uint64(hist, G_GUINT64_CONSTANT(1) << 20);
    fail_unless_equals_string(name, "cam1");
    fail_unless_equals_string(text, "a dog");
    fail_unless_equals_string(image, "/tmp/q.png");
    fail_unless_equals_string(emb, "/tmp/q.npy");
    fail_unless_equals_int(backend, 1);
    fail_unless_equals_string(model, "/m");
    fail_unless_equals_int(isize, 224);
    fail_unless_equals_int(psize, 16);
    fail_unless_equals_int(exemplar, 2);
    /* packet-mode: snapshot by default, delta by nick */
    gint mode;
    g_object_get(e, "packet-mode", &mode, NULL);
    fail_unless_equals_int(mode, GST_SCRIPT_PACKET_MODE_SNAPSHOT);
    gst_util_set_object_arg(G_OBJECT(e), "packet-mode", "delta");
    g_object_get(e, "packet-mode", &mode, NULL);
    fail_unless_equals_int(mode, GST_SCRIPT_PACKET_MODE_DELTA);
    g_free(name);
    g_free(text);
    g_free(image);
    g_free(emb);
    g_free(model);
    /* GSP graph parameters and the history's age bound */
    gst_util_set_object_arg(G_OBJECT(e), "graph", "full");
    g_object_set(e, "k-min", 7u, "gamma", 0.5f, "history-max-age", G_GUINT64_CONSTANT(5000000000),
                 NULL);
    gint graph;
    guint k_min;
    gfloat gamma;
    guint64 max_age;
    g_object_get(e, "graph", &graph, "k-min", &k_min, "gamma", &gamma, "history-max-age", &max_age,
                 NULL);
    fail_unless_equals_int(graph, GST_SCRIPT_GRAPH_FULL);
    fail_unless_equals_int(k_min, 7);
    fail_unless_equals_float(gamma, 0.5f);
    fail_unless_equals_uint64(max_age, G_GUINT64_CONSTANT(5000000000));
    /* the method enum is core's method table */
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "method");
    GEnumValue *v = g_enum_get_value_by_nick(G_PARAM_SPEC_ENUM(ps)->enum_class, "script-authors");
    fail_unless(v != NULL);
    /* query properties may change while PLAYING, the others only up to READY */
    fail_unless(ps->flags & GST_PARAM_MUTABLE_READY);
    ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "query-text");
    fail_unless(ps->flags & GST_PARAM_MUTABLE_PLAYING);
    /* any caps: it only reads the meta */
    GstPad *sink = gst_element_get_static_pad(e, "sink");
    GstCaps *audio = gst_caps_from_string("audio/x-raw,format=S16LE,rate=8000,channels=1");
    fail_unless(gst_pad_query_accept_caps(sink, audio));
    gst_caps_unref(audio);
    gst_object_unref(sink);
    /* stats before start: the structure with every counter at 0 */
    GstStructure *st = NULL;
    g_object_get(e, "stats", &st, NULL);
    fail_unless(gst_structure_has_name(st, "scriptprune-stats"));
    fail_unless_equals_int(gst_structure_n_fields(st), 22);
    fail_unless_equals_uint64(field_u64(st, "padding-drops"), 0);
    fail_unless_equals_uint64(field_u64(st, "frames-in"), 0);
    gst_structure_free(st);
    gst_object_unref(e);
}
GST_END_TEST;

/* The GSP and history properties reach core's stream settings, which run them. */
GST_START_TEST(test_gsp_and_history_properties_reach_the_stream) {
    PruneParams pp;
    prune_params_init(&pp);
    pp.sp.gsp.graph = SP_GRAPH_FULL;
    pp.sp.gsp.k_min = 9;
    pp.sp.gsp.gamma = 2.5f;
    pp.sp.history_max_age = 3000000000;
    sp_stream_params sp;
    gchar *msg = NULL;
    fail_unless(prune_params_to_stream(&pp, &sp, &msg), "%s", msg);
    fail_unless_equals_int(sp.gsp.graph, SP_GRAPH_FULL);
    fail_unless_equals_int(sp.gsp.k_min, 9);
    fail_unless_equals_float(sp.gsp.gamma, 2.5f);
    fail_unless_equals_int64(sp.history_max_age, 3000000000);
    prune_params_clear(&pp);

    /* the full graph runs: each frame packet holds the budget */
    GstHarness *h =
        gt_harness("scriptencode ! scriptprune emit=frame budget=16 graph=full k-min=2", CAPS);
    for (guint i = 0; i < 3; i++) {
        GstBuffer *out = push_frame(h, i, i * FRAME_NS);
        const GstScriptPacket *p = &meta_of(out)->packet;
        fail_unless_equals_int(p->budget, 16);
        guint f[4];
        count_fates(meta_of(out), f);
        fail_unless_equals_int(p->count, MIN(16, f[0]));
        fail_unless(f[0] > 0);
        gst_buffer_unref(out);
    }
    gt_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_frame_emissions) {
    GstHarness *h = gt_harness("scriptencode ! scriptprune emit=frame budget=16", CAPS);
    GstBus *bus = gt_bus(h);
    guint temporal_seen = 0;
    for (guint i = 0; i < 5; i++) {
        GstBuffer *out = push_frame(h, i, i * FRAME_NS);
        GstScriptTokensMeta *m = meta_of(out);
        fail_unless_equals_uint64(m->stream_frame, i);
        fail_unless(m->has_packet);
        const GstScriptPacket *p = &m->packet;
        fail_unless_equals_int(p->kind, GST_SCRIPT_PACKET_KIND_FRAME);
        fail_unless_equals_uint64(p->window_id, i);
        fail_unless_equals_uint64(p->frame_first, i);
        fail_unless_equals_uint64(p->pts_first, i * FRAME_NS);
        fail_unless_equals_int(p->budget, 16);
        fail_unless_equals_int(p->grid_h, 24);
        guint f[4];
        count_fates(m, f);
        fail_unless_equals_int(f[0] + f[1] + f[2] + f[3], 576);
        GstStructure *s = next_emission(bus);
        fail_unless(s != NULL, "no emission message for frame %u", i);
        fail_unless_equals_uint64(field_u64(s, "emitted"), p->count);
        fail_unless_equals_uint64(field_u64(s, "tokens-in"), 576);
        fail_unless_equals_uint64(field_u64(s, "window-id"), i);
        fail_unless(field_u64(s, "select-ns") > 0);
        fail_unless_equals_int(f[3], 0);
        /* the packet holds exactly min(budget, candidates) tokens */
        fail_unless_equals_int(p->count, MIN(16, f[0]));
        fail_unless_equals_uint64(field_u64(s, "kept"), f[0]);
        fail_unless_equals_uint64(field_u64(s, "temporal-drops"), f[1]);
        fail_unless_equals_uint64(field_u64(s, "spatial-drops"), f[2]);
        if (i == 0)
            fail_unless_equals_int(f[1], 0); /* nothing to repeat yet */
        temporal_seen += f[1];
        gst_structure_free(s);
        /* every packet token comes from this frame, at a candidate's position */
        GstMapInfo pm, fm;
        fail_unless(gst_script_tensor_map(&p->provenance, &pm) || p->count == 0);
        fail_unless(gst_script_tensor_map(&m->fates, &fm));
        const gint64 *row = (const gint64 *)pm.data;
        for (guint k = 0; k < p->count; k++, row += GST_SCRIPT_PROVENANCE_COLUMNS) {
            fail_unless_equals_int64(row[GST_SCRIPT_PROVENANCE_FRAME], i);
            fail_unless_equals_int64(row[GST_SCRIPT_PROVENANCE_PTS], i * FRAME_NS);
            gsize pos = row[GST_SCRIPT_PROVENANCE_Y] * 24 + row[GST_SCRIPT_PROVENANCE_X];
            fail_unless_equals_int(fm.data[pos], GST_SCRIPT_FATE_CANDIDATE);
        }
        if (p->count)
            gst_buffer_unmap(p->provenance.data, &pm);
        gst_buffer_unmap(m->fates.data, &fm);
        gst_buffer_unref(out);
    }
    /* the left half of the picture never changes */
    fail_unless(temporal_seen > 0);
    gt_teardown(h);
}
GST_END_TEST;

/* The element named `name` inside a harness built from a launch line (a new reference). */
static GstElement *by_name(GstHarness *h, const gchar *name) {
    GstElement *e = gst_bin_get_by_name(GST_BIN(h->element), name);
    fail_unless(e != NULL);
    return e;
}

static GstStructure *stats_of(GstHarness *h) {
    GstElement *p = by_name(h, "p");
    GstStructure *st = NULL;
    g_object_get(p, "stats", &st, NULL);
    gst_object_unref(p);
    return st;
}

GST_START_TEST(test_window_emissions_eos_and_stats) {
    GstHarness *h = gt_harness(
        "scriptencode ! scriptprune name=p emit=window window=4 hop=2 window-budget=20", CAPS);
    GstBus *bus = gt_bus(h);
    guint64 next_window = 0;
    for (guint i = 0; i < 5; i++) {
        GstBuffer *out = push_frame(h, i, i * FRAME_NS);
        GstScriptTokensMeta *m = meta_of(out);
        gboolean expect = (i % 2) == 1;
        fail_unless(m->has_packet == expect, "frame %u: packet %d", i, m->has_packet);
        if (expect) {
            const GstScriptPacket *p = &m->packet;
            fail_unless_equals_int(p->kind, GST_SCRIPT_PACKET_KIND_WINDOW);
            fail_unless_equals_uint64(p->window_id, next_window++);
            fail_unless_equals_uint64(p->frame_last, i);
            fail_unless_equals_int(p->count, 20); /* exact: the window has more candidates */
            fail_unless_equals_int(p->window_frames, 4);
            fail_unless_equals_int(p->hop_frames, 2);
        }
        gst_buffer_unref(out);
    }
    fail_unless_equals_int(gt_count_messages(bus, "scriptprune-emission"), 2);
    GstStructure *st = stats_of(h);
    fail_unless_equals_uint64(field_u64(st, "frames-in"), 5);
    fail_unless_equals_uint64(field_u64(st, "tokens-in"), 5 * 576);
    fail_unless_equals_uint64(field_u64(st, "packets"), 2);
    fail_unless_equals_uint64(field_u64(st, "tokens-emitted"), 40);
    gst_structure_free(st);

    /* EOS: the partial window (frame 4) goes out as a packet event before EOS */
    pull_packet_events(h, NULL);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GstScriptPacket last;
    gst_script_packet_init(&last);
    GstEvent *e;
    gboolean got_packet = FALSE, eos_after = FALSE;
    while ((e = gst_harness_try_pull_event(h))) {
        if (gst_script_packet_event_is(e)) {
            fail_unless(gst_script_packet_event_parse(e, &last));
            got_packet = TRUE;
        } else if (GST_EVENT_TYPE(e) == GST_EVENT_EOS) {
            eos_after = got_packet;
        }
        gst_event_unref(e);
    }
    fail_unless(got_packet && eos_after, "packet event %d, EOS after it %d", got_packet, eos_after);
    fail_unless_equals_uint64(last.window_id, 2);
    fail_unless_equals_uint64(last.frame_last, 4);
    fail_unless_equals_int(last.count, 20);
    gst_script_packet_clear(&last);
    fail_unless_equals_int(gt_count_messages(bus, "scriptprune-emission"), 1);
    gt_teardown(h);
}
GST_END_TEST;

static void push_segment(GstHarness *h) {
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&seg)));
}

GST_START_TEST(test_flush_resets_the_window) {
    GstHarness *h = gt_harness(
        "scriptencode ! scriptprune name=p emit=window window=4 hop=2 window-budget=8", CAPS);
    for (guint i = 0; i < 3; i++)
        gst_buffer_unref(push_frame(h, i, i * FRAME_NS));
    pull_packet_events(h, NULL);
    /* a flushing seek: the window is discarded (no packet), the counters restart */
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    push_segment(h);
    fail_unless_equals_int(pull_packet_events(h, NULL), 0);
    GstStructure *st = stats_of(h);
    fail_unless_equals_uint64(field_u64(st, "frames-in"), 0);
    gst_structure_free(st);
    GstBuffer *out = push_frame(h, 0, 0);
    GstScriptTokensMeta *m = meta_of(out);
    fail_unless_equals_uint64(m->stream_frame, 3); /* frame indices keep growing */
    fail_if(m->has_packet);
    gst_buffer_unref(out);
    out = push_frame(h, 1, FRAME_NS);
    m = meta_of(out);
    fail_unless(m->has_packet);
    fail_unless_equals_uint64(m->packet.window_id, 1); /* after window 0 of the old stream */
    fail_unless_equals_uint64(m->packet.frame_first, 3);
    fail_unless_equals_uint64(m->packet.frame_last, 4);
    /* the window starts afresh: the first frame after the flush is all new */
    gst_buffer_unref(out);
    st = stats_of(h);
    fail_unless_equals_uint64(field_u64(st, "frames-in"), 2);
    gst_structure_free(st);
    gt_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_new_segment_and_time_going_back) {
    GstHarness *h = gt_harness(
        "scriptencode ! scriptprune name=p emit=window window=8 hop=4 window-budget=8", CAPS);
    for (guint i = 0; i < 3; i++)
        gst_buffer_unref(push_frame(h, i, i * FRAME_NS));
    pull_packet_events(h, NULL);
    /* a new segment without a flush: the old segment's partial window goes out first */
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    seg.base = GST_SECOND;
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&seg)));
    GstEvent *e;
    gboolean packet = FALSE, segment_after = FALSE;
    while ((e = gst_harness_try_pull_event(h))) {
        if (gst_script_packet_event_is(e))
            packet = TRUE;
        else if (GST_EVENT_TYPE(e) == GST_EVENT_SEGMENT)
            segment_after = packet;
        gst_event_unref(e);
    }
    fail_unless(packet && segment_after);
    /* a PTS going backwards starts a new stream instead of failing */
    gst_buffer_unref(push_frame(h, 0, 5 * FRAME_NS));
    gst_buffer_unref(push_frame(h, 1, 6 * FRAME_NS));
    GstBuffer *out = push_frame(h, 2, 2 * FRAME_NS);
    GstScriptTokensMeta *m = meta_of(out);
    fail_unless_equals_uint64(m->stream_frame, 5);
    gst_buffer_unref(out);
    fail_unless_equals_int(pull_packet_events(h, NULL), 1); /* frames 3..4 flushed */
    GstStructure *st = stats_of(h);
    fail_unless_equals_uint64(field_u64(st, "frames-in"), 1);
    gst_structure_free(st);
    fail_unless(gt_pop_message(gt_bus(h), GST_MESSAGE_ERROR, NULL) == NULL);
    gt_teardown(h);
}
GST_END_TEST;

/* ---- queries ------------------------------------------------------------------------------- */

/* The patch encoder's tokens of frame `shift` (576 x 256, g_free). */
static gfloat *direct_tokens(guint shift) {
    GstBuffer *b = gt_frame_rgbx(S, S, shift, 0);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
    fail_unless(sp_encoder_open(&cfg, &enc, &err) == SP_OK);
    fail_unless(sp_encode_ctx_new(enc, &ctx, &err) == SP_OK);
    sp_image img = {map.data, S, S, S * 4, SP_PIXFMT_RGBX};
    sp_encoding r;
    sp_encoding_init(&r);
    fail_unless(sp_encode(ctx, &img, &r, &err) == SP_OK);
    gfloat *tok = g_memdup2(r.tokens, r.n * r.d * sizeof(float));
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
    return tok;
}

/* Mean cosine of a packet's tokens to q (width 256). */
static gdouble packet_relevance(const GstScriptPacket *p, const gfloat *q) {
    if (p->count == 0)
        return 0.0;
    GstMapInfo map;
    fail_unless(gst_script_tensor_map(&p->tokens, &map));
    gdouble sum = 0;
    for (guint i = 0; i < p->count; i++)
        sum += gt_cosine((const gfloat *)map.data + (gsize)i * 256, q, 256);
    gst_buffer_unmap(p->tokens.data, &map);
    return sum / p->count;
}

static void flush(GstHarness *h) {
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    push_segment(h);
}

/* The query row: the token at grid (2, 2), inside the picture's first block. */
static gfloat *query_row(void) {
    gfloat *tok = direct_tokens(0);
    gfloat *q = g_memdup2(tok + (2 * 24 + 2) * 256, 256 * sizeof(gfloat));
    g_free(tok);
    return q;
}

GST_START_TEST(test_query_property_while_playing) {
    gchar *dir = gt_tmpdir();
    gchar *npy = g_build_filename(dir, "q.npy", NULL);
    gfloat *q = query_row();
    sp_error err;
    fail_unless(sp_npy_write(npy, q, 1, 256, 2, SP_DTYPE_F32, &err) == SP_OK);

    GstHarness *h =
        gt_harness("scriptencode ! scriptprune name=p emit=frame budget=8 gsp-keep=1", CAPS);
    GstBuffer *out = push_frame(h, 0, 0);
    GstScriptTokensMeta *m = meta_of(out);
    fail_unless_equals_uint64(m->packet.query_hash, 0);
    gdouble before = packet_relevance(&m->packet, q);
    gst_buffer_unref(out);

    GstElement *p = by_name(h, "p");
    g_object_set(p, "query-embedding", npy, NULL); /* while PLAYING */
    flush(h);                                      /* same frame again, in a fresh window */
    out = push_frame(h, 0, 0);
    m = meta_of(out);
    fail_unless(m->packet.query_hash != 0, "the query did not apply to the next frame");
    gdouble after = packet_relevance(&m->packet, q);
    fail_unless(after > before + 0.05, "relevance %.3f -> %.3f", before, after);
    gst_buffer_unref(out);

    /* clearing the property clears the query */
    g_object_set(p, "query-embedding", NULL, NULL);
    out = push_frame(h, 1, FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, 0);
    gst_buffer_unref(out);
    GstStructure *st = stats_of(h);
    fail_unless(field_u64(st, "query-generation") >= 1);
    gst_structure_free(st);
    gst_object_unref(p);
    gt_teardown(h);
    g_free(q);
    g_free(npy);
    gt_rmdir(dir);
}
GST_END_TEST;

GST_START_TEST(test_query_event_applies_from_its_running_time) {
    gfloat *q = query_row();
    GBytes *rows = g_bytes_new(q, 256 * sizeof(gfloat));
    GstHarness *h =
        gt_harness("scriptencode ! scriptprune name=p emit=frame budget=8 gsp-keep=1", CAPS);
    gst_buffer_unref(push_frame(h, 0, 0));
    /* downstream, serialized with the frames: from running time 250 ms on */
    GstEvent *ev = gst_script_query_event_new_embedding(GST_EVENT_CUSTOM_DOWNSTREAM,
                                                        250 * GST_MSECOND, rows, 1, 256);
    fail_unless(gst_harness_push_event(h, ev));
    guint64 hash = 0;
    for (guint i = 1; i < 5; i++) {
        GstBuffer *out = push_frame(h, i, i * FRAME_NS);
        GstScriptTokensMeta *m = meta_of(out);
        if (i < 3) {
            fail_unless_equals_uint64(m->packet.query_hash, 0);
        } else {
            fail_unless(m->packet.query_hash != 0, "frame %u at %u ms: no query", i, i * 100);
            hash = m->packet.query_hash;
        }
        gst_buffer_unref(out);
    }
    /* the event is consumed by scriptprune */
    GstEvent *e;
    while ((e = gst_harness_try_pull_event(h))) {
        fail_if(gst_script_query_event_is(e));
        gst_event_unref(e);
    }
    /* upstream, from the application at the sink side: clears it from the next frame */
    fail_unless(gst_harness_push_upstream_event(
        h, gst_script_query_event_new_clear(GST_EVENT_CUSTOM_UPSTREAM, GST_CLOCK_TIME_NONE)));
    GstBuffer *out = push_frame(h, 5, 5 * FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, 0);
    gst_buffer_unref(out);
    /* the application can also send it to the element itself (gst_element_send_event) */
    GstElement *p = by_name(h, "p");
    fail_unless(gst_element_send_event(
        p, gst_script_query_event_new_embedding(GST_EVENT_CUSTOM_DOWNSTREAM, GST_CLOCK_TIME_NONE,
                                                rows, 1, 256)));
    out = push_frame(h, 6, 6 * FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, hash);
    gst_buffer_unref(out);
    fail_unless(gst_element_send_event(
        p, gst_script_query_event_new_clear(GST_EVENT_CUSTOM_UPSTREAM, GST_CLOCK_TIME_NONE)));
    out = push_frame(h, 7, 7 * FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, 0);
    gst_buffer_unref(out);
    gst_object_unref(p);
    /* and sets it again */
    fail_unless(gst_harness_push_upstream_event(
        h, gst_script_query_event_new_embedding(GST_EVENT_CUSTOM_UPSTREAM, GST_CLOCK_TIME_NONE,
                                                rows, 1, 256)));
    out = push_frame(h, 8, 8 * FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, hash);
    gst_buffer_unref(out);
    gt_teardown(h);
    g_bytes_unref(rows);
    g_free(q);
}
GST_END_TEST;

/* READY -> PAUSED of a scriptprune configured by `launch`; returns the error text or NULL. */
static gchar *start_error(const gchar *props) {
    gt_register_plugin();
    gchar *launch = g_strdup_printf("scriptprune %s", props);
    GstElement *e = gst_parse_launch(launch, NULL);
    g_free(launch);
    fail_unless(e != NULL);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    GstStateChangeReturn r = gst_element_set_state(e, GST_STATE_PAUSED);
    gchar *text = r == GST_STATE_CHANGE_FAILURE ? error_text(bus) : NULL;
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
    return text;
}

GST_START_TEST(test_query_failures_are_clear) {
    gchar *t = start_error("query-text=\"a red car\"");
    fail_unless(t && strstr(t, "text tower"), "%s", t);
    g_free(t);
    t = start_error("query-image=/nonexistent/crop.png");
    fail_unless(t && strstr(t, "/nonexistent/crop.png") && strstr(t, "No such file"), "%s", t);
    g_free(t);
    t = start_error("query-embedding=/nonexistent/q.npy");
    fail_unless(t && strstr(t, "/nonexistent/q.npy"), "%s", t);
    g_free(t);
    t = start_error("method=tome");
    fail_unless(t && strstr(t, "tome") && strstr(t, "streaming"), "%s", t);
    g_free(t);
    t = start_error("window=4 hop=8");
    fail_unless(t && strstr(t, "hop"), "%s", t);
    g_free(t);
    t = start_error("encoder-backend=clip query-image=/tmp");
    fail_unless(t && strstr(t, "encoder-model"), "%s", t);
    g_free(t);
    t = start_error("");
    fail_unless(t == NULL, "%s", t);
}
GST_END_TEST;

GST_START_TEST(test_query_of_wrong_width_fails_at_first_frame) {
    gchar *dir = gt_tmpdir();
    gchar *npy = g_build_filename(dir, "q.npy", NULL);
    gfloat row[12] = {1};
    sp_error err;
    fail_unless(sp_npy_write(npy, row, 1, 12, 2, SP_DTYPE_F32, &err) == SP_OK);
    gchar *launch = g_strdup_printf("scriptencode ! scriptprune query-embedding=%s", npy);
    GstHarness *h = gt_harness(launch, CAPS);
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(S, S, 0, 0)), GST_FLOW_ERROR);
    gchar *t = error_text(gt_bus(h));
    fail_unless(t && strstr(t, "width 12") && strstr(t, "256"), "%s", t);
    g_free(t);
    gt_teardown(h);
    g_free(launch);
    g_free(npy);
    gt_rmdir(dir);
}
GST_END_TEST;

GST_START_TEST(test_query_image_exemplar) {
    gchar *dir = gt_tmpdir();
    gchar *png = g_build_filename(dir, "crop.png", NULL);
    fail_unless(gt_write_png(png, 96, 96, 0));
    gchar *launch = g_strdup_printf(
        "scriptencode ! scriptprune name=p emit=frame budget=8 query-image=%s", png);
    GstHarness *h = gt_harness(launch, CAPS);
    GstBuffer *out = push_frame(h, 0, 0);
    guint64 hash = meta_of(out)->packet.query_hash;
    fail_unless(hash != 0);
    gst_buffer_unref(out);
    /* a different exemplar while PLAYING gives a different query */
    gchar *png2 = g_build_filename(dir, "crop2.png", NULL);
    fail_unless(gt_write_png(png2, 64, 128, 3));
    GstElement *p = by_name(h, "p");
    g_object_set(p, "query-image", png2, NULL);
    out = push_frame(h, 1, FRAME_NS);
    guint64 hash2 = meta_of(out)->packet.query_hash;
    fail_unless(hash2 != 0 && hash2 != hash);
    gst_buffer_unref(out);
    /* an unreadable one while PLAYING: a warning, the query stays */
    g_object_set(p, "query-image", "/nonexistent.png", NULL);
    out = push_frame(h, 2, 2 * FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, hash2);
    gst_buffer_unref(out);
    GstMessage *w = gt_pop_message(gt_bus(h), GST_MESSAGE_WARNING, NULL);
    fail_unless(w != NULL);
    gst_message_unref(w);
    gst_object_unref(p);
    gt_teardown(h);
    g_free(launch);
    g_free(png);
    g_free(png2);
    gt_rmdir(dir);
}
GST_END_TEST;

/* sp_query_hash of the rows the patch encoder gives the gt_paint picture (width x height,
 * `shift`) as an `all` exemplar at the scale of frame_w x frame_h frames (0 x 0: fitted). */
static guint64 exemplar_hash(guint width, guint height, guint shift, guint frame_w, guint frame_h) {
    gsize stride = (gsize)width * 4;
    guint8 *data = g_malloc(stride * height);
    gt_paint(data, width, height, stride, shift);
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
    fail_unless(sp_encoder_open(&cfg, &enc, &err) == SP_OK);
    fail_unless(sp_encode_ctx_new(enc, &ctx, &err) == SP_OK);
    sp_image img = {data, width, height, stride, SP_PIXFMT_RGBX};
    sp_query_rows rows;
    sp_query_rows_init(&rows);
    fail_unless(sp_encode_exemplar_at(ctx, &img, SP_EXEMPLAR_ALL, frame_w, frame_h, &rows, &err) ==
                    SP_OK,
                "%s", err.message);
    sp_query q = {.rows = rows.rows, .m = rows.m, .e = rows.e};
    guint64 hash = sp_query_hash(&q);
    sp_query_rows_free(&rows);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    g_free(data);
    return hash;
}

#define WIDE_CAPS "video/x-raw,format=RGBx,width=448,height=256,framerate=10/1"

/* The query-image set before the first frame, set while PLAYING and kept across a change of
 * frame size: each time the packet's query is the exemplar encoded at the frames' scale. */
GST_START_TEST(test_query_image_encoded_at_the_frame_scale) {
    gchar *dir = gt_tmpdir();
    gchar *png = g_build_filename(dir, "crop.png", NULL);
    fail_unless(gt_write_png(png, 96, 96, 0));
    guint64 fitted = exemplar_hash(96, 96, 0, 0, 0);
    guint64 wide = exemplar_hash(96, 96, 0, 448, 256);
    guint64 square = exemplar_hash(96, 96, 0, S, S);
    fail_unless(fitted != wide && fitted != square && wide != square,
                "the frame scale does not change the exemplar's rows");
    gchar *launch = g_strdup_printf(
        "scriptencode ! scriptprune name=p emit=frame budget=8 query-image=%s", png);
    GstHarness *h = gt_harness(launch, WIDE_CAPS);
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(448, 256, 0, 0)), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, wide);
    gst_buffer_unref(out);

    /* a new exemplar while PLAYING: encoded at the scale of the frames it applies to */
    gchar *png2 = g_build_filename(dir, "crop2.png", NULL);
    fail_unless(gt_write_png(png2, 64, 128, 3));
    GstElement *p = by_name(h, "p");
    g_object_set(p, "query-image", png2, NULL);
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(448, 256, 1, FRAME_NS)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, exemplar_hash(64, 128, 3, 448, 256));
    gst_buffer_unref(out);

    /* frames of another size: the exemplar is encoded again at their scale */
    gst_harness_set_src_caps_str(h, CAPS);
    out = push_frame(h, 2, 2 * FRAME_NS);
    fail_unless_equals_uint64(meta_of(out)->packet.query_hash, exemplar_hash(64, 128, 3, S, S));
    gst_buffer_unref(out);
    gst_object_unref(p);
    gt_teardown(h);
    g_free(launch);
    g_free(png);
    g_free(png2);
    gt_rmdir(dir);
}
GST_END_TEST;

/* ---- reselect -------------------------------------------------------------------------------- */

static GstStructure *reselect(GstElement *p, GBytes *q, guint rows, guint budget, guint64 since,
                              guint64 until) {
    GstStructure *res = NULL;
    g_signal_emit_by_name(p, "reselect", q, rows, budget, since, until, &res);
    fail_unless(res != NULL && gst_structure_has_name(res, "scriptprune-reselect"));
    return res;
}

GST_START_TEST(test_reselect_action_signal) {
    gt_register_plugin();
    GstElement *idle = gst_element_factory_make("scriptprune", NULL);
    GstStructure *r = reselect(idle, NULL, 0, 10, 0, G_MAXUINT64);
    gboolean ok = TRUE;
    gst_structure_get_boolean(r, "ok", &ok);
    fail_if(ok);
    fail_unless(strlen(gst_structure_get_string(r, "error")) > 0);
    gst_structure_free(r);
    gst_object_unref(idle);

    GstHarness *h = gt_harness("scriptencode ! scriptprune name=p emit=window window=8 hop=4 "
                               "window-budget=16 stream-name=cam9",
                               CAPS);
    for (guint i = 0; i < 6; i++)
        gst_buffer_unref(push_frame(h, i, i * FRAME_NS));
    GstElement *p = by_name(h, "p");
    r = reselect(p, NULL, 0, 10, 0, G_MAXUINT64);
    fail_unless(gst_structure_get_boolean(r, "ok", &ok) && ok, "%s",
                gst_structure_get_string(r, "error"));
    guint count = 0;
    gst_structure_get_uint(r, "count", &count);
    fail_unless_equals_int(count, 10);
    GBytes *st = NULL;
    fail_unless(gst_structure_get(r, "safetensors", G_TYPE_BYTES, &st, NULL));
    gsize len;
    const guint8 *data = g_bytes_get_data(st, &len);
    sp_st_file *f;
    sp_error err;
    fail_unless(sp_st_open_buffer(data, len, "reselect", &f, &err) == SP_OK, "%s", err.message);
    const sp_st_tensor *t = sp_st_find(f, "tokens");
    fail_unless(t != NULL && t->shape[0] == 10 && t->shape[1] == 256);
    fail_unless_equals_string(sp_st_metadata(f, "stream"), "cam9");
    sp_st_close(f);
    g_bytes_unref(st);
    gst_structure_free(r);

    /* with a query of the right width, over a closed range */
    gfloat *q = query_row();
    GBytes *qb = g_bytes_new(q, 256 * sizeof(gfloat));
    r = reselect(p, qb, 1, 4, FRAME_NS, 3 * FRAME_NS);
    fail_unless(gst_structure_get_boolean(r, "ok", &ok) && ok, "%s",
                gst_structure_get_string(r, "error"));
    gst_structure_get_uint(r, "count", &count);
    fail_unless_equals_int(count, 4);
    gst_structure_free(r);
    /* a query of the wrong width, and a zero budget */
    GBytes *bad = g_bytes_new(q, 100 * sizeof(gfloat));
    r = reselect(p, bad, 1, 4, 0, G_MAXUINT64);
    fail_unless(gst_structure_get_boolean(r, "ok", &ok) && !ok);
    gst_structure_free(r);
    r = reselect(p, NULL, 0, 0, 0, G_MAXUINT64);
    fail_unless(gst_structure_get_boolean(r, "ok", &ok) && !ok);
    gst_structure_free(r);
    g_bytes_unref(bad);
    g_bytes_unref(qb);
    g_free(q);
    gst_object_unref(p);
    gt_teardown(h);
}
GST_END_TEST;

static Suite *prune_suite(void) {
    Suite *s = suite_create("gst-prune");
    TCase *tc = tcase_create("prune");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_no_meta_is_an_element_error);
    tcase_add_test(tc, test_frames_without_meta_after_encoded_ones_pass);
    tcase_add_test(tc, test_properties_roundtrip);
    tcase_add_test(tc, test_gsp_and_history_properties_reach_the_stream);
    tcase_add_test(tc, test_frame_emissions);
    tcase_add_test(tc, test_window_emissions_eos_and_stats);
    tcase_add_test(tc, test_flush_resets_the_window);
    tcase_add_test(tc, test_new_segment_and_time_going_back);
    tcase_add_test(tc, test_query_property_while_playing);
    tcase_add_test(tc, test_query_event_applies_from_its_running_time);
    tcase_add_test(tc, test_query_failures_are_clear);
    tcase_add_test(tc, test_query_of_wrong_width_fails_at_first_frame);
    tcase_add_test(tc, test_query_image_exemplar);
    tcase_add_test(tc, test_query_image_encoded_at_the_frame_scale);
    tcase_add_test(tc, test_reselect_action_signal);
    tcase_add_test(tc, test_pixel_evidence_only_against_the_last_frame_taken);
    tcase_add_test(tc, test_pixel_evidence_through_the_gate);
    return s;
}

GST_CHECK_MAIN(prune);
