/* scriptencode elements sharing one encoder (share, max-batch, batch-window; encodepool.h), with
 * the small CLIP model of tests/encode/gen_clip.py (SCRIPTD_CLIP_FIXTURES): two elements fed from
 * two threads get, frame by frame and in order, the tokens of an unshared element while their
 * frames are batched; elements with other settings, share=false or the patch backend do not
 * share; an element at EOS is not waited for; pipelines stopped while their frames are being
 * encoded stop; the properties. */
#include <math.h>
#include <string.h>

#include "encodepool.h"
#include "gsttest.h"
#include "scriptprune/encode.h"

#define CAPS "video/x-raw,format=RGBx,width=96,height=72,framerate=10/1"
enum { FRAMES = 8 };

static const gchar *model_dir(void) {
    static gchar *dir;
    if (!dir) {
        const gchar *root = g_getenv("SCRIPTD_CLIP_FIXTURES");
        fail_unless(root != NULL, "SCRIPTD_CLIP_FIXTURES is not set");
        dir = g_build_filename(root, "clip_f32", NULL);
    }
    return dir;
}

/* A harness around "scriptencode backend=clip model=<clip_f32> <more>". */
static GstHarness *clip_harness(const gchar *more) {
    /* skip-unchanged=false: the change gate would leave repeated test frames out of the pool. */
    gchar *launch = g_strdup_printf(
        "scriptencode backend=clip model=\"%s\" skip-unchanged=false %s", model_dir(), more);
    GstHarness *h = gt_harness(launch, CAPS);
    g_free(launch);
    return h;
}

/* The pool of a clip scriptencode with default encoder properties and these batching properties
 * (a new stream of it: release it). */
static EncodePool *pool_of_elements(guint max_batch, guint window_ms) {
    EncodePoolConfig c;
    encode_pool_config_init(&c);
    c.encoder.kind = SP_ENCODER_CLIP;
    c.encoder.model_dir = model_dir();
    c.encoder.patch_size = 14;
    c.encoder.layer = -2; /* the output-layer default */
    c.max_batch = max_batch;
    c.batch_window_us = window_ms * 1000;
    EncodePool *p = NULL;
    sp_error err;
    fail_unless(encode_pool_acquire(&c, &p, &err) == SP_OK, "%s", err.message);
    return p;
}

typedef struct feed {
    GstHarness *h;
    guint shift; /* this stream's pictures */
    GstBuffer *out[FRAMES];
} feed;

static gpointer feed_main(gpointer data) {
    feed *f = data;
    for (guint i = 0; i < FRAMES; i++) {
        gst_harness_push(f->h, gt_frame_rgbx(96, 72, f->shift + i, i * GST_SECOND / 10));
        f->out[i] = gst_harness_pull(f->h);
    }
    return NULL;
}

static const GstScriptTokensMeta *tokens_of(GstBuffer *b) {
    const GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(b);
    fail_unless(m != NULL, "no tokens meta");
    return m;
}

