/* scriptencode: caps for every supported format, tokens equal to a direct core encode of the same
 * frame at sizes whose rows GStreamer pads (odd widths and heights, widths not a multiple of 4),
 * every sampled frame of such sizes through scriptencode ! scriptprune, properties,
 * sample-every / max-fps, and a model path that cannot be read. */
#include <string.h>

#include "gsttest.h"
#include "scriptprune/encode.h"

/* The gt_paint picture converted to `fmt` with a default GstVideoConverter. */
static GstBuffer *frame_in(GstVideoFormat fmt, gint W, gint H, GstClockTime pts) {
    GstVideoInfo in, out;
    gst_video_info_set_format(&in, GST_VIDEO_FORMAT_RGBx, W, H);
    gst_video_info_set_format(&out, fmt, W, H);
    GstBuffer *src = gt_frame_rgbx(W, H, 0, pts);
    if (fmt == GST_VIDEO_FORMAT_RGBx)
        return src;
    GstBuffer *dst = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&out), NULL);
    GstVideoFrame fi, fo;
    gst_video_frame_map(&fi, &in, src, GST_MAP_READ);
    gst_video_frame_map(&fo, &out, dst, GST_MAP_WRITE);
    GstVideoConverter *c = gst_video_converter_new(&in, &out, NULL);
    gst_video_converter_frame(c, &fi, &fo);
    gst_video_converter_free(c);
    gst_video_frame_unmap(&fi);
    gst_video_frame_unmap(&fo);
    gst_buffer_unref(src);
    GST_BUFFER_PTS(dst) = pts;
    return dst;
}

/* What the core encoder gives for buf (in format fmt), converting YUV to RGB like the element. */
static sp_encoding *direct_encode(GstBuffer *buf, GstVideoFormat fmt, gint W, gint H) {
    GstVideoInfo info, rgb;
    gst_video_info_set_format(&info, fmt, W, H);
    GstVideoFrame frame, rframe;
    fail_unless(gst_video_frame_map(&frame, &info, buf, GST_MAP_READ));
    GstBuffer *rbuf = NULL;
    sp_pixfmt pf = SP_PIXFMT_RGB;
    GstVideoFrame *src = &frame;
    if (GST_VIDEO_INFO_IS_YUV(&info)) {
        gst_video_info_set_format(&rgb, GST_VIDEO_FORMAT_RGB, W, H);
        rbuf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&rgb), NULL);
        gst_video_frame_map(&rframe, &rgb, rbuf, GST_MAP_WRITE);
        GstVideoConverter *c = gst_video_converter_new(&info, &rgb, NULL);
        gst_video_converter_frame(c, &frame, &rframe);
        gst_video_converter_free(c);
        src = &rframe;
    } else {
        sp_error err;
        fail_unless(sp_pixfmt_from_name(gst_video_format_to_string(fmt), &pf, &err) == SP_OK);
    }
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
    fail_unless(sp_encoder_open(&cfg, &enc, &err) == SP_OK, "%s", err.message);
    fail_unless(sp_encode_ctx_new(enc, &ctx, &err) == SP_OK);
    sp_image img = {GST_VIDEO_FRAME_PLANE_DATA(src, 0), W, H,
                    (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(src, 0), pf};
    sp_encoding *r = g_new0(sp_encoding, 1);
    sp_encoding_init(r);
    fail_unless(sp_encode(ctx, &img, r, &err) == SP_OK, "%s", err.message);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    if (rbuf) {
        gst_video_frame_unmap(&rframe);
        gst_buffer_unref(rbuf);
    }
    gst_video_frame_unmap(&frame);
    return r;
}

