/* Encode pools (gst-plugin/encodepool.h) without GStreamer: streams on threads share one pool and
 * get the results of their own sp_encode, in their order, while their frames are batched; equal
 * settings share and others do not; a bad frame fails alone; releasing while other streams have
 * frames queued neither hangs nor loses them. The patch encoder always, and the small CLIP model of
 * tests/encode/gen_clip.py when its fixture folder is given (argv[1]). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "encodepool.h"

static const char *fixtures; /* NULL: no CLIP fixtures */

enum { STREAMS = 4, FRAMES = 6, W = 96, H = 72 };

/* Frame k of stream s: its own picture, so that a result given to the wrong frame shows. */
static uint8_t *paint(int s, int k) {
    uint8_t *px = malloc((size_t)W * H * 4);
    assert_non_null(px);
    uint32_t state = 2654435761u * (uint32_t)(s * 97 + k + 1);
    for (size_t i = 0; i < (size_t)W * H * 4; i++) {
        state = state * 1664525u + 1013904223u;
        px[i] = (uint8_t)((state >> 24) / 2 + ((i / 4) % W) + 16 * s + 8 * k);
    }
    return px;
}

static sp_image view(const uint8_t *px) {
    return (sp_image){px, W, H, (size_t)W * 4, SP_PIXFMT_RGBX};
}

static void config_for(EncodePoolConfig *c, int clip, guint max_batch, guint window_us) {
    encode_pool_config_init(c);
    static char model[4096];
    if (clip) {
        snprintf(model, sizeof model, "%s/clip_f32", fixtures);
        c->encoder.kind = SP_ENCODER_CLIP;
        c->encoder.model_dir = model;
    } else {
        c->encoder.image_size = 112;
    }
    c->max_batch = max_batch;
    c->batch_window_us = window_us;
}

static double rel_error(const float *got, const float *want, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)got[i] - want[i]));
        scale = fmax(scale, fabs((double)want[i]));
    }
    return diff / (scale > 0 ? scale : 1);
}

/* ---- streams on threads ---- */

typedef struct stream {
    EncodePool *pool;
    int index;
    int bad_every; /* > 0: every bad_every-th frame has an invalid stride */
    sp_encoding got[FRAMES];
    sp_status status[FRAMES];
    char message[FRAMES][SP_ERROR_MAX];
    int release_after; /* release the pool after its last frame */
    int frames;        /* frames it sends (0: FRAMES) */
} stream;

static int frames_of(const stream *s) {
    return s->frames > 0 ? s->frames : FRAMES;
}

static gpointer stream_main(gpointer data) {
    stream *s = data;
    for (int k = 0; k < frames_of(s); k++) {
        uint8_t *px = paint(s->index, k);
        sp_image img = view(px);
        if (s->bad_every > 0 && k % s->bad_every == 0)
            img.stride = 3; /* less than a row */
        sp_encoding_init(&s->got[k]);
        sp_error err;
        sp_error_clear(&err);
        s->status[k] = encode_pool_encode(s->pool, &img, &s->got[k], &err);
        snprintf(s->message[k], sizeof s->message[k], "%s", err.message);
        free(px);
    }
    if (s->release_after)
        encode_pool_release(s->pool);
    return NULL;
}

/* The reference: each frame through its own sp_encode. */
static void expect_own_encode(const sp_encoder *enc, stream *s, double tolerance) {
    sp_encode_ctx *ctx;
    sp_error err;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_encoding ref;
    sp_encoding_init(&ref);
    for (int k = 0; k < frames_of(s); k++) {
        if (s->bad_every > 0 && k % s->bad_every == 0)
            continue;
        uint8_t *px = paint(s->index, k);
        sp_image img = view(px);
        assert_int_equal(sp_encode(ctx, &img, &ref, &err), SP_OK);
        if (s->status[k] != SP_OK)
            fail_msg("stream %d frame %d: %s", s->index, k, s->message[k]);
        assert_int_equal(s->got[k].n, ref.n);
        double e = rel_error(s->got[k].tokens, ref.tokens, ref.n * ref.d);
        if (tolerance == 0 ? memcmp(s->got[k].tokens, ref.tokens, ref.n * ref.d * 4) != 0
                           : !(e < tolerance))
            fail_msg("stream %d frame %d: tokens differ from its own encode (relative %.3g)",
                     s->index, k, e);
        e = rel_error(s->got[k].pooled, ref.pooled, ref.e);
        if (!(e <= tolerance))
            fail_msg("stream %d frame %d: pooled differs (relative %.3g)", s->index, k, e);
        free(px);
    }
    sp_encoding_free(&ref);
    sp_encode_ctx_free(ctx);
}

