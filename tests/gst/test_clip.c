/* The clip backend through the elements, on a small random-weight CLIP model that
 * tests/encode/gen_clip.py builds (SCRIPTD_CLIP_FIXTURES): tokens and joint-space embeddings in
 * the meta equal to a direct core encode, text queries set by property and by event while
 * PLAYING, and a query encoder that does not match the tokens' encoder. */
#include <string.h>

#include "gsttest.h"
#include "scriptprune/encode.h"

#define W 64
#define H 48
#define CAPS "video/x-raw,format=RGBx,width=64,height=48,framerate=10/1"
#define FRAME_NS (GST_SECOND / 10)

static gchar *model_dir(void) {
    const gchar *root = g_getenv("SCRIPTD_CLIP_FIXTURES");
    fail_unless(root != NULL, "SCRIPTD_CLIP_FIXTURES is not set");
    return g_build_filename(root, "clip_f32", NULL);
}

static gchar *with_model(const gchar *format) {
    gchar *dir = model_dir();
    gchar *s = g_strdup_printf(format, dir, dir);
    g_free(dir);
    return s;
}

static GstBuffer *push(GstHarness *h, guint shift, GstClockTime pts) {
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(W, H, shift, pts)), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    fail_unless(out != NULL);
    return out;
}

/* Encodes the frame push(h, 0, 0) sends through core directly with model_dir (and text_dir,
 * may be NULL) and checks the meta holds exactly those tokens and joint-space embeddings.
 * Returns the token and embedding widths. */
static void expect_meta_equals_core(GstScriptTokensMeta *m, const gchar *model_dir,
                                    const gchar *text_dir, gsize *d, gsize *e) {
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    cfg.kind = SP_ENCODER_CLIP;
    cfg.model_dir = model_dir;
    cfg.text_model_dir = text_dir;
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
    fail_unless(sp_encoder_open(&cfg, &enc, &err) == SP_OK, "%s", err.message);
    fail_unless(sp_encode_ctx_new(enc, &ctx, &err) == SP_OK);
    GstBuffer *in = gt_frame_rgbx(W, H, 0, 0);
    GstMapInfo im, tm, em;
    gst_buffer_map(in, &im, GST_MAP_READ);
    sp_image img = {im.data, W, H, W * 4, SP_PIXFMT_RGBX};
    sp_encoding r;
    sp_encoding_init(&r);
    fail_unless(sp_encode(ctx, &img, &r, &err) == SP_OK, "%s", err.message);
    fail_unless_equals_int((gint)m->tokens.dims[0], (gint)r.n);
    fail_unless_equals_int((gint)m->tokens.dims[1], (gint)r.d);
    fail_unless_equals_int((gint)m->embeddings.dims[1], (gint)r.e);
    fail_unless(gst_script_tensor_map(&m->tokens, &tm));
    fail_unless(gst_script_tensor_map(&m->embeddings, &em));
    fail_unless(memcmp(tm.data, r.tokens, r.n * r.d * sizeof(float)) == 0);
    fail_unless(memcmp(em.data, r.embed, r.n * r.e * sizeof(float)) == 0);
    gst_buffer_unmap(m->tokens.data, &tm);
    gst_buffer_unmap(m->embeddings.data, &em);
    gst_buffer_unmap(in, &im);
    gst_buffer_unref(in);
    *d = r.d;
    *e = r.e;
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
}

GST_START_TEST(test_clip_tokens_and_embeddings) {
    gchar *launch = with_model("scriptencode backend=clip model=%s");
    GstHarness *h = gt_harness(launch, CAPS);
    GstBuffer *out = push(h, 0, 0);
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL);
    fail_unless_equals_string(m->backend, "clip");
    fail_unless(gst_script_tensor_is_set(&m->embeddings));

    /* the same frame through core directly */
    gchar *dir = model_dir();
    gsize d, e;
    expect_meta_equals_core(m, dir, NULL, &d, &e);
    fail_unless(e != d);
    fail_unless_equals_int(m->preprocess.image_size, 32);
    fail_unless_equals_int(m->preprocess.patch_size, 8);
    gst_buffer_unref(out);
    gt_teardown(h);
    g_free(dir);
    g_free(launch);
}
GST_END_TEST;

