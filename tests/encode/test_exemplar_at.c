/* Tests of sp_encode_exemplar_at (an exemplar encoded at the scale it has in the footage) with
 * the built-in patch encoder: a crop of a frame matches the frame's own cells better at the
 * frame's scale than fitted to the input; its rows are the cells wholly inside it (mean: their
 * mean); pooled mode, an unknown frame size and an exemplar larger than the frame give
 * sp_encode_exemplar's rows; an exemplar smaller than a cell gives one row; bad input is refused
 * with a message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scriptprune/encode.h"

static uint64_t next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    *s = x;
    return x;
}

/* A w x h RGB picture whose parts differ at several scales: random colours in blocks of 3, 7 and
 * 17 pixels added up, so a cell's texture depends on the scale it is seen at. */
static uint8_t *texture(uint32_t w, uint32_t h, uint64_t seed) {
    static const uint32_t sides[3] = {3, 7, 17};
    uint8_t *pix = malloc((size_t)w * h * 3);
    assert_non_null(pix);
    memset(pix, 0, (size_t)w * h * 3);
    for (int k = 0; k < 3; k++) {
        uint32_t s = sides[k], bw = (w + s - 1) / s, bh = (h + s - 1) / s;
        uint8_t *lv = malloc((size_t)bw * bh * 3);
        assert_non_null(lv);
        uint64_t rng = seed + 977u * (uint64_t)k;
        for (size_t i = 0; i < (size_t)bw * bh * 3; i++)
            lv[i] = (uint8_t)(next(&rng) % 85);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    pix[((size_t)y * w + x) * 3 + c] += lv[((size_t)(y / s) * bw + x / s) * 3 + c];
        free(lv);
    }
    return pix;
}

typedef struct rig {
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
} rig;

static void rig_open(rig *g) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    assert_int_equal(sp_encoder_open(&c, &g->enc, &g->err), SP_OK);
    assert_int_equal(sp_encode_ctx_new(g->enc, &g->ctx, &g->err), SP_OK);
}

static void rig_close(rig *g) {
    sp_encode_ctx_free(g->ctx);
    sp_encoder_free(g->enc);
}

static sp_image view(uint8_t *pix, uint32_t w, uint32_t h) {
    return (sp_image){pix, w, h, (size_t)w * 3, SP_PIXFMT_RGB};
}

/* The crop (x, y, w, h) of a picture of width fw, copied. */
static uint8_t *crop(const uint8_t *pix, uint32_t fw, uint32_t x, uint32_t y, uint32_t w,
                     uint32_t h) {
    uint8_t *out = malloc((size_t)w * h * 3);
    assert_non_null(out);
    for (uint32_t r = 0; r < h; r++)
        memcpy(out + (size_t)r * w * 3, pix + ((size_t)(y + r) * fw + x) * 3, (size_t)w * 3);
    return out;
}

static float cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return (float)(ab / sqrt(aa * bb + 1e-30));
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median over the frame's cells wholly inside (x0, y0, w, h) (16-pixel cells of a 384-pixel
 * frame) of the closest exemplar row's cosine. */
static float median_match(const sp_encoding *f, const sp_query_rows *q, uint32_t x0, uint32_t y0,
                          uint32_t w, uint32_t h) {
    float best[576];
    size_t n = 0;
    for (uint32_t gy = 0; gy < 24; gy++)
        for (uint32_t gx = 0; gx < 24; gx++) {
            if (gx * 16 < x0 || gx * 16 + 16 > x0 + w || gy * 16 < y0 || gy * 16 + 16 > y0 + h)
                continue;
            float b = -1.0f;
            for (size_t j = 0; j < q->m; j++)
                b = fmaxf(
                    b, cosine(f->embed + ((size_t)gy * 24 + gx) * f->e, q->rows + j * q->e, q->e));
            best[n++] = b;
        }
    assert_true(n > 10);
    qsort(best, n, sizeof *best, cmp_float);
    return best[n / 2];
}

/* A 144 x 112 crop of a 384 x 384 frame: each of its parts is three times larger fitted to the
 * 336-pixel input than in the frame; at the frame's scale its rows match the frame's cells much
 * better, whether the crop's cells line up with the frame's (it lands where it was cut) or not
 * (half a cell off vertically). */
