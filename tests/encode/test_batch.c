/* sp_encode_batch against sp_encode frame by frame: the small random-weight CLIP, SigLIP and LLaVA
 * folders of gen_clip.py (argv[1]) and the patch encoder, frames of different sizes and formats,
 * batches of 1 to 5, a context that grew and went back to single frames, bad arguments, and every
 * allocation failure of a context's growth. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "alloc.h"
#include "scriptprune/encode.h"

/* Same arithmetic per row; a BLAS may sum a product in another order for another row count. */
static const double TOLERANCE = 1e-5;
static const char *fixtures;
static double worst_seen;
static size_t bitwise_equal, compared;

enum { FRAMES = 5 };

typedef struct frame {
    uint8_t *px;
    sp_image img;
} frame;

/* Random pixels with some structure; sizes and formats differ between frames. */
static void make_frames(frame f[FRAMES]) {
    static const uint32_t size[FRAMES][2] = {{64, 48}, {50, 70}, {33, 33}, {96, 40}, {41, 57}};
    static const sp_pixfmt fmt[FRAMES] = {SP_PIXFMT_RGB, SP_PIXFMT_RGBX, SP_PIXFMT_BGR,
                                          SP_PIXFMT_XBGR, SP_PIXFMT_RGB};
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (int k = 0; k < FRAMES; k++) {
        uint32_t w = size[k][0], h = size[k][1];
        size_t bpp = sp_pixfmt_bpp(fmt[k]), stride = w * bpp + 3 * (size_t)k;
        f[k].px = malloc(stride * h);
        assert_non_null(f[k].px);
        for (size_t i = 0; i < stride * h; i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            f[k].px[i] = (uint8_t)((state >> 56) / 2 + (i / stride) * 2);
        }
        f[k].img = (sp_image){f[k].px, w, h, stride, fmt[k]};
    }
}

static void free_frames(frame f[FRAMES]) {
    for (int k = 0; k < FRAMES; k++)
        free(f[k].px);
}

static char *path_of(const char *name) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s/%s", fixtures, name);
    return buf;
}

static void expect_close(const float *got, const float *want, size_t n, const char *what) {
    assert_non_null(got);
    assert_non_null(want);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    double e = diff / (scale > 0 ? scale : 1);
    if (!(e < TOLERANCE))
        fail_msg("%s: relative error %.3g against sp_encode (tolerance %.0e)", what, e, TOLERANCE);
    worst_seen = e > worst_seen ? e : worst_seen;
    bitwise_equal += memcmp(got, want, n * sizeof *got) == 0;
    compared++;
}

/* Every field of a batched result against the frame's own encode. */
static void expect_same_encoding(const sp_encoding *got, const sp_encoding *want,
                                 const char *what) {
    assert_int_equal(got->n, want->n);
    assert_int_equal(got->d, want->d);
    assert_int_equal(got->e, want->e);
    assert_int_equal(got->grid_h, want->grid_h);
    assert_int_equal(got->grid_w, want->grid_w);
    assert_memory_equal(&got->pre, &want->pre, sizeof got->pre);
    assert_int_equal(got->embed == got->tokens, want->embed == want->tokens);
    assert_int_equal(got->cls == NULL, want->cls == NULL);
    char w[256];
    snprintf(w, sizeof w, "%s tokens", what);
    expect_close(got->tokens, want->tokens, got->n * got->d, w);
    if (got->embed != got->tokens) {
        snprintf(w, sizeof w, "%s embeddings", what);
        expect_close(got->embed, want->embed, got->n * got->e, w);
    }
    snprintf(w, sizeof w, "%s pooled", what);
    expect_close(got->pooled, want->pooled, got->e, w);
    if (got->cls) {
        snprintf(w, sizeof w, "%s class token", what);
        expect_close(got->cls, want->cls, got->d, w);
    }
}

