/* scriptoverlay: pixels where patches were emitted, kept as candidates, repeated over time or
 * pruned by GSP, mapped back through the encoder's letterbox; YUV formats; frames without a
 * pruned meta left alone. With SCRIPTD_OVERLAY_PNG=path the rendered frame is also written as a
 * PNG (docs/scriptoverlay.png is made that way), and the committed PNG is checked. */
#include <string.h>

#include "fates.h"
#include "gsttest.h"
#include "overlaydraw.h"

#define W 480
#define H 360
#define DIM 0.6
#define LINE 2
#define EMITTED 0xff00e000u
#define CANDIDATE 0x80ffd000u
#define TEMPORAL 0xff20a0ffu

static gchar *caps_for(const gchar *format) {
    return g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=10/1", format, W, H);
}

/* Two frames through encode ! prune ! overlay (the second shows temporal repeats); returns the
 * second output. */
static GstBuffer *render(const gchar *format, const gchar *launch) {
    gchar *caps = caps_for(format);
    GstHarness *h = gt_harness(launch, caps);
    GstBuffer *out = NULL;
    for (guint i = 0; i < 2; i++) {
        GstBuffer *in = gt_frame_rgbx(W, H, i, i * GST_SECOND / 10);
        if (strcmp(format, "RGBx") != 0) {
            /* convert with a harness so the test covers what a pipeline would give */
            GstHarness *c = gst_harness_new("videoconvert");
            gchar *rgbx = caps_for("RGBx");
            gst_harness_set_src_caps_str(c, rgbx);
            gst_harness_set_sink_caps_str(c, caps);
            g_free(rgbx);
            gst_harness_push(c, in);
            in = gst_harness_pull(c);
            gst_harness_teardown(c);
        }
        fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
        if (out)
            gst_buffer_unref(out);
        out = gst_harness_pull(h);
    }
    gt_teardown(h);
    g_free(caps);
    return out;
}

#define LAUNCH                                                                                     \
    "scriptencode ! scriptprune emit=frame budget=24 ! scriptoverlay dim=0.6 line-width=2"

typedef struct {
    guint emitted, candidate, temporal, spatial;
} Seen;

static void check_rgbx_pixels(GstBuffer *out, Seen *seen) {
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL && m->pruned && m->has_packet);
    GstBuffer *orig = gt_frame_rgbx(W, H, 1, 0);
    GstMapInfo om, pm, fm, prm;
    gst_buffer_map(orig, &om, GST_MAP_READ);
    gst_buffer_map(out, &pm, GST_MAP_READ);
    fail_unless(gst_script_tensor_map(&m->fates, &fm));
    guint8 emitted[576] = {0};
    if (m->packet.count) {
        fail_unless(gst_script_tensor_map(&m->packet.provenance, &prm));
        const gint64 *row = (const gint64 *)prm.data;
        for (guint i = 0; i < m->packet.count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS)
            if ((guint64)row[GST_SCRIPT_PROVENANCE_FRAME] == m->stream_frame)
                emitted[row[GST_SCRIPT_PROVENANCE_Y] * 24 + row[GST_SCRIPT_PROVENANCE_X]] = 1;
        gst_buffer_unmap(m->packet.provenance.data, &prm);
    }
    memset(seen, 0, sizeof *seen);
    guint8 dim_a = (guint8)(DIM * 255 + 0.5);
    for (guint y = 0; y < 24; y++)
        for (guint x = 0; x < 24; x++) {
            gint x0, y0, x1, y1;
            if (!gst_script_tokens_meta_token_rect(m, y, x, W, H, &x0, &y0, &x1, &y1)) {
                fail_unless(y < 3 || y > 20, "token (%u, %u) should be on the picture", y, x);
                continue;
            }
            if (x1 - x0 <= 2 * LINE + 2 || y1 - y0 <= 2 * LINE + 2)
                continue; /* slivers at the letterbox edge */
            gsize corner = (gsize)y0 * W * 4 + (gsize)x0 * 4;
            gsize centre = (gsize)((y0 + y1) / 2) * W * 4 + (gsize)((x0 + x1) / 2) * 4;
            guint8 fate = fm.data[y * 24 + x];
            guint32 colour = 0;
            guint8 alpha = 0;
            gboolean dimmed = FALSE;
            if (emitted[y * 24 + x]) {
                colour = EMITTED;
                seen->emitted++;
            } else if (fate == GST_SCRIPT_FATE_TEMPORAL) {
                colour = TEMPORAL;
                seen->temporal++;
            } else if (fate == GST_SCRIPT_FATE_CANDIDATE) {
                colour = CANDIDATE;
                seen->candidate++;
            } else if (fate == GST_SCRIPT_FATE_SPATIAL) {
                dimmed = TRUE;
                seen->spatial++;
            } else {
                continue;
            }
            alpha = colour >> 24;
            for (guint c = 0; c < 3; c++) {
                guint8 t = (colour >> (16 - 8 * c)) & 0xff;
                if (dimmed) {
                    guint8 want = overlay_blend_value(om.data[centre + c], 0, dim_a);
                    fail_unless_equals_int(pm.data[centre + c], want);
                    fail_unless_equals_int(pm.data[corner + c],
                                           overlay_blend_value(om.data[corner + c], 0, dim_a));
                } else {
                    fail_unless_equals_int(pm.data[corner + c],
                                           overlay_blend_value(om.data[corner + c], t, alpha));
                    fail_unless_equals_int(pm.data[centre + c], om.data[centre + c]);
                }
            }
        }
    gst_buffer_unmap(m->fates.data, &fm);
    gst_buffer_unmap(out, &pm);
    gst_buffer_unmap(orig, &om);
    gst_buffer_unref(orig);
}