static void test_a_crop_matches_the_frames_cells_at_its_scale_better_than_fitted(void **state) {
    (void)state;
    rig g;
    rig_open(&g);
    uint8_t *frame = texture(384, 384, 11);
    sp_image fv = view(frame, 384, 384);
    sp_encoding f;
    sp_encoding_init(&f);
    assert_int_equal(sp_encode(g.ctx, &fv, &f, &g.err), SP_OK);
    static const uint32_t tops[2] = {136, 96}; /* the canvas puts the crop at (120, 136) */
    for (int k = 0; k < 2; k++) {
        uint8_t *ex = crop(frame, 384, 120, tops[k], 144, 112);
        sp_image ev = view(ex, 144, 112);
        sp_query_rows at, fitted;
        sp_query_rows_init(&at);
        sp_query_rows_init(&fitted);
        assert_int_equal(sp_encode_exemplar_at(g.ctx, &ev, SP_EXEMPLAR_ALL, 384, 384, &at, &g.err),
                         SP_OK);
        assert_int_equal(sp_encode_exemplar(g.ctx, &ev, SP_EXEMPLAR_ALL, &fitted, &g.err), SP_OK);
        float m_at = median_match(&f, &at, 120, tops[k], 144, 112);
        float m_fit = median_match(&f, &fitted, 120, tops[k], 144, 112);
        print_message("crop at (120, %u): closest exemplar row, median cosine: frame scale %.3f, "
                      "fitted %.3f\n",
                      tops[k], m_at, m_fit);
        assert_true(m_at >= (k == 0 ? 0.9f : 0.75f));
        assert_true(m_at >= m_fit + 0.08f);
        sp_query_rows_free(&at);
        sp_query_rows_free(&fitted);
        free(ex);
    }
    sp_encoding_free(&f);
    free(frame);
    rig_close(&g);
}

/* 336 x 336 frames have 14-pixel cells; a 70 x 42 exemplar lands at (133, 147): columns 10..13
 * and rows 11..12 are wholly inside it, 8 rows in raster order; mean mode gives their mean. */
static void test_rows_are_the_cells_wholly_inside_the_exemplar(void **state) {
    (void)state;
    rig g;
    rig_open(&g);
    uint8_t *ex = texture(70, 42, 5);
    sp_image ev = view(ex, 70, 42);
    sp_query_rows all, mean;
    sp_query_rows_init(&all);
    sp_query_rows_init(&mean);
    assert_int_equal(sp_encode_exemplar_at(g.ctx, &ev, SP_EXEMPLAR_ALL, 336, 336, &all, &g.err),
                     SP_OK);
    assert_int_equal(all.m, 8);
    assert_int_equal(all.e, 256);
    assert_int_equal(sp_encode_exemplar_at(g.ctx, &ev, SP_EXEMPLAR_MEAN, 336, 336, &mean, &g.err),
                     SP_OK);
    assert_int_equal(mean.m, 1);
    for (size_t j = 0; j < 256; j++) {
        double s = 0;
        for (size_t i = 0; i < 8; i++)
            s += all.rows[i * 256 + j];
        assert_float_equal(mean.rows[j], (float)(s / 8), 1e-5f);
    }
    /* the rows are the canvas's cells: encoded again by hand, the same numbers */
    uint8_t *canvas = malloc((size_t)336 * 336 * 3);
    assert_non_null(canvas);
    for (uint32_t y = 0; y < 336; y++)
        for (uint32_t x = 0; x < 336; x++) {
            uint32_t sy = y < 147 ? 0 : y - 147 > 41 ? 41 : y - 147;
            uint32_t sx = x < 133 ? 0 : x - 133 > 69 ? 69 : x - 133;
            memcpy(canvas + ((size_t)y * 336 + x) * 3, ex + ((size_t)sy * 70 + sx) * 3, 3);
        }
    sp_image cv = view(canvas, 336, 336);
    sp_encoding c;
    sp_encoding_init(&c);
    assert_int_equal(sp_encode(g.ctx, &cv, &c, &g.err), SP_OK);
    for (uint32_t gy = 11; gy <= 12; gy++)
        for (uint32_t gx = 10; gx <= 13; gx++)
            assert_memory_equal(all.rows + ((gy - 11) * 4 + (gx - 10)) * 256,
                                c.embed + ((size_t)gy * 24 + gx) * 256, 256 * sizeof(float));
    sp_encoding_free(&c);
    free(canvas);
    sp_query_rows_free(&all);
    sp_query_rows_free(&mean);
    free(ex);
    rig_close(&g);
}