/* Batches of 1, 2, 3 and 5 frames, then single frames again on the grown context. */
static void check_encoder(sp_encoder *enc, const char *name) {
    frame f[FRAMES];
    make_frames(f);
    sp_error err;
    sp_encode_ctx *one, *many;
    assert_int_equal(sp_encode_ctx_new(enc, &one, &err), SP_OK);
    assert_int_equal(sp_encode_ctx_new(enc, &many, &err), SP_OK);
    sp_encoding ref[FRAMES], got[FRAMES];
    sp_encoding *outs[FRAMES];
    sp_image imgs[FRAMES];
    for (int k = 0; k < FRAMES; k++) {
        sp_encoding_init(&ref[k]);
        sp_encoding_init(&got[k]);
        outs[k] = &got[k];
        imgs[k] = f[k].img;
        if (sp_encode(one, &f[k].img, &ref[k], &err))
            fail_msg("%s frame %d: %s", name, k, err.message);
    }
    static const size_t sizes[] = {1, 2, 3, 5};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t B = sizes[si];
        for (size_t at = 0; at + B <= FRAMES; at += B) {
            if (sp_encode_batch(many, imgs + at, B, outs + at, &err))
                fail_msg("%s batch of %zu: %s", name, B, err.message);
            for (size_t b = 0; b < B; b++) {
                char what[160];
                snprintf(what, sizeof what, "%s batch of %zu frame %zu", name, B, at + b);
                expect_same_encoding(&got[at + b], &ref[at + b], what);
            }
        }
    }
    /* the grown context still encodes single frames, and sp_encode is a batch of one */
    for (int k = 0; k < FRAMES; k++) {
        if (sp_encode(many, &f[k].img, &got[k], &err))
            fail_msg("%s single frame %d after batches: %s", name, k, err.message);
        assert_memory_equal(got[k].tokens, ref[k].tokens, ref[k].n * ref[k].d * sizeof(float));
    }
    for (int k = 0; k < FRAMES; k++) {
        sp_encoding_free(&ref[k]);
        sp_encoding_free(&got[k]);
    }
    sp_encode_ctx_free(one);
    sp_encode_ctx_free(many);
    free_frames(f);
}

static sp_encoder *open_clip(const char *dir, const char *text_model, uint32_t image_size) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.kind = SP_ENCODER_CLIP;
    char md[8192], tm[8192];
    snprintf(md, sizeof md, "%s", path_of(dir));
    c.model_dir = md;
    c.image_size = image_size;
    if (text_model) {
        snprintf(tm, sizeof tm, "%s", path_of(text_model));
        c.text_model_dir = tm;
    }
    sp_encoder *enc = NULL;
    sp_error err;
    if (sp_encoder_open(&c, &enc, &err))
        fail_msg("open %s: %s", dir, err.message);
    return enc;
}

static void test_clip_batch_equals_each_frame_encoded_alone(void **state) {
    (void)state;
    static const struct {
        const char *dir, *text_model;
        uint32_t image_size;
    } models[] = {
        {"clip_f32", NULL, 0},
        {"clip_f16_interp", NULL, 0},
        {"siglip_bf16", NULL, 0},
        {"clip_vision_only", NULL, 0},
        {"llava_f32", NULL, 0},
        {"llava_f32", "clip_f32", 0},
        {"llava_next_bf16_sharded", NULL, 0},
        {"llava_siglip_f32", NULL, 0},
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        sp_encoder *enc = open_clip(models[i].dir, models[i].text_model, models[i].image_size);
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", models[i].dir, models[i].text_model ? "+" : "",
                 models[i].text_model ? models[i].text_model : "");
        check_encoder(enc, name);
        sp_encoder_free(enc);
    }
    printf("compared %zu batched outputs with sp_encode: worst relative error %.2e, %zu of them "
           "bit for bit equal\n",
           compared, worst_seen, bitwise_equal);
}

static void test_patch_batch_is_bit_for_bit_each_frame(void **state) {
    (void)state;
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.image_size = 112;
    sp_encoder *enc;
    sp_error err;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_OK);
    size_t before = bitwise_equal, checked = compared;
    check_encoder(enc, "patch");
    assert_int_equal(bitwise_equal - before, compared - checked);
    sp_encoder_free(enc);
}

static void assert_message_contains(const sp_error *err, const char *needle) {
    if (!strstr(err->message, needle))
        fail_msg("message '%s' does not contain '%s'", err->message, needle);
}