static void write_png(GstBuffer *frame, const gchar *path) {
    gchar *caps = caps_for("RGBx");
    GstHarness *h = gst_harness_new_parse("videoconvert ! pngenc");
    gst_harness_set_src_caps_str(h, caps);
    g_free(caps);
    gst_harness_push(h, gst_buffer_ref(frame));
    GstBuffer *png = gst_harness_pull(h);
    GstMapInfo map;
    gst_buffer_map(png, &map, GST_MAP_READ);
    fail_unless(g_file_set_contents(path, (const gchar *)map.data, (gssize)map.size, NULL));
    gst_buffer_unmap(png, &map);
    gst_buffer_unref(png);
    gt_teardown(h);
}

GST_START_TEST(test_pixels_by_fate) {
    GstBuffer *out = render("RGBx", LAUNCH);
    Seen seen;
    check_rgbx_pixels(out, &seen);
    fail_unless(seen.emitted > 0, "no emitted patch drawn");
    if (script_fates_exact()) {
        fail_unless(seen.temporal > 0, "no temporal repeat drawn");
        fail_unless(seen.spatial > 0, "no pruned patch dimmed");
        fail_unless(seen.candidate > 0, "no candidate drawn");
    }
    const gchar *png = g_getenv("SCRIPTD_OVERLAY_PNG");
    if (png && *png)
        write_png(out, png);
    gst_buffer_unref(out);
}
GST_END_TEST;

/* The PNG in docs/ is what this test renders: same size, and the overlay's colours are there. */
GST_START_TEST(test_docs_png) {
    const gchar *root = g_getenv("SCRIPTD_SOURCE_ROOT");
    if (!root)
        return;
    gchar *path = g_build_filename(root, "docs", "scriptoverlay.png", NULL);
    gchar *data;
    gsize len;
    fail_unless(g_file_get_contents(path, &data, &len, NULL), "%s is missing", path);
    GstHarness *h = gst_harness_new_parse("pngdec ! videoconvert");
    gst_harness_set_src_caps_str(h, "image/png,framerate=0/1");
    gst_harness_set_sink_caps_str(h, "video/x-raw,format=RGBx");
    gst_harness_push(h, gst_buffer_new_wrapped(data, len));
    GstBuffer *img = gst_harness_pull(h);
    fail_unless(img != NULL);
    GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
    GstVideoInfo info;
    fail_unless(gst_video_info_from_caps(&info, caps));
    gst_caps_unref(caps);
    fail_unless_equals_int(GST_VIDEO_INFO_WIDTH(&info), W);
    fail_unless_equals_int(GST_VIDEO_INFO_HEIGHT(&info), H);
    GstMapInfo map;
    gst_buffer_map(img, &map, GST_MAP_READ);
    guint green = 0, blue = 0;
    for (gsize i = 0; i + 3 < map.size; i += 4) {
        guint32 px =
            ((guint32)map.data[i] << 16) | ((guint32)map.data[i + 1] << 8) | map.data[i + 2];
        green += px == (EMITTED & 0xffffff);
        blue += px == (TEMPORAL & 0xffffff);
    }
    gst_buffer_unmap(img, &map);
    fail_unless(green > 100, "no emitted outlines in %s", path);
    fail_unless(blue > 100, "no temporal outlines in %s", path);
    gst_buffer_unref(img);
    gt_teardown(h);
    g_free(path);
}
GST_END_TEST;

