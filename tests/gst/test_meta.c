/* libgstscript-1.0: tensors, the tokens meta (copies, transforms, videoconvert/videoscale/tee/
 * queue), the token-to-pixel map, the ScriptQuery event and the packet event. */
#include <string.h>

#include "gsttest.h"

static GstBuffer *float_buffer(gsize n, gfloat base) {
    GstBuffer *b = gst_buffer_new_allocate(NULL, n * sizeof(gfloat), NULL);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    for (gsize i = 0; i < n; i++)
        ((gfloat *)map.data)[i] = base + (gfloat)i;
    gst_buffer_unmap(b, &map);
    return b;
}

/* A 320x240 buffer with a 4x4-token meta as a letterboxing encoder (S 56, P 14) would set. */
static GstBuffer *buffer_with_meta(void) {
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 320 * 240 * 4, NULL);
    gst_buffer_memset(buf, 0, 0x40, 320 * 240 * 4);
    GstBuffer *tok = float_buffer(16 * 8, 1.0f);
    GstScriptTokensMeta *m = gst_buffer_add_script_tokens_meta(buf, tok, 16, 8, NULL, 0, 4, 4);
    gst_buffer_unref(tok);
    fail_unless(m != NULL);
    m->pts = 5 * GST_SECOND;
    m->frame_index = 7;
    m->backend = g_intern_static_string("patch");
    /* 320x240 letterboxed into 56x56: scale 56/320, landed 56x42 at y = 7. */
    GstScriptPreprocess p = {.frame_width = 320,
                             .frame_height = 240,
                             .src_x = 0,
                             .src_y = 0,
                             .src_w = 320,
                             .src_h = 240,
                             .dst_x = 0,
                             .dst_y = 7,
                             .dst_w = 56,
                             .dst_h = 42,
                             .image_size = 56,
                             .patch_size = 14};
    m->preprocess = p;
    return buf;
}

GST_START_TEST(test_tensor_set_checks_sizes) {
    GstScriptTensor t = {0};
    GstBuffer *b = float_buffer(6, 0.0f);
    gsize good[2] = {2, 3}, bad[2] = {2, 4};
    fail_if(gst_script_tensor_set(&t, "x", GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, b, 2, bad));
    fail_if(gst_script_tensor_is_set(&t));
    fail_if(gst_script_tensor_set(&t, "x", GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, b, 0, good));
    fail_if(gst_script_tensor_set(&t, "x", GST_SCRIPT_TENSOR_DATA_TYPE_INT4, b, 2, good));
    fail_unless(gst_script_tensor_set(&t, "x", GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, b, 2, good));
    fail_unless_equals_int((gint)gst_script_tensor_n_elements(&t), 6);
    fail_unless(t.id == g_quark_from_string("x"));
    fail_unless_equals_int(t.layout, GST_SCRIPT_TENSOR_LAYOUT_CONTIGUOUS);
    fail_unless_equals_int(t.dims_order, GST_SCRIPT_TENSOR_DIM_ORDER_ROW_MAJOR);
    GstMapInfo map;
    fail_unless(gst_script_tensor_map(&t, &map));
    fail_unless_equals_float(((gfloat *)map.data)[5], 5.0f);
    gst_buffer_unmap(t.data, &map);
    GstScriptTensor c = {0};
    gst_script_tensor_copy_into(&c, &t);
    fail_unless(c.data == t.data); /* shared, not copied */
    gst_script_tensor_clear(&c);
    gst_script_tensor_clear(&t);
    gst_buffer_unref(b);
    /* GstTensorDataType order (GStreamer 1.26) */
    fail_unless_equals_int(GST_SCRIPT_TENSOR_DATA_TYPE_UINT8, 6);
    fail_unless_equals_int(GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, 11);
    fail_unless_equals_int(
        (gint)gst_script_tensor_data_type_size(GST_SCRIPT_TENSOR_DATA_TYPE_INT64), 8);
}
GST_END_TEST;