static void check_format(GstVideoFormat fmt, gint W, gint H) {
    const gchar *name = gst_video_format_to_string(fmt);
    gchar *caps =
        g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=10/1", name, W, H);
    GstHarness *h = gt_harness("scriptencode", caps);
    GstBuffer *in = frame_in(fmt, W, H, 0);
    sp_encoding *want = direct_encode(in, fmt, W, H);
    gsize in_size = gst_buffer_get_size(in);
    fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    fail_unless(out != NULL);
    fail_unless_equals_int((gint)gst_buffer_get_size(out), (gint)in_size);
    GstCaps *sinkcaps = gst_pad_get_current_caps(h->sinkpad);
    GstStructure *s = gst_caps_get_structure(sinkcaps, 0);
    fail_unless_equals_string(gst_structure_get_string(s, "format"), name);
    gst_caps_unref(sinkcaps);

    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL, "%s: no tokens meta", name);
    fail_unless_equals_int((gint)gst_script_tokens_meta_n_tokens(m), (gint)want->n);
    fail_unless_equals_int((gint)gst_script_tokens_meta_width(m), (gint)want->d);
    fail_unless_equals_int(m->grid_h, (gint)want->grid_h);
    fail_unless_equals_int(m->grid_w, (gint)want->grid_w);
    fail_unless_equals_int(m->grid_h, 24);
    fail_unless_equals_int(m->grid_w, 24);
    fail_unless_equals_string(m->backend, "patch");
    fail_unless_equals_uint64(m->pts, 0);
    fail_unless_equals_int(m->preprocess.frame_width, W);
    fail_unless_equals_int(m->preprocess.frame_height, H);
    fail_unless_equals_int(m->preprocess.image_size, 336);
    fail_unless_equals_int(m->preprocess.patch_size, 14);
    fail_unless_equals_int(m->preprocess.dst_y, (gint)want->pre.dst_y);
    fail_unless_equals_int(m->preprocess.dst_h, (gint)want->pre.dst_h);
    GstMapInfo map;
    fail_unless(gst_script_tensor_map(&m->tokens, &map));
    fail_unless(memcmp(map.data, want->tokens, want->n * want->d * sizeof(float)) == 0,
                "%s %dx%d: tokens differ from a direct core encode", name, W, H);
    gst_buffer_unmap(m->tokens.data, &map);
    gst_buffer_unref(out);
    sp_encoding_free(want);
    g_free(want);
    gt_teardown(h);
    g_free(caps);
}

static const GstVideoFormat formats[] = {
    GST_VIDEO_FORMAT_RGB,  GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
    GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA,
    GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12};

GST_START_TEST(test_formats) {
    for (gsize i = 0; i < G_N_ELEMENTS(formats); i++)
        check_format(formats[i], 200, 150);
}
GST_END_TEST;

/* Sizes whose rows GStreamer pads: RGB rows of 854 * 3 bytes are padded to 2564, 641 x 361 has
 * odd luma and chroma planes, 642 * 3 is not a multiple of 4 either. The element must read the
 * frame's real strides (a width * bpp stride would shear the picture and change the tokens). */
static const gint odd_sizes[][2] = {{854, 480}, {641, 361}, {642, 362}};

GST_START_TEST(test_formats_at_padded_sizes) {
    for (gsize k = 0; k < G_N_ELEMENTS(odd_sizes); k++)
        for (gsize i = 0; i < G_N_ELEMENTS(formats); i++)
            check_format(formats[i], odd_sizes[k][0], odd_sizes[k][1]);
}
GST_END_TEST;

/* videotestsrc at such a size through scriptencode max-fps=2 ! scriptprune, to EOS: 40 frames at
 * 10 fps are 8 sampled frames, every one encoded and pruned, and two windows of 4 emitted with
 * their whole budget. */