GST_START_TEST(test_yuv_and_other_rgb_formats) {
    static const gchar *formats[] = {"I420", "NV12", "BGRx", "RGB", "xBGR"};
    for (gsize f = 0; f < G_N_ELEMENTS(formats); f++) {
        GstBuffer *plain = render(formats[f], "scriptencode ! scriptprune emit=frame budget=24");
        GstBuffer *drawn = render(formats[f], LAUNCH);
        GstMapInfo a, b;
        gst_buffer_map(plain, &a, GST_MAP_READ);
        gst_buffer_map(drawn, &b, GST_MAP_READ);
        fail_unless_equals_int((gint)a.size, (gint)b.size);
        gsize differ = 0;
        for (gsize i = 0; i < a.size; i++)
            differ += a.data[i] != b.data[i];
        /* with per-token fates the pruned half is dimmed too; without, the outlines show */
        gsize least = script_fates_exact() ? a.size / 50 : 1000;
        fail_unless(differ > least, "%s: the overlay changed only %zu bytes", formats[f], differ);
        gst_buffer_unmap(plain, &a);
        gst_buffer_unmap(drawn, &b);
        gst_buffer_unref(plain);
        gst_buffer_unref(drawn);
    }
}
GST_END_TEST;

GST_START_TEST(test_leaves_frames_without_decisions) {
    gchar *caps = caps_for("RGBx");
    /* no meta at all, and a meta that was never pruned */
    const gchar *launches[] = {"scriptoverlay", "scriptencode ! scriptoverlay"};
    for (gsize l = 0; l < 2; l++) {
        GstHarness *h = gt_harness(launches[l], caps);
        GstBuffer *in = gt_frame_rgbx(W, H, 0, 0);
        GstBuffer *ref = gst_buffer_copy_deep(in);
        gst_harness_push(h, in);
        GstBuffer *out = gst_harness_pull(h);
        GstMapInfo a;
        gst_buffer_map(ref, &a, GST_MAP_READ);
        fail_unless(gst_buffer_memcmp(out, 0, a.data, a.size) == 0);
        gst_buffer_unmap(ref, &a);
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
        gt_teardown(h);
    }
    g_free(caps);
}
GST_END_TEST;

GST_START_TEST(test_properties_roundtrip) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptoverlay", NULL);
    guint c1, c2, c3, lw;
    gdouble dim;
    g_object_get(e, "emitted-color", &c1, "candidate-color", &c2, "temporal-color", &c3, "dim",
                 &dim, "line-width", &lw, NULL);
    fail_unless_equals_int(c1, EMITTED);
    fail_unless_equals_int(c2, CANDIDATE);
    fail_unless_equals_int(c3, TEMPORAL);
    fail_unless_equals_float(dim, DIM);
    fail_unless_equals_int(lw, LINE);
    g_object_set(e, "emitted-color", 0xff112233u, "candidate-color", 0x40445566u, "temporal-color",
                 0xff778899u, "dim", 0.25, "line-width", 5, NULL);
    g_object_get(e, "emitted-color", &c1, "candidate-color", &c2, "temporal-color", &c3, "dim",
                 &dim, "line-width", &lw, NULL);
    fail_unless_equals_int(c1, 0xff112233u);
    fail_unless_equals_int(c2, 0x40445566u);
    fail_unless_equals_int(c3, 0xff778899u);
    fail_unless_equals_float(dim, 0.25);
    fail_unless_equals_int(lw, 5);
    gst_object_unref(e);
}
GST_END_TEST;

static Suite *overlay_suite(void) {
    Suite *s = suite_create("gst-overlay");
    TCase *tc = tcase_create("overlay");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_pixels_by_fate);
    tcase_add_test(tc, test_docs_png);
    tcase_add_test(tc, test_yuv_and_other_rgb_formats);
    tcase_add_test(tc, test_leaves_frames_without_decisions);
    tcase_add_test(tc, test_properties_roundtrip);
    return s;
}

GST_CHECK_MAIN(overlay);