GST_START_TEST(test_meta_add_and_read) {
    fail_unless(gst_meta_api_type_has_tag(GST_SCRIPT_TOKENS_META_API_TYPE,
                                          g_quark_from_string(GST_META_TAG_VIDEO_STR)));
    fail_unless(gst_meta_api_type_has_tag(GST_SCRIPT_TOKENS_META_API_TYPE,
                                          g_quark_from_string(GST_META_TAG_VIDEO_SIZE_STR)));
    GstBuffer *buf = buffer_with_meta();
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(buf);
    fail_unless(m != NULL);
    fail_unless_equals_int((gint)gst_script_tokens_meta_n_tokens(m), 16);
    fail_unless_equals_int((gint)gst_script_tokens_meta_width(m), 8);
    fail_unless(m->tokens.id == g_quark_from_string(GST_SCRIPT_TENSOR_ID_TOKENS));
    fail_if(gst_script_tensor_is_set(&m->embeddings));
    fail_if(m->pruned);
    fail_if(m->has_packet);
    /* wrong sizes are refused */
    GstBuffer *other = gst_buffer_new_allocate(NULL, 16, NULL);
    GstBuffer *tok = float_buffer(4, 0.0f);
    fail_unless(gst_buffer_add_script_tokens_meta(other, tok, 4, 1, NULL, 0, 3, 1) == NULL);
    fail_unless(gst_buffer_add_script_tokens_meta(other, tok, 2, 2, NULL, 0, 1, 1) == NULL);
    fail_unless(gst_buffer_add_script_tokens_meta(other, tok, 4, 1, NULL, 0, 2, 2) != NULL);
    gst_buffer_unref(tok);
    gst_buffer_unref(other);
    /* fates need N bytes */
    GstBuffer *fates = gst_buffer_new_allocate(NULL, 15, NULL);
    fail_if(gst_script_tokens_meta_set_fates(m, fates));
    gst_buffer_unref(fates);
    fates = gst_buffer_new_allocate(NULL, 16, NULL);
    fail_unless(gst_script_tokens_meta_set_fates(m, fates));
    gst_buffer_unref(fates);
    gst_buffer_unref(buf);
}
GST_END_TEST;

GST_START_TEST(test_meta_copy_and_region) {
    GstBuffer *buf = buffer_with_meta();
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(buf);
    GstBuffer *copy = gst_buffer_copy(buf);
    GstScriptTokensMeta *c = gst_buffer_get_script_tokens_meta(copy);
    fail_unless(c != NULL && c != m);
    fail_unless(c->tokens.data == m->tokens.data);
    fail_unless_equals_uint64(c->pts, 5 * GST_SECOND);
    fail_unless_equals_uint64(c->frame_index, 7);
    fail_unless_equals_int(c->preprocess.dst_y, 7);
    fail_unless_equals_string(c->backend, "patch");
    gst_buffer_unref(copy);
    /* a part of the bytes is not the picture: the meta is dropped */
    GstBuffer *part = gst_buffer_copy_region(buf, GST_BUFFER_COPY_ALL, 100, 200);
    fail_unless(gst_buffer_get_script_tokens_meta(part) == NULL);
    gst_buffer_unref(part);
    gst_buffer_unref(buf);
}
GST_END_TEST;

GST_START_TEST(test_meta_token_rect) {
    GstBuffer *buf = buffer_with_meta();
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(buf);
    gint x0, y0, x1, y1;
    /* row 0 covers input rows 0..13, the landed picture starts at row 7 */
    fail_unless(gst_script_tokens_meta_token_rect(m, 0, 0, 320, 240, &x0, &y0, &x1, &y1));
    fail_unless_equals_int(x0, 0);
    fail_unless_equals_int(x1, 80);
    fail_unless_equals_int(y0, 0);
    fail_unless_equals_int(y1, 40); /* (14 - 7) * 240 / 42 */
    fail_unless(gst_script_tokens_meta_token_rect(m, 1, 2, 320, 240, &x0, &y0, &x1, &y1));
    fail_unless_equals_int(x0, 160);
    fail_unless_equals_int(y0, 40);
    fail_unless_equals_int(y1, 120);
    /* row 3 covers input rows 42..55: only 42..48 are picture */
    fail_unless(gst_script_tokens_meta_token_rect(m, 3, 3, 320, 240, &x0, &y0, &x1, &y1));
    fail_unless_equals_int(y0, 200);
    fail_unless_equals_int(y1, 240);
    fail_unless_equals_int(x1, 320);
    /* rescaled to a 160x120 picture */
    fail_unless(gst_script_tokens_meta_token_rect(m, 1, 2, 160, 120, &x0, &y0, &x1, &y1));
    fail_unless_equals_int(x0, 80);
    fail_unless_equals_int(y0, 20);
    /* off the grid */
    fail_if(gst_script_tokens_meta_token_rect(m, 4, 0, 320, 240, &x0, &y0, &x1, &y1));
    /* a token in the padding maps to nothing */
    m->preprocess.dst_y = 14;
    m->preprocess.dst_h = 28;
    fail_if(gst_script_tokens_meta_token_rect(m, 0, 0, 320, 240, &x0, &y0, &x1, &y1));
    gst_buffer_unref(buf);
}
GST_END_TEST;

