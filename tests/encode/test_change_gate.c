/* Tests of the change gate before the encoder: the first frame is always encoded, an unchanged
 * frame is skipped, the threshold is in 8-bit levels and compared against the last ENCODED frame
 * (a slow drift adds up), max_skip forces an encode, size changes and time going backwards reset
 * it, odd frame sizes, strides and pixel formats work, bad input is refused with a message, and
 * every allocation failure is reported. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "scriptprune/change_gate.h"
#include "scriptprune/encode.h"

#define S_NS INT64_C(1000000000)

/* A w x h RGB frame (stride = w * 3 + pad) of one value v, with an optional square of value sq
 * at (sx, sy), side side. */
typedef struct frame {
    uint8_t *data;
    sp_image img;
} frame;

static void frame_make(frame *f, uint32_t w, uint32_t h, size_t pad, sp_pixfmt fmt) {
    size_t bpp = sp_pixfmt_bpp(fmt);
    size_t stride = w * bpp + pad;
    f->data = malloc(stride * h);
    assert_non_null(f->data);
    memset(f->data, 0, stride * h);
    f->img = (sp_image){f->data, w, h, stride, fmt};
}

static void frame_fill(frame *f, uint8_t v) {
    size_t bpp = sp_pixfmt_bpp(f->img.format);
    for (uint32_t y = 0; y < f->img.height; y++)
        memset(f->data + y * f->img.stride, v, f->img.width * bpp);
}

static void frame_square(frame *f, uint32_t sx, uint32_t sy, uint32_t side, uint8_t v) {
    size_t bpp = sp_pixfmt_bpp(f->img.format);
    for (uint32_t y = sy; y < sy + side && y < f->img.height; y++)
        for (uint32_t x = sx; x < sx + side && x < f->img.width; x++)
            memset(f->data + y * f->img.stride + x * bpp, v, bpp);
}

/* Deterministic noise of +-amp levels on every byte of the picture (xorshift). */
static void frame_noise(frame *f, uint8_t base, int amp, uint64_t *state) {
    size_t bpp = sp_pixfmt_bpp(f->img.format);
    for (uint32_t y = 0; y < f->img.height; y++)
        for (size_t x = 0; x < f->img.width * bpp; x++) {
            uint64_t s = *state;
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            *state = s;
            int v = base + (int)(s % (uint64_t)(2 * amp + 1)) - amp;
            f->data[y * f->img.stride + x] = (uint8_t)v;
        }
}

static sp_change_gate *gate_new(float threshold, double max_skip_s) {
    sp_change_gate_params p;
    sp_change_gate_params_init(&p);
    p.threshold = threshold;
    p.max_skip_ns = (int64_t)(max_skip_s * 1e9);
    sp_change_gate *g = NULL;
    sp_error err;
    assert_int_equal(sp_change_gate_new(&p, &g, &err), SP_OK);
    return g;
}

static sp_gate_verdict test_at(sp_change_gate *g, const frame *f, int64_t pts, float *change) {
    sp_gate_verdict v = SP_GATE_SKIP;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(sp_change_gate_test(g, &f->img, pts, &v, change, &err), SP_OK);
    return v;
}

static void first_frame_is_always_encoded(void **state) {
    (void)state;
    sp_change_gate *g = gate_new(255.0f, 1e6);
    frame f;
    frame_make(&f, 64, 48, 0, SP_PIXFMT_RGB);
    frame_fill(&f, 10);
    assert_int_equal(test_at(g, &f, 0, NULL), SP_GATE_FIRST);
    assert_int_equal(test_at(g, &f, S_NS, NULL), SP_GATE_SKIP);
    /* After a reset, the next frame is a first frame again. */
    sp_change_gate_reset(g);
    assert_int_equal(test_at(g, &f, 2 * S_NS, NULL), SP_GATE_FIRST);
    sp_change_gate_stats st;
    sp_change_gate_get_stats(g, &st);
    assert_int_equal(st.encoded, 2);
    assert_int_equal(st.skipped, 1);
    sp_change_gate_free(g);
    free(f.data);
}