static void run_pipeline_at(const gchar *format, gint w, gint h) {
    gchar *launch = g_strdup_printf(
        "videotestsrc num-buffers=40 pattern=ball ! "
        "video/x-raw,format=%s,width=%d,height=%d,framerate=10/1 ! scriptencode max-fps=2 ! "
        "scriptprune emit=window window=4 hop=4 window-budget=16 ! appsink name=out sync=false",
        format, w, h);
    GError *err = NULL;
    GstElement *p = gst_parse_launch(launch, &err);
    fail_unless(p != NULL && err == NULL, "%s", err ? err->message : "");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
    fail_unless(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    guint frames = 0, encoded = 0, packets = 0;
    for (;;) {
        GstSample *sample = NULL;
        g_signal_emit_by_name(sink, "try-pull-sample", (GstClockTime)(120 * GST_SECOND), &sample);
        if (!sample)
            break;
        GstBuffer *buf = gst_sample_get_buffer(sample);
        GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(buf);
        frames++;
        if (m) {
            fail_unless(m->pruned, "%s %dx%d: a frame was encoded but not pruned", format, w, h);
            fail_unless_equals_int((gint)m->preprocess.frame_width, w);
            fail_unless_equals_int((gint)m->preprocess.frame_height, h);
            encoded++;
            if (m->has_packet) {
                packets++;
                fail_unless_equals_int((gint)m->packet.count, 16);
            }
        }
        gst_sample_unref(sample);
    }
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    if (msg) {
        GError *e = NULL;
        gst_message_parse_error(msg, &e, NULL);
        fail("%s %dx%d: pipeline error: %s", format, w, h, e->message);
    }
    fail_unless_equals_int(frames, 40);
    fail_unless_equals_int(encoded, 8);
    fail_unless_equals_int(packets, 2);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(sink);
    gst_object_unref(p);
    g_free(launch);
}

GST_START_TEST(test_every_sampled_frame_of_padded_sizes_is_pruned) {
    gt_register_plugin();
    static const gchar *const fmts[] = {"RGB", "I420", "NV12", "BGRx"};
    for (gsize k = 0; k < G_N_ELEMENTS(odd_sizes); k++)
        for (gsize i = 0; i < G_N_ELEMENTS(fmts); i++)
            run_pipeline_at(fmts[i], odd_sizes[k][0], odd_sizes[k][1]);
}
GST_END_TEST;

GST_START_TEST(test_refuses_other_formats) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptencode", NULL);
    GstPad *sink = gst_element_get_static_pad(e, "sink");
    GstCaps *yuy2 = gst_caps_from_string("video/x-raw,format=YUY2,width=8,height=8");
    GstCaps *gray = gst_caps_from_string("video/x-raw,format=GRAY8,width=8,height=8");
    GstCaps *i420 = gst_caps_from_string("video/x-raw,format=I420,width=8,height=8");
    fail_if(gst_pad_query_accept_caps(sink, yuy2));
    fail_if(gst_pad_query_accept_caps(sink, gray));
    fail_unless(gst_pad_query_accept_caps(sink, i420));
    gst_caps_unref(yuy2);
    gst_caps_unref(gray);
    gst_caps_unref(i420);
    gst_object_unref(sink);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_properties_roundtrip) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptencode", NULL);
    g_object_set(e, "backend", 1, "model", "/models/clip", "image-size", 224, "patch-size", 16,
                 "output-layer", -1, "threads", 3, "sample-every", 5, "max-fps", 2.5, NULL);
    gint backend, layer;
    gchar *model;
    guint size, patch, threads, every;
    gdouble fps;
    g_object_get(e, "backend", &backend, "model", &model, "image-size", &size, "patch-size", &patch,
                 "output-layer", &layer, "threads", &threads, "sample-every", &every, "max-fps",
                 &fps, NULL);
    fail_unless_equals_int(backend, 1);
    fail_unless_equals_string(model, "/models/clip");
    fail_unless_equals_int(size, 224);
    fail_unless_equals_int(patch, 16);
    fail_unless_equals_int(layer, -1);
    fail_unless_equals_int(threads, 3);
    fail_unless_equals_int(every, 5);
    fail_unless_equals_float(fps, 2.5);
    g_free(model);
    /* the defaults */
    GstElement *d = gst_element_factory_make("scriptencode", NULL);
    g_object_get(d, "backend", &backend, "patch-size", &patch, "sample-every", &every, NULL);
    fail_unless_equals_int(backend, 0);
    fail_unless_equals_int(patch, 14);
    fail_unless_equals_int(every, 1);
    gst_object_unref(d);
    gst_object_unref(e);
}
GST_END_TEST;