static void run_streams(stream *st, int n) {
    GThread *t[STREAMS];
    for (int i = 0; i < n; i++)
        t[i] = g_thread_new("stream", stream_main, &st[i]);
    for (int i = 0; i < n; i++)
        g_thread_join(t[i]);
}

static void free_streams(stream *st, int n) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < FRAMES; k++)
            sp_encoding_free(&st[i].got[k]);
}

static void check_sharing(int clip, double tolerance) {
    EncodePoolConfig c;
    /* a long window, so that the streams' frames surely meet in passes */
    config_for(&c, clip, STREAMS, 200000);
    stream st[STREAMS];
    memset(st, 0, sizeof st);
    sp_error err;
    for (int i = 0; i < STREAMS; i++) {
        st[i].index = i;
        if (encode_pool_acquire(&c, &st[i].pool, &err))
            fail_msg("acquire: %s", err.message);
        assert_ptr_equal(st[i].pool, st[0].pool);
    }
    run_streams(st, STREAMS);
    EncodePoolStats stats;
    encode_pool_get_stats(st[0].pool, &stats);
    assert_int_equal(stats.streams, STREAMS);
    assert_int_equal(stats.frames, STREAMS * FRAMES);
    assert_true(stats.passes < stats.frames); /* frames were batched */
    assert_true(stats.largest >= 2 && stats.largest <= STREAMS);
    for (int i = 0; i < STREAMS; i++)
        expect_own_encode(encode_pool_encoder(st[0].pool), &st[i], tolerance);
    printf("%s: %llu frames of %d streams in %llu passes, at most %u a pass\n",
           clip ? "clip" : "patch", (unsigned long long)stats.frames, STREAMS,
           (unsigned long long)stats.passes, stats.largest);
    for (int i = 0; i < STREAMS; i++)
        encode_pool_release(st[i].pool);
    free_streams(st, STREAMS);
}

static void test_streams_sharing_a_patch_pool_get_their_own_frames_bit_for_bit(void **state) {
    (void)state;
    check_sharing(0, 0);
}

static void test_streams_sharing_a_clip_pool_get_their_own_frames_in_order(void **state) {
    (void)state;
    if (!fixtures)
        skip();
    check_sharing(1, 1e-5);
}

static void test_equal_settings_share_and_other_settings_do_not(void **state) {
    (void)state;
    EncodePoolConfig c;
    config_for(&c, 0, 8, 5000);
    EncodePool *a, *b, *other_size, *other_batch, *other_window;
    sp_error err;
    assert_int_equal(encode_pool_acquire(&c, &a, &err), SP_OK);
    assert_int_equal(encode_pool_acquire(&c, &b, &err), SP_OK);
    assert_ptr_equal(a, b);
    assert_ptr_equal(encode_pool_encoder(a), encode_pool_encoder(b));
    c.encoder.image_size = 56;
    assert_int_equal(encode_pool_acquire(&c, &other_size, &err), SP_OK);
    c.encoder.image_size = 112;
    c.max_batch = 2;
    assert_int_equal(encode_pool_acquire(&c, &other_batch, &err), SP_OK);
    c.max_batch = 8;
    c.batch_window_us = 0;
    assert_int_equal(encode_pool_acquire(&c, &other_window, &err), SP_OK);
    assert_ptr_not_equal(other_size, a);
    assert_ptr_not_equal(other_batch, a);
    assert_ptr_not_equal(other_window, a);
    EncodePoolStats s;
    encode_pool_get_stats(a, &s);
    assert_int_equal(s.streams, 2);
    /* a private pool is never handed to anyone else */
    EncodePool *mine;
    c.batch_window_us = 5000;
    assert_int_equal(encode_pool_new(&c, &mine, &err), SP_OK);
    assert_ptr_not_equal(mine, a);
    assert_ptr_equal(encode_pool_ref(mine), mine);
    encode_pool_get_stats(mine, &s);
    assert_int_equal(s.streams, 2);
    encode_pool_release(mine);
    encode_pool_release(mine);
    /* a model from memory has no settings to share by */
    sp_model_blobs blobs = {0};
    EncodePool *from_memory = (EncodePool *)&c;
    c.blobs = &blobs;
    assert_int_equal(encode_pool_acquire(&c, &from_memory, &err), SP_ERR_INVALID);
    assert_null(from_memory);
    assert_non_null(strstr(err.message, "encode_pool_new"));
    c.blobs = NULL;
    encode_pool_release(other_size);
    encode_pool_release(other_batch);
    encode_pool_release(other_window);
    encode_pool_release(b);
    encode_pool_get_stats(a, &s);
    assert_int_equal(s.streams, 1);
    encode_pool_release(a);
}