static void test_batch_rejects_bad_arguments_and_leaves_no_result(void **state) {
    (void)state;
    sp_encoder *enc = open_clip("clip_f32", NULL, 0);
    frame f[FRAMES];
    make_frames(f);
    sp_encode_ctx *ctx;
    sp_error err;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_encoding r[3];
    sp_encoding *outs[3] = {&r[0], &r[1], &r[2]};
    sp_image imgs[3] = {f[0].img, f[1].img, f[2].img};
    for (int k = 0; k < 3; k++)
        sp_encoding_init(&r[k]);
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, outs, &err), SP_OK);
    assert_int_equal(r[2].n, r[0].n);

    assert_int_equal(sp_encode_batch(ctx, imgs, 0, outs, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "1 to 64 frames");
    sp_image many[SP_ENCODE_MAX_BATCH + 1];
    sp_encoding *many_outs[SP_ENCODE_MAX_BATCH + 1];
    for (int k = 0; k <= SP_ENCODE_MAX_BATCH; k++) {
        many[k] = f[0].img;
        many_outs[k] = &r[0];
    }
    assert_int_equal(sp_encode_batch(ctx, many, SP_ENCODE_MAX_BATCH + 1, many_outs, &err),
                     SP_ERR_INVALID);
    assert_message_contains(&err, "65 frames");
    assert_int_equal(sp_encode_batch(NULL, imgs, 3, outs, &err), SP_ERR_INVALID);
    assert_int_equal(sp_encode_batch(ctx, NULL, 3, outs, &err), SP_ERR_INVALID);
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, NULL, &err), SP_ERR_INVALID);
    sp_encoding *with_null[3] = {&r[0], NULL, &r[2]};
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, with_null, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "frame 1");

    /* one result for two frames would be overwritten */
    sp_encoding *shared[3] = {&r[0], &r[1], &r[0]};
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, shared, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "frames 0 and 2 share one result");

    /* an invalid frame fails the whole call before any work, named by its index, and no result
     * is left that a caller could take for this call's */
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, outs, &err), SP_OK);
    imgs[2].stride = 1;
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, outs, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "frame 2 of 3");
    for (int k = 0; k < 3; k++)
        assert_int_equal(r[k].n, 0);
    imgs[2] = f[2].img;
    imgs[1].format = (sp_pixfmt)99;
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, outs, &err), SP_ERR_UNSUPPORTED);
    assert_message_contains(&err, "frame 1 of 3");
    imgs[1] = f[1].img;
    assert_int_equal(sp_encode_batch(ctx, imgs, 3, outs, &err), SP_OK);

    for (int k = 0; k < 3; k++)
        sp_encoding_free(&r[k]);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    free_frames(f);
}

/* A context grows to a batch through allocations that may fail: each failure is SP_ERR_NOMEM and
 * the context keeps working at its old size. */
static void test_batch_growth_allocation_failures_leave_the_context_usable(void **state) {
    (void)state;
    sp_encoder *enc = open_clip("llava_f32", "clip_f32", 0);
    frame f[FRAMES];
    make_frames(f);
    sp_image imgs[FRAMES];
    sp_encoding r[FRAMES];
    sp_encoding *outs[FRAMES];
    for (int k = 0; k < FRAMES; k++) {
        imgs[k] = f[k].img;
        sp_encoding_init(&r[k]);
        outs[k] = &r[k];
    }
    sp_encoding ref;
    sp_encoding_init(&ref);
    int succeeded = 0;
    long n;
    for (n = 0; n < 500 && !succeeded; n++) {
        sp_encode_ctx *ctx = NULL;
        sp_error err;
        assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
        if (n == 0)
            assert_int_equal(sp_encode(ctx, &imgs[3], &ref, &err), SP_OK);
        sp_fault_fail_after(n);
        sp_status st = sp_encode_batch(ctx, imgs, FRAMES, outs, &err);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (st) {
            if (st != SP_ERR_NOMEM)
                fail_msg("allocation %ld: %s (%s)", n, sp_status_name(st), err.message);
            assert_true(injected > 0);
            for (int k = 0; k < FRAMES; k++)
                assert_int_equal(r[k].n, 0);
            /* still a working context for one frame */
            assert_int_equal(sp_encode(ctx, &imgs[3], &r[3], &err), SP_OK);
            assert_memory_equal(r[3].tokens, ref.tokens, ref.n * ref.d * sizeof(float));
        } else {
            assert_int_equal(injected, 0);
            succeeded = 1;
        }
        sp_encode_ctx_free(ctx);
    }
    assert_true(succeeded);
    assert_true(n > 5);
    for (int k = 0; k < FRAMES; k++)
        sp_encoding_free(&r[k]);
    sp_encoding_free(&ref);
    sp_encoder_free(enc);
    free_frames(f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test-encode-batch FIXTURE_DIR (made by gen_clip.py)\n");
        return 2;
    }
    fixtures = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_batch_equals_each_frame_encoded_alone),
        cmocka_unit_test(test_patch_batch_is_bit_for_bit_each_frame),
        cmocka_unit_test(test_batch_rejects_bad_arguments_and_leaves_no_result),
        cmocka_unit_test(test_batch_growth_allocation_failures_leave_the_context_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
