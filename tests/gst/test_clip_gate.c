/* The change gate of scriptencode with the clip backend, on a small random-weight CLIP model that
 * tests/encode/gen_clip.py builds (SCRIPTD_CLIP_FIXTURES): on a clip that is static between a
 * few changes, the gated run emits, bit for bit, the tokens, packets and provenance of the run
 * that encodes every frame, while the encoder runs only on the changed frames (and every
 * max-skip-s); `auto` gates clip and not patch; the counters count. (The properties' defaults
 * and ranges are the parameter table's: tests/params/test_defaults_agree.c.) */
#include <string.h>

#include "gsttest.h"

#define W 160
#define H 120
#define CAPS "video/x-raw,format=RGBx,width=160,height=120,framerate=10/1"
#define FRAME_NS (GST_SECOND / 10)
#define N_FRAMES 24

static gchar *model_dir(void) {
    const gchar *root = g_getenv("SCRIPTD_CLIP_FIXTURES");
    fail_unless(root != NULL, "SCRIPTD_CLIP_FIXTURES is not set");
    return g_build_filename(root, "clip_f32", NULL);
}

/* The picture of frame i: static runs of 8 frames, a change between runs. */
static guint shift_of(guint i) {
    return i / 8;
}

static void append_tensor(GByteArray *out, const GstScriptTensor *t) {
    if (!gst_script_tensor_is_set(t))
        return;
    GstMapInfo m;
    fail_unless(gst_script_tensor_map(t, &m));
    g_byte_array_append(out, m.data, (guint)m.size);
    gst_buffer_unmap(t->data, &m);
}

typedef struct run_result {
    GByteArray *frames;  /* every frame's meta tokens and embeddings */
    GByteArray *packets; /* every packet's header fields, tokens and provenance */
    guint n_packets;
    guint64 encoded, skipped;
} run_result;

static void run_result_clear(run_result *r) {
    g_byte_array_unref(r->frames);
    g_byte_array_unref(r->packets);
}

/* Runs N_FRAMES frames through scriptencode (clip, `skip`, max-skip-s) ! scriptprune. */
static run_result run(const gchar *backend, const gchar *skip, gdouble max_skip_s) {
    gchar *dir = model_dir();
    gchar *launch =
        g_strdup_printf("scriptencode name=e backend=%s model=%s skip-unchanged=%s max-skip-s=%g ! "
                        "scriptprune emit=window window=4 hop=2 window-budget=6",
                        backend, dir, skip, max_skip_s);
    GstHarness *h = gt_harness(launch, CAPS);
    run_result r = {g_byte_array_new(), g_byte_array_new(), 0, 0, 0};
    for (guint i = 0; i < N_FRAMES; i++) {
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(W, H, shift_of(i), i * FRAME_NS)),
                               GST_FLOW_OK);
        GstBuffer *out = gst_harness_pull(h);
        fail_unless(out != NULL);
        GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
        fail_unless(m != NULL && m->pruned, "frame %u has no pruned meta", i);
        append_tensor(r.frames, &m->tokens);
        append_tensor(r.frames, &m->embeddings);
        if (m->has_packet) {
            const GstScriptPacket *p = &m->packet;
            guint64 head[] = {p->window_id,   p->pts_first,  p->pts_last,
                              p->frame_first, p->frame_last, p->count};
            g_byte_array_append(r.packets, (const guint8 *)head, sizeof head);
            append_tensor(r.packets, &p->tokens);
            append_tensor(r.packets, &p->provenance);
            r.n_packets++;
        }
        gst_buffer_unref(out);
    }
    GstElement *e = gst_bin_get_by_name(GST_BIN(h->element), "e");
    g_object_get(e, "frames-encoded", &r.encoded, "frames-skipped", &r.skipped, NULL);
    gst_object_unref(e);
    gt_teardown(h);
    g_free(launch);
    g_free(dir);
    return r;
}

static void expect_same_bytes(const GByteArray *a, const GByteArray *b, const gchar *what) {
    fail_unless_equals_int(a->len, b->len);
    fail_unless(a->len > 0, "no %s", what);
    fail_unless(memcmp(a->data, b->data, a->len) == 0, "%s differ", what);
}

/* Static runs of 8 frames: the gate encodes the 3 changed frames only, and everything emitted
 * is the same as encoding all 24. */
GST_START_TEST(test_static_clip_same_output) {
    run_result all = run("clip", "false", 10.0);
    run_result gated = run("clip", "true", 10.0);
    fail_unless_equals_uint64(all.encoded, N_FRAMES);
    fail_unless_equals_uint64(all.skipped, 0);
    fail_unless_equals_uint64(gated.encoded, 3);
    fail_unless_equals_uint64(gated.skipped, N_FRAMES - 3);
    fail_unless(all.n_packets >= 10);
    fail_unless_equals_int(gated.n_packets, all.n_packets);
    expect_same_bytes(all.frames, gated.frames, "frame tokens");
    expect_same_bytes(all.packets, gated.packets, "packets");
    run_result_clear(&all);
    run_result_clear(&gated);
}
GST_END_TEST;

/* max-skip-s 0.5 at 10 frames/s: within each static run of 8 frames, the frames 5 after an
 * encoded one are encoded again (0, 5, 8, 13, 16, 21); the output is still the same. */
GST_START_TEST(test_max_skip_same_output) {
    run_result all = run("clip", "false", 0.5);
    run_result gated = run("clip", "true", 0.5);
    fail_unless_equals_uint64(gated.encoded, 6);
    fail_unless_equals_uint64(gated.skipped, N_FRAMES - 6);
    expect_same_bytes(all.frames, gated.frames, "frame tokens");
    expect_same_bytes(all.packets, gated.packets, "packets");
    run_result_clear(&all);
    run_result_clear(&gated);
}
GST_END_TEST;

/* auto: on for clip, off for the patch encoder (which costs about what the gate does). */
GST_START_TEST(test_auto_gates_clip_only) {
    run_result clip = run("clip", "auto", 10.0);
    fail_unless_equals_uint64(clip.encoded, 3);
    run_result patch = run("patch", "auto", 10.0);
    fail_unless_equals_uint64(patch.encoded, N_FRAMES);
    fail_unless_equals_uint64(patch.skipped, 0);
    run_result_clear(&clip);
    run_result_clear(&patch);
}
GST_END_TEST;

static Suite *clip_gate_suite(void) {
    Suite *s = suite_create("gst-clip-gate");
    TCase *tc = tcase_create("clip-gate");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_static_clip_same_output);
    tcase_add_test(tc, test_max_skip_same_output);
    tcase_add_test(tc, test_auto_gates_clip_only);
    return s;
}

GST_CHECK_MAIN(clip_gate);