static void unchanged_frames_are_skipped(void **state) {
    (void)state;
    sp_change_gate *g = gate_new(2.0f, 10.0);
    frame f;
    frame_make(&f, 320, 240, 0, SP_PIXFMT_RGB);
    frame_fill(&f, 100);
    assert_int_equal(test_at(g, &f, 0, NULL), SP_GATE_FIRST);
    for (int i = 1; i < 9; i++) {
        float c = -1.0f;
        assert_int_equal(test_at(g, &f, i * S_NS, &c), SP_GATE_SKIP);
        assert_true(c == 0.0f);
    }
    sp_change_gate_stats st;
    sp_change_gate_get_stats(g, &st);
    assert_int_equal(st.encoded, 1);
    assert_int_equal(st.skipped, 8);
    sp_change_gate_free(g);
    free(f.data);
}

/* A uniform step of k levels changes every cell by exactly k: the threshold decides, strictly. */
static void threshold_is_in_levels(void **state) {
    (void)state;
    frame f;
    frame_make(&f, 160, 120, 0, SP_PIXFMT_RGB);
    float thresholds[] = {2.0f, 3.0f, 3.5f};
    sp_gate_verdict want[] = {SP_GATE_CHANGED, SP_GATE_SKIP, SP_GATE_SKIP};
    for (size_t i = 0; i < 3; i++) {
        sp_change_gate *g = gate_new(thresholds[i], 100.0);
        frame_fill(&f, 50);
        test_at(g, &f, 0, NULL);
        frame_fill(&f, 53);
        float c = 0.0f;
        assert_int_equal(test_at(g, &f, S_NS, &c), want[i]);
        assert_true(fabsf(c - 3.0f) < 1e-5f);
        sp_change_gate_free(g);
    }
    free(f.data);
}

/* +1 level per frame: each step alone stays below 2.5, but the reference is the last encoded
 * frame, so the third step (3 levels in all) is encoded. */
static void slow_drift_adds_up(void **state) {
    (void)state;
    sp_change_gate *g = gate_new(2.5f, 100.0);
    frame f;
    frame_make(&f, 96, 96, 0, SP_PIXFMT_RGB);
    sp_gate_verdict want[] = {SP_GATE_FIRST, SP_GATE_SKIP, SP_GATE_SKIP, SP_GATE_CHANGED,
                              SP_GATE_SKIP};
    for (int i = 0; i < 5; i++) {
        frame_fill(&f, (uint8_t)(80 + i));
        assert_int_equal(test_at(g, &f, i * S_NS, NULL), want[i]);
    }
    sp_change_gate_free(g);
    free(f.data);
}

/* A small bright square in one cell of a noisy frame: noise is skipped, the square is not. */
static void noise_skipped_object_encoded(void **state) {
    (void)state;
    sp_change_gate *g = gate_new(2.0f, 100.0);
    frame f;
    frame_make(&f, 640, 480, 0, SP_PIXFMT_RGB);
    uint64_t rng = 0x9E3779B97F4A7C15u;
    frame_noise(&f, 120, 4, &rng);
    assert_int_equal(test_at(g, &f, 0, NULL), SP_GATE_FIRST);
    for (int i = 1; i < 6; i++) {
        frame_noise(&f, 120, 4, &rng);
        assert_int_equal(test_at(g, &f, i * S_NS, NULL), SP_GATE_SKIP);
    }
    frame_noise(&f, 120, 4, &rng);
    frame_square(&f, 300, 200, 30, 250); /* 30 x 30 px: under a cell of 40 x 30 */
    float c = 0.0f;
    assert_int_equal(test_at(g, &f, 6 * S_NS, &c), SP_GATE_CHANGED);
    assert_true(c > 20.0f);
    sp_change_gate_free(g);
    free(f.data);
}