GST_START_TEST(test_two_sharing_elements_get_the_tokens_of_an_unshared_one_in_order) {
    gt_register_plugin();
    feed f[2] = {{clip_harness("batch-window=200"), 0, {0}},
                 {clip_harness("batch-window=200"), 100, {0}}};
    GThread *t[2];
    for (int s = 0; s < 2; s++)
        t[s] = g_thread_new("feed", feed_main, &f[s]);
    for (int s = 0; s < 2; s++)
        g_thread_join(t[s]);

    /* one pool for both, which batched their frames */
    EncodePool *p = pool_of_elements(8, 200);
    EncodePoolStats stats;
    encode_pool_get_stats(p, &stats);
    fail_unless_equals_int(stats.streams, 3); /* the two elements and this test */
    fail_unless_equals_uint64(stats.frames, 2 * FRAMES);
    fail_unless(stats.passes < stats.frames,
                "%" G_GUINT64_FORMAT " passes for %" G_GUINT64_FORMAT
                " frames: nothing was batched",
                stats.passes, stats.frames);
    encode_pool_release(p);

    GstHarness *alone = clip_harness("share=false");
    for (int s = 0; s < 2; s++)
        for (guint i = 0; i < FRAMES; i++) {
            gst_harness_push(alone, gt_frame_rgbx(96, 72, f[s].shift + i, i * GST_SECOND / 10));
            GstBuffer *want = gst_harness_pull(alone);
            const GstScriptTokensMeta *a = tokens_of(f[s].out[i]), *b = tokens_of(want);
            fail_unless_equals_int(gst_script_tokens_meta_n_tokens(a),
                                   gst_script_tokens_meta_n_tokens(b));
            fail_unless_equals_int(gst_script_tokens_meta_width(a),
                                   gst_script_tokens_meta_width(b));
            fail_unless_equals_uint64(a->frame_index, i);
            GstMapInfo ma, mb;
            fail_unless(gst_buffer_map(a->tokens.data, &ma, GST_MAP_READ));
            fail_unless(gst_buffer_map(b->tokens.data, &mb, GST_MAP_READ));
            /* batched: the same arithmetic, up to float rounding (sp_encode_batch) */
            fail_unless_equals_int(ma.size, mb.size);
            const gfloat *x = (const gfloat *)ma.data, *y = (const gfloat *)mb.data;
            gdouble diff = 0, scale = 0;
            for (gsize k = 0; k < ma.size / sizeof(gfloat); k++) {
                diff = fmax(diff, fabs((gdouble)x[k] - y[k]));
                scale = fmax(scale, fabs((gdouble)y[k]));
            }
            fail_unless(diff <= 1e-5 * scale,
                        "stream %d frame %u: tokens differ from the unshared element's (%g of %g)",
                        s, i, diff, scale);
            gst_buffer_unmap(a->tokens.data, &ma);
            gst_buffer_unmap(b->tokens.data, &mb);
            gst_buffer_unref(want);
            gst_buffer_unref(f[s].out[i]);
        }
    gt_teardown(alone);
    for (int s = 0; s < 2; s++)
        gt_teardown(f[s].h);
}
GST_END_TEST;

GST_START_TEST(test_elements_with_other_settings_do_not_share) {
    gt_register_plugin();
    GstHarness *a = clip_harness("");
    GstHarness *b = clip_harness("max-batch=2");
    GstHarness *c = clip_harness("share=false");
    GstHarness *d = gt_harness("scriptencode share=true", CAPS); /* patch: never shared */
    for (guint i = 0; i < 2; i++) {
        GstHarness *hs[4] = {a, b, c, d};
        for (int k = 0; k < 4; k++) {
            gst_harness_push(hs[k], gt_frame_rgbx(96, 72, i, i * GST_SECOND / 10));
            gst_buffer_unref(gst_harness_pull(hs[k]));
        }
    }
    guint w = ENCODE_POOL_DEFAULT_WINDOW_US / 1000;
    EncodePool *p8 = pool_of_elements(8, w), *p2 = pool_of_elements(2, w);
    EncodePoolStats s8, s2;
    encode_pool_get_stats(p8, &s8);
    encode_pool_get_stats(p2, &s2);
    fail_unless(p8 != p2);
    fail_unless_equals_int(s8.streams, 2); /* a and this test: c and d have their own */
    fail_unless_equals_uint64(s8.frames, 2);
    fail_unless_equals_int(s2.streams, 2);
    fail_unless_equals_uint64(s2.frames, 2);
    encode_pool_release(p8);
    encode_pool_release(p2);
    gt_teardown(a);
    gt_teardown(b);
    gt_teardown(c);
    gt_teardown(d);
}
GST_END_TEST;

/* Pipelines that share an encoder are stopped while frames are in flight (some waiting in a pass,
 * one in the forward pass), one after the other and then both at once: every state change
 * returns, and a restarted pipeline encodes again. */
