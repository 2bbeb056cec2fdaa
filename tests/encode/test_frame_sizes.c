/* Frames of any size through the encoders' fits: odd widths and heights (854 x 480, 641 x 361,
 * 642 x 362, down to 1 x 1 and single rows or columns), for the patch encoder and, with the
 * fixtures of gen_clip.py (argv[1]), a small CLIP model, in each fit (letterbox, crop, stretch).
 * Each frame gives the encoder's n tokens, all finite, the same whatever its row layout (tight
 * RGB, rows padded to 4 bytes as GStreamer and FFmpeg lay them out, BGRx), and a preprocessing
 * plan that stays inside the frame and the model input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scriptprune/encode.h"

static const char *clip_model; /* the clip_f32 fixture folder, or NULL without fixtures */

static const uint32_t sizes[][2] = {{854, 480}, {641, 361}, {642, 362}, {361, 641},
                                    {3, 2},     {1, 1},     {1, 641},   {641, 1}};
static const sp_fit fits[] = {SP_FIT_LETTERBOX, SP_FIT_CROP, SP_FIT_STRETCH};

/* A busy picture (gradients and a hash), the same pixel values in every layout. */
static void pixel(uint32_t x, uint32_t y, uint8_t rgb[3]) {
    uint32_t n = (x * 2654435761u) ^ (y * 2246822519u);
    rgb[0] = (uint8_t)(x * 7 + (n >> 28));
    rgb[1] = (uint8_t)(y * 5 + ((n >> 20) & 15));
    rgb[2] = (uint8_t)((x + y) * 3 + ((n >> 12) & 15));
}

/* w x h in format f (RGB or BGRX) with rows of `stride` bytes; padding bytes are junk. */
static uint8_t *make_image(uint32_t w, uint32_t h, sp_pixfmt f, size_t stride, sp_image *img) {
    size_t bpp = sp_pixfmt_bpp(f);
    uint8_t *buf = malloc(stride * h);
    assert_non_null(buf);
    memset(buf, 0xa7, stride * h);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t rgb[3], *p = buf + y * stride + x * bpp;
            pixel(x, y, rgb);
            if (f == SP_PIXFMT_RGB) {
                p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
            } else {
                p[0] = rgb[2], p[1] = rgb[1], p[2] = rgb[0], p[3] = 0x3c;
            }
        }
    *img = (sp_image){buf, w, h, stride, f};
    return buf;
}

static sp_encoder *open_encoder(const char *model, sp_fit fit) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    if (model) {
        c.kind = SP_ENCODER_CLIP;
        c.model_dir = model;
    }
    c.fit = fit;
    sp_encoder *enc = NULL;
    sp_error err;
    if (sp_encoder_open(&c, &enc, &err))
        fail_msg("open %s: %s", model ? model : "patch", err.message);
    return enc;
}

static void check_plan(const sp_encoder_info *info, const sp_preprocess *p, uint32_t w, uint32_t h,
                       const char *what) {
    double eps = 1e-9;
    uint32_t S = info->image_size, P = info->patch_size;
    if (p->src_x < -eps || p->src_y < -eps || p->src_w <= 0 || p->src_h <= 0 ||
        p->src_x + p->src_w > w + eps || p->src_y + p->src_h > h + eps)
        fail_msg("%s: source region %g,%g %gx%g leaves the %ux%u frame", what, p->src_x, p->src_y,
                 p->src_w, p->src_h, w, h);
    if (p->dst_w < 1 || p->dst_h < 1 || p->dst_x + p->dst_w > S || p->dst_y + p->dst_h > S)
        fail_msg("%s: landed region %u,%u %ux%u leaves the %u px input", what, p->dst_x, p->dst_y,
                 p->dst_w, p->dst_h, S);
    if (p->grid_w < 1 || p->grid_h < 1 || p->grid_x * P < p->dst_x || p->grid_y * P < p->dst_y ||
        (p->grid_x + p->grid_w) * P > p->dst_x + p->dst_w ||
        (p->grid_y + p->grid_h) * P > p->dst_y + p->dst_h)
        fail_msg("%s: content patches %u,%u %ux%u are not inside the landed region", what,
                 p->grid_x, p->grid_y, p->grid_w, p->grid_h);
    switch (p->fit) {
        case SP_FIT_LETTERBOX: {
            /* The whole frame, its longer side filling the input, the shorter one scaled alike
             * and snapped to whole patches (at least one), centred. */
            if (p->src_w != w || p->src_h != h)
                fail_msg("%s: letterbox does not use the whole frame", what);
            double exact_w = w >= h ? S : (double)S * w / h,
                   exact_h = h >= w ? S : (double)S * h / w;
            if (fabs(p->dst_w - exact_w) >= P || fabs(p->dst_h - exact_h) >= P ||
                p->dst_w % P != 0 || p->dst_h % P != 0)
                fail_msg("%s: %ux%u is not the frame's aspect snapped to %u px patches (%.1fx%.1f)",
                         what, p->dst_w, p->dst_h, P, exact_w, exact_h);
            assert_true(abs((int)(2 * p->dst_x + p->dst_w) - (int)S) <= (int)P);
            assert_true(abs((int)(2 * p->dst_y + p->dst_h) - (int)S) <= (int)P);
            break;
        }
        case SP_FIT_CROP: {
            /* The centred square of the shorter side. */
            double side = w < h ? w : h;
            assert_float_equal(p->src_w, side, 1e-9);
            assert_float_equal(p->src_h, side, 1e-9);
            assert_float_equal(p->src_x, (w - side) / 2, 1e-9);
            assert_float_equal(p->src_y, (h - side) / 2, 1e-9);
            break;
        }
        case SP_FIT_STRETCH:
            assert_float_equal(p->src_w, w, 1e-9);
            assert_float_equal(p->src_h, h, 1e-9);
            assert_int_equal(p->dst_w, S);
            assert_int_equal(p->dst_h, S);
            break;
        default:
            fail_msg("%s: unresolved fit %d", what, (int)p->fit);
    }
}