/* Pushes the meta buffer through `launch` and returns the output's meta holder. */
static GstBuffer *through(const gchar *launch, const gchar *out_caps) {
    GstHarness *h = gt_harness(launch, "video/x-raw,format=RGBx,width=320,height=240,"
                                       "framerate=10/1");
    if (out_caps)
        gst_harness_set_sink_caps_str(h, out_caps);
    gst_harness_push(h, buffer_with_meta());
    GstBuffer *out = gst_harness_pull(h);
    gt_teardown(h);
    return out;
}

GST_START_TEST(test_meta_survives_videoconvert_tee_queue) {
    GstBuffer *out = through("videoconvert", "video/x-raw,format=I420");
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL, "videoconvert dropped the tokens meta");
    fail_unless_equals_int((gint)gst_script_tokens_meta_n_tokens(m), 16);
    fail_unless_equals_int(m->preprocess.frame_width, 320);
    gst_buffer_unref(out);

    out = through("tee ! queue", NULL);
    fail_unless(gst_buffer_get_script_tokens_meta(out) != NULL, "tee/queue dropped the meta");
    gst_buffer_unref(out);
}
GST_END_TEST;

GST_START_TEST(test_meta_rescaled_by_videoscale) {
    GstBuffer *out = through("videoscale", "video/x-raw,width=160,height=120");
    GstScriptTokensMeta *m = gst_buffer_get_script_tokens_meta(out);
    fail_unless(m != NULL, "videoscale dropped the tokens meta");
    fail_unless_equals_int(m->preprocess.frame_width, 160);
    fail_unless_equals_int(m->preprocess.frame_height, 120);
    fail_unless_equals_float(m->preprocess.src_w, 160.0);
    gint x0, y0, x1, y1;
    fail_unless(gst_script_tokens_meta_token_rect(m, 1, 2, 160, 120, &x0, &y0, &x1, &y1));
    fail_unless_equals_int(x0, 80);
    fail_unless_equals_int(y0, 20);
    gst_buffer_unref(out);
}
GST_END_TEST;