GST_START_TEST(test_text_query_by_property_and_event) {
    gchar *launch = with_model("scriptencode backend=clip model=%s ! scriptprune name=p "
                               "emit=frame budget=4 gsp-keep=1 encoder-backend=clip "
                               "encoder-model=%s query-text=\"a photo of a cat\"");
    GstHarness *h = gt_harness(launch, CAPS);
    GstBuffer *out = push(h, 0, 0);
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL && m->pruned && m->has_packet);
    guint64 cat = m->packet.query_hash;
    fail_unless(cat != 0);
    fail_unless_equals_int(m->packet.count, 4);
    gst_buffer_unref(out);

    /* property while PLAYING */
    GstElement *p = gst_bin_get_by_name(GST_BIN(h->element), "p");
    g_object_set(p, "query-text", "naive cafe", NULL);
    out = push(h, 1, FRAME_NS);
    guint64 cafe = gst_buffer_get_script_tokens_meta(out)->packet.query_hash;
    fail_unless(cafe != 0 && cafe != cat);
    gst_buffer_unref(out);

    /* event with a running time: the cat again from frame 3 on */
    fail_unless(gst_harness_push_event(
        h, gst_script_query_event_new_text(GST_EVENT_CUSTOM_DOWNSTREAM, 3 * FRAME_NS,
                                           "a photo of a cat")));
    out = push(h, 2, 2 * FRAME_NS);
    fail_unless_equals_uint64(gst_buffer_get_script_tokens_meta(out)->packet.query_hash, cafe);
    gst_buffer_unref(out);
    out = push(h, 3, 3 * FRAME_NS);
    fail_unless_equals_uint64(gst_buffer_get_script_tokens_meta(out)->packet.query_hash, cat);
    gst_buffer_unref(out);
    gchar *text = NULL;
    g_object_get(p, "query-text", &text, NULL);
    fail_unless_equals_string(text, "a photo of a cat");
    g_free(text);
    gst_object_unref(p);
    gt_teardown(h);
    g_free(launch);
}
GST_END_TEST;

GST_START_TEST(test_mismatched_query_encoder) {
    gchar *dir = gt_tmpdir();
    gchar *png = g_build_filename(dir, "x.png", NULL);
    fail_unless(gt_write_png(png, 32, 32, 0));
    /* tokens from clip, an exemplar encoded with the patch encoder: a clear error */
    gchar *model = model_dir();
    gchar *launch = g_strdup_printf("scriptencode backend=clip model=%s ! scriptprune "
                                    "query-image=%s",
                                    model, png);
    GstHarness *h = gt_harness(launch, CAPS);
    fail_unless_equals_int(gst_harness_push(h, gt_frame_rgbx(W, H, 0, 0)), GST_FLOW_ERROR);
    GstMessage *msg = gt_pop_message(gt_bus(h), GST_MESSAGE_ERROR, NULL);
    fail_unless(msg != NULL);
    GError *err = NULL;
    gst_message_parse_error(msg, &err, NULL);
    fail_unless(strstr(err->message, "differs from the tokens' encoder") != NULL, "%s",
                err->message);
    g_error_free(err);
    gst_message_unref(msg);
    gt_teardown(h);
    g_free(launch);
    g_free(model);
    g_free(png);
    gt_rmdir(dir);
}
GST_END_TEST;

/* A LLaVA folder with a separate CLIP text model: the tokens are the projector's (the LLaVA
 * hidden size), the joint space the CLIP's, exactly as core gives them. */
GST_START_TEST(test_llava_with_text_model) {
    const gchar *root = g_getenv("SCRIPTD_CLIP_FIXTURES");
    fail_unless(root != NULL);
    gchar *llava = g_build_filename(root, "llava_f32", NULL);
    gchar *clip = g_build_filename(root, "clip_f32", NULL);
    gchar *launch =
        g_strdup_printf("scriptencode backend=clip model=%s text-model=%s", llava, clip);
    GstHarness *h = gt_harness(launch, CAPS);
    GstBuffer *out = push(h, 0, 0);
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL);
    fail_unless(gst_script_tensor_is_set(&m->embeddings));

    gsize hidden, e;
    expect_meta_equals_core(m, llava, clip, &hidden, &e);
    fail_unless(e != hidden); /* the CLIP's projection width, not LLaVA's hidden size */
    gst_buffer_unref(out);
    gt_teardown(h);

    /* Without the text model the joint space is the tokens themselves: no separate embeddings. */
    g_free(launch);
    launch = g_strdup_printf("scriptencode backend=clip model=%s", llava);
    h = gt_harness(launch, CAPS);
    out = push(h, 0, 0);
    m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL);
    fail_unless(!gst_script_tensor_is_set(&m->embeddings));
    fail_unless_equals_int((gint)m->tokens.dims[1], (gint)hidden);
    gst_buffer_unref(out);
    gt_teardown(h);
    g_free(launch);
    g_free(llava);
    g_free(clip);
}
GST_END_TEST;

static Suite *clip_suite(void) {
    Suite *s = suite_create("gst-clip");
    TCase *tc = tcase_create("clip");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_clip_tokens_and_embeddings);
    tcase_add_test(tc, test_llava_with_text_model);
    tcase_add_test(tc, test_text_query_by_property_and_event);
    tcase_add_test(tc, test_mismatched_query_encoder);
    return s;
}

GST_CHECK_MAIN(clip);