static void test_bad_settings_and_models_fail_with_a_clear_error(void **state) {
    (void)state;
    EncodePoolConfig c;
    config_for(&c, 0, 0, 5000);
    EncodePool *p = (EncodePool *)&c;
    sp_error err;
    assert_int_equal(encode_pool_acquire(&c, &p, &err), SP_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err.message, "max-batch 0 is outside [1, 64]"));
    c.max_batch = 65;
    assert_int_equal(encode_pool_acquire(&c, &p, &err), SP_ERR_INVALID);
    c.max_batch = 8;
    c.batch_window_us = 2000000;
    assert_int_equal(encode_pool_acquire(&c, &p, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "batch window"));
    c.batch_window_us = 5000;
    c.encoder.kind = SP_ENCODER_CLIP;
    c.encoder.model_dir = "/nonexistent/model";
    assert_int_not_equal(encode_pool_acquire(&c, &p, &err), SP_OK);
    assert_null(p);
    assert_non_null(strstr(err.message, "/nonexistent/model"));
    /* the failed open left nothing registered: the next acquire opens afresh */
    c.encoder.kind = SP_ENCODER_PATCH;
    c.encoder.model_dir = NULL;
    assert_int_equal(encode_pool_acquire(&c, &p, &err), SP_OK);
    EncodePoolStats s;
    encode_pool_get_stats(p, &s);
    assert_int_equal(s.streams, 1);
    assert_int_equal(encode_pool_encode(p, NULL, NULL, &err), SP_ERR_INVALID);
    encode_pool_release(p);
    encode_pool_release(NULL);
}

/* Stream 0 sends a bad frame every other frame; its neighbours in the same passes are encoded. */
static void test_a_bad_frame_fails_alone_and_the_others_of_its_pass_are_encoded(void **state) {
    (void)state;
    EncodePoolConfig c;
    config_for(&c, 0, STREAMS, 200000);
    stream st[3];
    memset(st, 0, sizeof st);
    sp_error err;
    for (int i = 0; i < 3; i++) {
        st[i].index = i;
        assert_int_equal(encode_pool_acquire(&c, &st[i].pool, &err), SP_OK);
    }
    st[0].bad_every = 2;
    run_streams(st, 3);
    for (int k = 0; k < FRAMES; k += 2) {
        assert_int_equal(st[0].status[k], SP_ERR_INVALID);
        assert_non_null(strstr(st[0].message[k], "stride"));
        assert_int_equal(st[0].got[k].n, 0);
    }
    EncodePoolStats stats;
    encode_pool_get_stats(st[0].pool, &stats);
    assert_true(stats.largest >= 2);
    for (int i = 0; i < 3; i++)
        expect_own_encode(encode_pool_encoder(st[0].pool), &st[i], 0);
    for (int i = 0; i < 3; i++)
        encode_pool_release(st[i].pool);
    free_streams(st, 3);
}

/* Streams leave one after the other, each right after its last frame, while the others still have
 * frames to encode; a stream that waits in a pass for a partner that leaves is not held up for
 * the whole window; the last release stops the worker. */