GST_START_TEST(test_stopping_sharing_pipelines_while_frames_are_queued_does_not_hang) {
    gt_register_plugin();
    gchar *launch = g_strdup_printf("videotestsrc pattern=ball ! " CAPS " ! scriptencode "
                                    "backend=clip model=\"%s\" batch-window=50 ! "
                                    "fakesink sync=false",
                                    model_dir());
    GstElement *pipe[3];
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 3; k++) {
            GError *err = NULL;
            pipe[k] = gst_parse_launch(launch, &err);
            fail_unless(pipe[k] != NULL, "%s", err ? err->message : "?");
            fail_unless(gst_element_set_state(pipe[k], GST_STATE_PLAYING) !=
                        GST_STATE_CHANGE_FAILURE);
        }
        g_usleep(150000);
        /* round 0: one at a time, the others still encoding; then all at once */
        for (int k = 0; k < 3; k++) {
            fail_unless_equals_int(gst_element_set_state(pipe[k], GST_STATE_NULL),
                                   GST_STATE_CHANGE_SUCCESS);
            if (round == 0)
                g_usleep(50000);
        }
        for (int k = 0; k < 3; k++)
            gst_object_unref(pipe[k]);
    }
    g_free(launch);
    /* and the pool is gone with its last element: a new stream finds none */
    EncodePool *p = pool_of_elements(8, 50);
    EncodePoolStats s;
    encode_pool_get_stats(p, &s);
    fail_unless_equals_int(s.streams, 1);
    fail_unless_equals_uint64(s.frames, 0);
    encode_pool_release(p);
}
GST_END_TEST;

/* An element that reached EOS sends no more frames: the element still encoding does not wait a
 * batch window (one second here) for it in each pass. */
GST_START_TEST(test_an_element_at_eos_is_not_waited_for) {
    gt_register_plugin();
    GstHarness *ended = clip_harness("batch-window=1000");
    GstHarness *busy = clip_harness("batch-window=1000");
    gst_harness_push(ended, gt_frame_rgbx(96, 72, 0, 0));
    gst_buffer_unref(gst_harness_pull(ended));
    fail_unless(gst_harness_push_event(ended, gst_event_new_eos()));
    gint64 t0 = g_get_monotonic_time();
    for (guint i = 0; i < 3; i++) {
        gst_harness_push(busy, gt_frame_rgbx(96, 72, i, i * GST_SECOND / 10));
        GstBuffer *out = gst_harness_pull(busy);
        tokens_of(out);
        gst_buffer_unref(out);
    }
    gint64 took_us = g_get_monotonic_time() - t0;
    fail_unless(took_us < G_USEC_PER_SEC,
                "3 frames took %.2f s: the passes waited for the "
                "element at EOS",
                took_us / 1e6);
    gt_teardown(ended);
    gt_teardown(busy);
}
GST_END_TEST;

GST_START_TEST(test_share_properties_and_defaults) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptencode", NULL);
    gboolean share;
    guint batch, window;
    g_object_get(e, "share", &share, "max-batch", &batch, "batch-window", &window, NULL);
    fail_unless(share);
    fail_unless_equals_int(batch, ENCODE_POOL_DEFAULT_MAX_BATCH);
    fail_unless_equals_int(window, ENCODE_POOL_DEFAULT_WINDOW_US / 1000);
    g_object_set(e, "share", FALSE, "max-batch", 1, "batch-window", 0, NULL);
    g_object_get(e, "share", &share, "max-batch", &batch, "batch-window", &window, NULL);
    fail_unless(!share);
    fail_unless_equals_int(batch, 1);
    fail_unless_equals_int(window, 0);
    GParamSpecUInt *mb =
        G_PARAM_SPEC_UINT(g_object_class_find_property(G_OBJECT_GET_CLASS(e), "max-batch"));
    fail_unless_equals_int(mb->maximum, SP_ENCODE_MAX_BATCH);
    gst_object_unref(e);
}
GST_END_TEST;

static Suite *encode_share_suite(void) {
    Suite *s = suite_create("gst-encode-share");
    TCase *tc = tcase_create("share");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_two_sharing_elements_get_the_tokens_of_an_unshared_one_in_order);
    tcase_add_test(tc, test_elements_with_other_settings_do_not_share);
    tcase_add_test(tc, test_stopping_sharing_pipelines_while_frames_are_queued_does_not_hang);
    tcase_add_test(tc, test_an_element_at_eos_is_not_waited_for);
    tcase_add_test(tc, test_share_properties_and_defaults);
    return s;
}

GST_CHECK_MAIN(encode_share);