static void max_skip_forces_an_encode(void **state) {
    (void)state;
    sp_change_gate *g = gate_new(2.0f, 3.0);
    frame f;
    frame_make(&f, 64, 64, 0, SP_PIXFMT_RGB);
    frame_fill(&f, 7);
    int encoded_at[8] = {0};
    for (int i = 0; i < 8; i++)
        encoded_at[i] = test_at(g, &f, i * S_NS, NULL) != SP_GATE_SKIP;
    int want[8] = {1, 0, 0, 1, 0, 0, 1, 0};
    assert_memory_equal(encoded_at, want, sizeof want);
    sp_change_gate_stats st;
    sp_change_gate_get_stats(g, &st);
    assert_int_equal(st.forced, 2);
    sp_change_gate_free(g);

    /* 0 encodes every frame. */
    g = gate_new(2.0f, 0.0);
    for (int i = 0; i < 4; i++)
        assert_int_not_equal(test_at(g, &f, i * S_NS, NULL), SP_GATE_SKIP);
    sp_change_gate_free(g);
    free(f.data);
}

static void size_change_and_backwards_time_reset(void **state) {
    (void)state;
    sp_change_gate *g = gate_new(2.0f, 100.0);
    frame a, b;
    frame_make(&a, 64, 64, 0, SP_PIXFMT_RGB);
    frame_make(&b, 64, 65, 0, SP_PIXFMT_RGB);
    frame_fill(&a, 1);
    frame_fill(&b, 1);
    assert_int_equal(test_at(g, &a, 0, NULL), SP_GATE_FIRST);
    assert_int_equal(test_at(g, &a, 5 * S_NS, NULL), SP_GATE_SKIP);
    assert_int_equal(test_at(g, &b, 6 * S_NS, NULL), SP_GATE_FIRST);
    assert_int_equal(test_at(g, &b, 4 * S_NS, NULL), SP_GATE_FIRST);
    assert_int_equal(test_at(g, &b, 4 * S_NS, NULL), SP_GATE_SKIP);
    sp_change_gate_free(g);
    free(a.data);
    free(b.data);
}

/* Frames smaller than the grid, odd sides, padded rows and every pixel format: a static frame is
 * skipped, a changed pixel block is seen, and the row padding is never read as picture. */
static void odd_frame_sizes(void **state) {
    (void)state;
    const uint32_t sizes[][2] = {{1, 1}, {3, 5}, {5, 3}, {17, 1}, {33, 31}, {1921, 1081}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int fmt = 0; fmt < SP_PIXFMT_COUNT; fmt++) {
            uint32_t w = sizes[s][0], h = sizes[s][1];
            sp_change_gate *g = gate_new(2.0f, 100.0);
            frame f;
            frame_make(&f, w, h, 7, (sp_pixfmt)fmt);
            frame_fill(&f, 60);
            assert_int_equal(test_at(g, &f, 0, NULL), SP_GATE_FIRST);
            /* Junk in the row padding is not picture. */
            size_t bpp = sp_pixfmt_bpp(f.img.format);
            for (uint32_t y = 0; y < h; y++)
                memset(f.data + y * f.img.stride + w * bpp, 0xff, 7);
            assert_int_equal(test_at(g, &f, S_NS, NULL), SP_GATE_SKIP);
            frame_fill(&f, 200);
            assert_int_equal(test_at(g, &f, 2 * S_NS, NULL), SP_GATE_CHANGED);
            sp_change_gate_free(g);
            free(f.data);
        }
}

/* The region: a change outside it is not seen, one inside is. */
static void only_the_region_counts(void **state) {
    (void)state;
    sp_change_gate_params p;
    sp_change_gate_params_init(&p);
    p.roi_x = 80, p.roi_y = 0, p.roi_w = 240, p.roi_h = 240;
    p.grid_w = p.grid_h = 8;
    sp_change_gate *g = NULL;
    assert_int_equal(sp_change_gate_new(&p, &g, NULL), SP_OK);
    frame f;
    frame_make(&f, 400, 240, 0, SP_PIXFMT_RGB);
    frame_fill(&f, 30);
    assert_int_equal(test_at(g, &f, 0, NULL), SP_GATE_FIRST);
    frame_square(&f, 0, 0, 60, 255);
    assert_int_equal(test_at(g, &f, S_NS, NULL), SP_GATE_SKIP);
    frame_square(&f, 100, 100, 40, 255);
    assert_int_equal(test_at(g, &f, 2 * S_NS, NULL), SP_GATE_CHANGED);
    sp_change_gate_free(g);
    free(f.data);
}