/* Pushes n frames at 10 fps; returns a bit mask of the frames that carry a meta. */
static guint64 pushed_with_meta(const gchar *launch, guint n) {
    GstHarness *h = gt_harness(launch, "video/x-raw,format=RGBx,width=96,height=96,"
                                       "framerate=10/1");
    guint64 mask = 0;
    for (guint i = 0; i < n; i++) {
        gst_harness_push(h, gt_frame_rgbx(96, 96, i, i * GST_SECOND / 10));
        GstBuffer *out = gst_harness_pull(h);
        GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
        if (m) {
            mask |= G_GUINT64_CONSTANT(1) << i;
            fail_unless_equals_uint64(m->frame_index, i);
        }
        gst_buffer_unref(out);
    }
    gt_teardown(h);
    return mask;
}

GST_START_TEST(test_sample_every_and_max_fps) {
    fail_unless_equals_uint64(pushed_with_meta("scriptencode sample-every=3", 8), 0x49); /* 0 3 6 */
    fail_unless_equals_uint64(pushed_with_meta("scriptencode max-fps=5", 8), 0x55);      /* even */
    fail_unless_equals_uint64(pushed_with_meta("scriptencode max-fps=2.5", 9), 0x111);
    fail_unless_equals_uint64(pushed_with_meta("scriptencode", 4), 0xf);
}
GST_END_TEST;

/* Pixel evidence rides the meta: none on the first frame; on a frame the change gate skipped (it
 * carries frame 0's tokens: tokens_of 0) every picture cell seen in place against frame 0, as
 * encoding the held picture gives; FLOAT32 [N, 3] against frame 0 on the next encoded frame, whose
 * picture changed (other block colours). */
GST_START_TEST(test_pixel_evidence_in_the_meta_against_the_last_encoded_frame) {
    GstHarness *h = gt_harness("scriptencode skip-unchanged=true max-skip-s=100",
                               "video/x-raw,format=RGBx,width=192,height=160,framerate=10/1");
    static const guint shift[3] = {0, 0, 4};
    GstScriptTokensMeta *m[3];
    GstBuffer *out[3];
    for (int i = 0; i < 3; i++) {
        GstClockTime pts = (GstClockTime)i * GST_SECOND / 10;
        fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(192, 160, shift[i], pts)),
                               GST_FLOW_OK);
        out[i] = gst_harness_pull(h);
        fail_unless(out[i] != NULL);
        m[i] = gst_buffer_get_script_tokens_meta(out[i]);
        fail_unless(m[i] != NULL);
        fail_unless_equals_uint64(m[i]->frame_index, (guint64)i);
    }
    fail_if(gst_script_tensor_is_set(&m[0]->evidence));
    fail_unless_equals_uint64(m[0]->tokens_of, 0);
    fail_unless(gst_script_tensor_is_set(&m[1]->evidence), "a skipped frame without evidence");
    fail_unless_equals_uint64(m[1]->evidence_ref, 0);
    fail_unless_equals_uint64(m[1]->tokens_of, 0);
    GstMapInfo held;
    fail_unless(gst_script_tensor_map(&m[1]->evidence, &held));
    const float *hv = (const float *)held.data;
    gsize seen = 0;
    for (gsize i = 0; i < 24 * 24; i++) {
        fail_unless(hv[3 * i] == 0.0f && hv[3 * i + 1] == 0.0f);
        seen += hv[3 * i + 2] == 1.0f;
    }
    gst_buffer_unmap(m[1]->evidence.data, &held);
    fail_unless(seen > 0, "no cell of the held picture is seen in place");
    fail_unless(gst_script_tensor_is_set(&m[2]->evidence));
    fail_unless_equals_uint64(m[2]->tokens_of, 2);
    fail_unless_equals_uint64(m[2]->evidence_ref, 0);
    fail_unless_equals_int(m[2]->evidence.data_type, GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32);
    fail_unless_equals_int((gint)m[2]->evidence.num_dims, 2);
    fail_unless_equals_int((gint)m[2]->evidence.dims[0], 24 * 24);
    fail_unless_equals_int((gint)m[2]->evidence.dims[1], 3);
    GstMapInfo map;
    fail_unless(gst_script_tensor_map(&m[2]->evidence, &map));
    const float *v = (const float *)map.data;
    gsize verdicts[3] = {0, 0, 0};
    for (gsize i = 0; i < 24 * 24; i++) {
        fail_unless(v[3 * i + 2] == 0.0f || v[3 * i + 2] == 1.0f || v[3 * i + 2] == 2.0f);
        verdicts[(gsize)v[3 * i + 2]]++;
    }
    gst_buffer_unmap(m[2]->evidence.data, &map);
    fail_unless(verdicts[1] + verdicts[2] > 0, "no cell has a verdict");
    for (int i = 0; i < 3; i++)
        gst_buffer_unref(out[i]);
    gt_teardown(h);
}
GST_END_TEST;