static void test_releasing_while_frames_are_queued_neither_hangs_nor_loses_frames(void **state) {
    (void)state;
    EncodePoolConfig c;
    config_for(&c, 0, STREAMS, ENCODE_POOL_MAX_WINDOW_US);
    stream st[STREAMS];
    memset(st, 0, sizeof st);
    sp_error err;
    EncodePool *idle; /* holds the pool, never sends a frame */
    assert_int_equal(encode_pool_acquire(&c, &idle, &err), SP_OK);
    for (int i = 0; i < STREAMS; i++) {
        st[i].index = i;
        st[i].release_after = 1;
        st[i].frames = FRAMES - i; /* streams leave while others still send */
        assert_int_equal(encode_pool_acquire(&c, &st[i].pool, &err), SP_OK);
    }
    sp_encoder *ref_enc; /* the pool is gone when the streams have left */
    assert_int_equal(sp_encoder_open(&c.encoder, &ref_enc, &err), SP_OK);
    GThread *t[STREAMS];
    for (int i = 0; i < STREAMS; i++)
        t[i] = g_thread_new("stream", stream_main, &st[i]);
    g_usleep(100000);
    gint64 left = g_get_monotonic_time();
    encode_pool_release(idle); /* the passes stop waiting for it */
    for (int i = 0; i < STREAMS; i++)
        g_thread_join(t[i]);
    gint64 took_us = g_get_monotonic_time() - left;
    /* The first pass waited for `idle` (a one second window) only until it left, and the later
     * passes for the streams that remain: without the wake-up on release the first pass alone
     * would take the rest of the window (900 ms here), against milliseconds of encoding. */
    if (took_us > ENCODE_POOL_MAX_WINDOW_US * 8 / 10)
        fail_msg("the streams took %.2f s after the idle stream left", took_us / 1e6);
    for (int i = 0; i < STREAMS; i++)
        expect_own_encode(ref_enc, &st[i], 0);
    sp_encoder_free(ref_enc);
    free_streams(st, STREAMS);
}

/* A stream whose input ended says so: the other's passes stop waiting for it (a one second
 * window here, against milliseconds of encoding), and wait again once it is back. */
static void test_an_idle_stream_is_not_waited_for(void **state) {
    (void)state;
    EncodePoolConfig c;
    config_for(&c, 0, STREAMS, ENCODE_POOL_MAX_WINDOW_US);
    EncodePool *ended, *busy;
    sp_error err;
    assert_int_equal(encode_pool_acquire(&c, &ended, &err), SP_OK);
    assert_int_equal(encode_pool_acquire(&c, &busy, &err), SP_OK);
    encode_pool_set_idle(ended, TRUE);
    EncodePoolStats s;
    encode_pool_get_stats(busy, &s);
    assert_int_equal(s.idle, 1);
    uint8_t *px = paint(0, 0);
    sp_image img = view(px);
    sp_encoding out;
    sp_encoding_init(&out);
    gint64 t0 = g_get_monotonic_time();
    for (int k = 0; k < 3; k++)
        assert_int_equal(encode_pool_encode(busy, &img, &out, &err), SP_OK);
    gint64 took_us = g_get_monotonic_time() - t0;
    /* waiting for the idle stream would take a full window per frame: 3 s */
    if (took_us > ENCODE_POOL_MAX_WINDOW_US)
        fail_msg("3 frames took %.2f s with the other stream idle", took_us / 1e6);
    encode_pool_set_idle(ended, FALSE);
    encode_pool_get_stats(busy, &s);
    assert_int_equal(s.idle, 0);
    encode_pool_release(ended);
    encode_pool_release(busy);
    sp_encoding_free(&out);
    free(px);
}

int main(int argc, char **argv) {
    fixtures = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_sharing_a_patch_pool_get_their_own_frames_bit_for_bit),
        cmocka_unit_test(test_streams_sharing_a_clip_pool_get_their_own_frames_in_order),
        cmocka_unit_test(test_equal_settings_share_and_other_settings_do_not),
        cmocka_unit_test(test_bad_settings_and_models_fail_with_a_clear_error),
        cmocka_unit_test(test_a_bad_frame_fails_alone_and_the_others_of_its_pass_are_encoded),
        cmocka_unit_test(test_releasing_while_frames_are_queued_neither_hangs_nor_loses_frames),
        cmocka_unit_test(test_an_idle_stream_is_not_waited_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