/* The encoder's view: CLIP-style crop of a wide frame leaves its sides out. */
static void region_follows_the_encoder(void **state) {
    (void)state;
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.fit = SP_FIT_CROP;
    c.image_size = 224;
    c.patch_size = 16;
    sp_encoder *enc = NULL;
    assert_int_equal(sp_encoder_open(&c, &enc, NULL), SP_OK);
    sp_change_gate_params p;
    sp_change_gate_params_init(&p);
    sp_change_gate_params_for_encoder(&p, enc, 1920, 1080);
    assert_int_equal(p.grid_w, 14);
    assert_int_equal(p.grid_h, 14);
    assert_true(fabs(p.roi_x - 420.0) < 1e-6 && fabs(p.roi_w - 1080.0) < 1e-6);
    assert_true(fabs(p.roi_y) < 1e-6 && fabs(p.roi_h - 1080.0) < 1e-6);
    sp_encoder_free(enc);
}

static void bad_input_is_refused(void **state) {
    (void)state;
    sp_error err;
    sp_change_gate_params p;
    sp_change_gate_params_init(&p);
    p.threshold = -1.0f;
    sp_change_gate *g = (sp_change_gate *)&p;
    assert_int_equal(sp_change_gate_new(&p, &g, &err), SP_ERR_INVALID);
    assert_null(g);
    assert_non_null(strstr(err.message, "threshold"));
    sp_change_gate_params_init(&p);
    p.grid_w = 0;
    assert_int_equal(sp_change_gate_new(&p, &g, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "grid"));
    sp_change_gate_params_init(&p);
    p.max_skip_ns = -1;
    assert_int_equal(sp_change_gate_new(&p, &g, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "max_skip"));
    p.max_skip_ns = 0;
    p.roi_w = NAN;
    assert_int_equal(sp_change_gate_new(&p, &g, &err), SP_ERR_INVALID);

    g = gate_new(2.0f, 10.0);
    frame f;
    frame_make(&f, 8, 8, 0, SP_PIXFMT_RGB);
    f.img.stride = 3; /* shorter than a row */
    sp_gate_verdict v;
    assert_int_equal(sp_change_gate_test(g, &f.img, 0, &v, NULL, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "change gate"));
    assert_int_equal(sp_change_gate_test(g, NULL, 0, &v, NULL, &err), SP_ERR_INVALID);
    assert_int_equal(sp_change_gate_test(g, &f.img, 0, NULL, NULL, &err), SP_ERR_INVALID);
    /* The refused frames changed nothing: the next valid one is still the first. */
    f.img.stride = 24;
    assert_int_equal(test_at(g, &f, 0, NULL), SP_GATE_FIRST);
    sp_change_gate_free(g);
    sp_change_gate_free(NULL);
    assert_string_equal(sp_gate_verdict_name(SP_GATE_MAX_SKIP), "max-skip");
    assert_string_equal(sp_gate_verdict_name((sp_gate_verdict)99), "?");
    free(f.data);
}

static void every_allocation_failure_is_reported(void **state) {
    (void)state;
    for (long n = 0;; n++) {
        sp_fault_fail_after(n);
        sp_change_gate *g = NULL;
        sp_error err;
        sp_status s = sp_change_gate_new(NULL, &g, &err);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (!injected) {
            assert_int_equal(s, SP_OK);
            sp_change_gate_free(g);
            assert_true(n >= 3);
            break;
        }
        assert_int_equal(s, SP_ERR_NOMEM);
        assert_null(g);
        assert_non_null(strstr(err.message, "out of memory"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_frame_is_always_encoded),
        cmocka_unit_test(unchanged_frames_are_skipped),
        cmocka_unit_test(threshold_is_in_levels),
        cmocka_unit_test(slow_drift_adds_up),
        cmocka_unit_test(noise_skipped_object_encoded),
        cmocka_unit_test(max_skip_forces_an_encode),
        cmocka_unit_test(size_change_and_backwards_time_reset),
        cmocka_unit_test(odd_frame_sizes),
        cmocka_unit_test(only_the_region_counts),
        cmocka_unit_test(region_follows_the_encoder),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(every_allocation_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