/* Tries READY -> PAUSED and returns the error message text posted, or NULL. */
static gchar *start_error(GstElement *e) {
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    GstStateChangeReturn r = gst_element_set_state(e, GST_STATE_PAUSED);
    fail_unless_equals_int(r, GST_STATE_CHANGE_FAILURE);
    GstMessage *m = gt_pop_message(bus, GST_MESSAGE_ERROR, NULL);
    fail_unless(m != NULL, "no error message");
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    gchar *text = g_strdup(err->message);
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    return text;
}

GST_START_TEST(test_unreadable_model_fails_state_change) {
    gt_register_plugin();
    GstElement *e = gst_element_factory_make("scriptencode", NULL);
    g_object_set(e, "backend", 1, "model", "/nonexistent/clip-vit", NULL);
    gchar *text = start_error(e);
    fail_unless(strstr(text, "/nonexistent/clip-vit") != NULL, "path missing: %s", text);
    fail_unless(strstr(text, "No such file or directory") != NULL, "reason missing: %s", text);
    g_free(text);

    /* a path that exists but is no model: the encoder's reason, with the path */
    g_object_set(e, "model", SCRIPTD_SOURCE_FILE, NULL);
    text = start_error(e);
    fail_unless(strstr(text, SCRIPTD_SOURCE_FILE) != NULL, "path missing: %s", text);
    g_free(text);

    /* clip without a model */
    g_object_set(e, "model", NULL, NULL);
    text = start_error(e);
    fail_unless(strstr(text, "model") != NULL, "%s", text);
    g_free(text);

    /* bad patch geometry */
    g_object_set(e, "backend", 0, "image-size", 100, "patch-size", 14, NULL);
    text = start_error(e);
    fail_unless(strstr(text, "multiple") != NULL, "%s", text);
    g_free(text);
    gst_object_unref(e);
}
GST_END_TEST;

static Suite *encode_suite(void) {
    Suite *s = suite_create("gst-encode");
    TCase *tc = tcase_create("encode");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_formats_at_padded_sizes);
    tcase_add_test(tc, test_every_sampled_frame_of_padded_sizes_is_pruned);
    tcase_add_test(tc, test_refuses_other_formats);
    tcase_add_test(tc, test_properties_roundtrip);
    tcase_add_test(tc, test_sample_every_and_max_fps);
    tcase_add_test(tc, test_unreadable_model_fails_state_change);
    tcase_add_test(tc, test_pixel_evidence_in_the_meta_against_the_last_encoded_frame);
    return s;
}

GST_CHECK_MAIN(encode);