static void check_encoder(const char *model) {
    for (size_t f = 0; f < sizeof fits / sizeof fits[0]; f++) {
        sp_encoder *enc = open_encoder(model, fits[f]);
        sp_encoder_info info;
        sp_encoder_get_info(enc, &info);
        sp_encode_ctx *ctx = NULL;
        sp_error err;
        assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
        sp_encoding ref, r;
        sp_encoding_init(&ref);
        sp_encoding_init(&r);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint32_t w = sizes[s][0], h = sizes[s][1];
            char what[96];
            snprintf(what, sizeof what, "%s, fit %d, %ux%u", info.backend, (int)fits[f], w, h);
            sp_preprocess plan;
            sp_encoder_plan(enc, w, h, &plan);
            check_plan(&info, &plan, w, h, what);
            /* Tight RGB rows, rows padded to 4 bytes, and BGRx with extra padding. */
            const struct {
                sp_pixfmt f;
                size_t stride;
            } layouts[] = {{SP_PIXFMT_RGB, (size_t)w * 3},
                           {SP_PIXFMT_RGB, ((size_t)w * 3 + 3) & ~(size_t)3},
                           {SP_PIXFMT_BGRX, (size_t)w * 4 + 12}};
            for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
                sp_image img;
                uint8_t *buf = make_image(w, h, layouts[l].f, layouts[l].stride, &img);
                sp_encoding *out = l == 0 ? &ref : &r;
                if (sp_encode(ctx, &img, out, &err) != SP_OK)
                    fail_msg("%s: %s", what, err.message);
                free(buf);
                assert_int_equal(out->n, (size_t)out->grid_h * out->grid_w);
                assert_int_equal(out->n, info.n);
                assert_int_equal(out->pre.grid_w, plan.grid_w);
                assert_int_equal(out->pre.dst_h, plan.dst_h);
                for (size_t i = 0; i < out->n * out->d; i++)
                    if (!isfinite(out->tokens[i]))
                        fail_msg("%s: token value %zu is %g", what, i, out->tokens[i]);
                if (l > 0 && memcmp(ref.tokens, r.tokens, ref.n * ref.d * sizeof(float)) != 0)
                    fail_msg("%s: %s rows of %zu bytes give other tokens than tight RGB", what,
                             sp_pixfmt_name(layouts[l].f), layouts[l].stride);
            }
        }
        sp_encoding_free(&ref);
        sp_encoding_free(&r);
        sp_encode_ctx_free(ctx);
        sp_encoder_free(enc);
    }
}

static void test_patch_encoder_takes_any_frame_size_in_every_fit(void **state) {
    (void)state;
    check_encoder(NULL);
}

static void test_clip_encoder_takes_any_frame_size_in_every_fit(void **state) {
    (void)state;
    if (!clip_model)
        skip();
    check_encoder(clip_model);
}

int main(int argc, char **argv) {
    char path[4096];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s/clip_f32", argv[1]);
        clip_model = path;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_encoder_takes_any_frame_size_in_every_fit),
        cmocka_unit_test(test_clip_encoder_takes_any_frame_size_in_every_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