GST_START_TEST(test_query_event_roundtrip) {
    GstEvent *e =
        gst_script_query_event_new_text(GST_EVENT_CUSTOM_DOWNSTREAM, 3 * GST_SECOND, "a red car");
    fail_unless(gst_script_query_event_is(e));
    fail_unless(GST_EVENT_IS_SERIALIZED(e));
    GstClockTime rt;
    gchar *text = NULL, *image = NULL;
    GBytes *emb = (GBytes *)0x1;
    guint rows = 9, width = 9;
    fail_unless(gst_script_query_event_parse(e, &rt, &text, &emb, &rows, &width, &image));
    fail_unless_equals_uint64(rt, 3 * GST_SECOND);
    fail_unless_equals_string(text, "a red car");
    fail_unless(emb == NULL && image == NULL && rows == 0 && width == 0);
    g_free(text);
    gst_event_unref(e);

    gfloat v[6] = {1, 2, 3, 4, 5, 6};
    GBytes *b = g_bytes_new(v, sizeof v);
    e = gst_script_query_event_new_embedding(GST_EVENT_CUSTOM_UPSTREAM, GST_CLOCK_TIME_NONE, b, 2,
                                             3);
    fail_unless(GST_EVENT_IS_UPSTREAM(e));
    fail_unless(gst_script_query_event_parse(e, &rt, NULL, &emb, &rows, &width, NULL));
    fail_unless_equals_uint64(rt, GST_CLOCK_TIME_NONE);
    fail_unless(g_bytes_equal(emb, b));
    fail_unless_equals_int(rows, 2);
    fail_unless_equals_int(width, 3);
    g_bytes_unref(emb);
    gst_event_unref(e);

    /* wrong sizes and wrong directions are refused */
    ASSERT_CRITICAL(
        e = gst_script_query_event_new_embedding(GST_EVENT_CUSTOM_DOWNSTREAM, 0, b, 4, 3));
    fail_unless(e == NULL);
    ASSERT_CRITICAL(e = gst_script_query_event_new_clear(GST_EVENT_CUSTOM_BOTH, 0));
    fail_unless(e == NULL);
    g_bytes_unref(b);

    e = gst_script_query_event_new_image(GST_EVENT_CUSTOM_DOWNSTREAM, 0, "/tmp/x.png");
    fail_unless(gst_script_query_event_parse(e, NULL, &text, NULL, NULL, NULL, &image));
    fail_unless(text == NULL);
    fail_unless_equals_string(image, "/tmp/x.png");
    g_free(image);
    gst_event_unref(e);

    e = gst_script_query_event_new_clear(GST_EVENT_CUSTOM_DOWNSTREAM, 0);
    fail_unless(gst_script_query_event_is(e));
    gst_event_unref(e);

    /* a hand-made structure with an embedding of the wrong size does not parse */
    GBytes *small = g_bytes_new(v, 8);
    GstStructure *s =
        gst_structure_new(GST_SCRIPT_QUERY_EVENT_NAME, "embedding", G_TYPE_BYTES, small, "rows",
                          G_TYPE_UINT, 1u, "width", G_TYPE_UINT, 3u, NULL);
    g_bytes_unref(small);
    e = gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
    fail_unless(gst_script_query_event_is(e));
    fail_if(gst_script_query_event_parse(e, NULL, NULL, NULL, NULL, NULL, NULL));
    gst_event_unref(e);
    /* other events are not queries */
    e = gst_event_new_eos();
    fail_if(gst_script_query_event_is(e));
    fail_if(gst_script_packet_event_is(e));
    gst_event_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_packet_event_roundtrip) {
    GstScriptPacket p, q;
    gst_script_packet_init(&p);
    gst_script_packet_init(&q);
    p.kind = GST_SCRIPT_PACKET_KIND_WINDOW;
    p.window_id = 4;
    p.pts_first = 10;
    p.pts_last = 20;
    p.frame_first = 1;
    p.frame_last = 2;
    p.budget = 3;
    p.count = 2;
    p.grid_h = p.grid_w = 24;
    p.window_frames = 16;
    p.hop_frames = 8;
    p.temporal_tau = 0.9f;
    p.stream_name = g_intern_string("cam0");
    GstBuffer *tok = float_buffer(2 * 5, 0.0f);
    GstBuffer *prov = gst_buffer_new_allocate(NULL, 2 * 6 * sizeof(gint64), NULL);
    gsize td[2] = {2, 5}, pd[2] = {2, 6};
    fail_unless(gst_script_tensor_set(&p.tokens, GST_SCRIPT_TENSOR_ID_PACKET_TOKENS,
                                      GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, tok, 2, td));
    fail_unless(gst_script_tensor_set(&p.provenance, GST_SCRIPT_TENSOR_ID_PROVENANCE,
                                      GST_SCRIPT_TENSOR_DATA_TYPE_INT64, prov, 2, pd));
    gst_buffer_unref(tok);
    gst_buffer_unref(prov);
    GstEvent *e = gst_script_packet_event_new(&p);
    fail_unless(gst_script_packet_event_is(e));
    fail_if(gst_script_query_event_is(e));
    fail_unless(gst_script_packet_event_parse(e, &q));
    fail_unless_equals_int(q.kind, GST_SCRIPT_PACKET_KIND_WINDOW);
    fail_unless_equals_uint64(q.window_id, 4);
    fail_unless_equals_int(q.count, 2);
    fail_unless_equals_int((gint)gst_script_packet_width(&q), 5);
    fail_unless_equals_int(q.hop_frames, 8);
    fail_unless_equals_string(q.stream_name, "cam0");
    fail_unless(q.tokens.data == p.tokens.data);
    gst_event_unref(e);
    gst_script_packet_clear(&p);
    gst_script_packet_clear(&q);
}
GST_END_TEST;

static Suite *meta_suite(void) {
    Suite *s = suite_create("gst-meta");
    TCase *tc = tcase_create("meta");
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_tensor_set_checks_sizes);
    tcase_add_test(tc, test_meta_add_and_read);
    tcase_add_test(tc, test_meta_copy_and_region);
    tcase_add_test(tc, test_meta_token_rect);
    tcase_add_test(tc, test_meta_survives_videoconvert_tee_queue);
    tcase_add_test(tc, test_meta_rescaled_by_videoscale);
    tcase_add_test(tc, test_query_event_roundtrip);
    tcase_add_test(tc, test_packet_event_roundtrip);
    return s;
}

GST_CHECK_MAIN(meta);