static void assert_same_rows(const sp_query_rows *a, const sp_query_rows *b) {
    assert_int_equal(a->m, b->m);
    assert_int_equal(a->e, b->e);
    assert_memory_equal(a->rows, b->rows, a->m * a->e * sizeof(float));
}

/* Pooled mode, an unknown frame size and an exemplar larger than the frame: the fitted
 * encoding; an exemplar smaller than a cell: one row. */
static void test_fallbacks_are_the_fitted_exemplar_and_a_tiny_one_gives_one_row(void **state) {
    (void)state;
    rig g;
    rig_open(&g);
    uint8_t *ex = texture(200, 120, 7);
    sp_image ev = view(ex, 200, 120);
    static const struct {
        sp_exemplar mode;
        uint32_t fw, fh;
    } cases[] = {{SP_EXEMPLAR_POOLED, 640, 480},
                 {SP_EXEMPLAR_ALL, 0, 480},
                 {SP_EXEMPLAR_MEAN, 640, 0},
                 {SP_EXEMPLAR_ALL, 199, 480},
                 {SP_EXEMPLAR_ALL, 640, 119}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_query_rows a, b;
        sp_query_rows_init(&a);
        sp_query_rows_init(&b);
        assert_int_equal(
            sp_encode_exemplar_at(g.ctx, &ev, cases[i].mode, cases[i].fw, cases[i].fh, &a, &g.err),
            SP_OK);
        assert_int_equal(sp_encode_exemplar(g.ctx, &ev, cases[i].mode, &b, &g.err), SP_OK);
        assert_same_rows(&a, &b);
        sp_query_rows_free(&a);
        sp_query_rows_free(&b);
    }
    sp_image tiny = view(ex, 5, 5);
    tiny.stride = 200 * 3;
    sp_query_rows q;
    sp_query_rows_init(&q);
    assert_int_equal(sp_encode_exemplar_at(g.ctx, &tiny, SP_EXEMPLAR_ALL, 1280, 720, &q, &g.err),
                     SP_OK);
    assert_int_equal(q.m, 1);
    sp_query_rows_free(&q);
    free(ex);
    rig_close(&g);
}

static void test_bad_input_is_refused_with_a_message(void **state) {
    (void)state;
    rig g;
    rig_open(&g);
    uint8_t *ex = texture(40, 30, 3);
    sp_image ev = view(ex, 40, 30);
    sp_query_rows q;
    sp_query_rows_init(&q);
    assert_int_equal(sp_encode_exemplar_at(NULL, &ev, SP_EXEMPLAR_ALL, 64, 64, &q, &g.err),
                     SP_ERR_INVALID);
    assert_int_equal(sp_encode_exemplar_at(g.ctx, NULL, SP_EXEMPLAR_ALL, 64, 64, &q, &g.err),
                     SP_ERR_INVALID);
    assert_int_equal(sp_encode_exemplar_at(g.ctx, &ev, (sp_exemplar)9, 64, 64, &q, &g.err),
                     SP_ERR_INVALID);
    assert_non_null(strstr(g.err.message, "mode 9"));
    sp_image narrow = ev;
    narrow.stride = 40;
    assert_int_equal(sp_encode_exemplar_at(g.ctx, &narrow, SP_EXEMPLAR_ALL, 64, 64, &q, &g.err),
                     SP_ERR_INVALID);
    assert_non_null(strstr(g.err.message, "stride 40"));
    assert_int_equal(q.m, 0);
    sp_query_rows_free(&q);
    free(ex);
    rig_close(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_crop_matches_the_frames_cells_at_its_scale_better_than_fitted),
        cmocka_unit_test(test_rows_are_the_cells_wholly_inside_the_exemplar),
        cmocka_unit_test(test_fallbacks_are_the_fitted_exemplar_and_a_tiny_one_gives_one_row),
        cmocka_unit_test(test_bad_input_is_refused_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
