/* Tests of the pixel evidence (scriptprune/pixel_match.h) on frames of the patch encoder's
 * default grid (24 x 24 cells of 16 x 16 pixels in a 384 x 384 frame): the first frame has none,
 * a still noisy frame is seen in place, a moving object's cells are seen where it was and the
 * ground it uncovers is new, a pan is seen at its shift and the entering column is not, an
 * encode without the matcher carries no evidence, a new frame size or a reset starts again, and
 * bad input is refused with a message, and every allocation failure is reported. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "scriptprune/encode.h"
#include "scriptprune/pixel_match.h"

enum { W = 384, H = 384, CELL = 16, G = 24 };

typedef struct world {
    uint8_t *tex; /* (H + 64) x (W + 64) x 3 random texture, in 2 x 2 pixel blocks */
    uint64_t rng;
} world;

static uint64_t next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    *s = x;
    return x;
}

enum { TW = W + 64, TH = H + 64 };

static void world_make(world *w, uint64_t seed) {
    w->rng = seed;
    w->tex = malloc((size_t)TW * TH * 3);
    assert_non_null(w->tex);
    for (int y = 0; y < TH; y += 2)
        for (int x = 0; x < TW; x += 2)
            for (int c = 0; c < 3; c++) {
                uint8_t v = (uint8_t)(32 + next(&w->rng) % 192);
                for (int k = 0; k < 4; k++)
                    w->tex[((size_t)(y + k / 2) * TW + x + k % 2) * 3 + c] = v;
            }
}

/* A frame of the texture seen from (ox, oy), with +-2 levels of noise, and optionally a square
 * of another texture (the object: the world at an offset) at (sx, sy), side `side`. */
static void render(world *w, uint8_t *out, int ox, int oy, int sx, int sy, int side) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                bool obj = side > 0 && x >= sx && x < sx + side && y >= sy && y < sy + side;
                int v = obj ? 255 - w->tex[((size_t)(y - sy + 40) * TW + (x - sx + 40)) * 3 + c]
                            : w->tex[((size_t)(y + oy) * TW + (x + ox)) * 3 + c];
                v += (int)(next(&w->rng) % 5) - 2;
                out[((size_t)y * W + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

typedef struct rig {
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_pixel_match *pm;
    sp_encoding r;
    uint8_t *pix;
    world w;
} rig;

static void rig_make(rig *g) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    sp_error err;
    assert_int_equal(sp_encoder_open(&c, &g->enc, &err), SP_OK);
    assert_int_equal(sp_encode_ctx_new(g->enc, &g->ctx, &err), SP_OK);
    assert_int_equal(sp_pixel_match_new(g->enc, &g->pm, &err), SP_OK);
    sp_encoding_init(&g->r);
    g->pix = malloc((size_t)W * H * 3);
    assert_non_null(g->pix);
    world_make(&g->w, 0x9e3779b97f4a7c15ULL);
}

static void rig_free(rig *g) {
    sp_pixel_match_free(g->pm);
    sp_encoding_free(&g->r);
    sp_encode_ctx_free(g->ctx);
    sp_encoder_free(g->enc);
    free(g->pix);
    free(g->w.tex);
}

/* Encodes the rig's pixels (w x h of them) and runs the matcher. */
static void step(rig *g, uint32_t w, uint32_t h) {
    sp_image img = {g->pix, w, h, (size_t)w * 3, SP_PIXFMT_RGB};
    sp_error err;
    assert_int_equal(sp_encode(g->ctx, &img, &g->r, &err), SP_OK);
    assert_false(g->r.has_evidence);
    if (sp_pixel_match_run(g->pm, &img, &g->r, &err))
        fail_msg("pixel match: %s", err.message);
    assert_true(g->r.has_evidence);
    sp_frame f;
    sp_encoding_frame(&g->r, 0, &f);
    assert_ptr_equal(f.evidence, g->r.evidence);
}

static const sp_pixel_evidence *at(const rig *g, int y, int x) {
    return &g->r.evidence[y * G + x];
}

static void assert_all_unknown(const rig *g) {
    for (size_t p = 0; p < g->r.n; p++)
        if (g->r.evidence[p].verdict != SP_PIXELS_UNKNOWN)
            fail_msg("cell %zu: verdict %u, expected unknown", p, g->r.evidence[p].verdict);
}

static void test_the_first_frame_has_no_evidence_and_a_still_frame_is_seen_in_place(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    sp_encoder_info info;
    sp_encoder_get_info(g.enc, &info);
    assert_int_equal(info.grid_h, G);
    render(&g.w, g.pix, 8, 8, 0, 0, 0);
    step(&g, W, H);
    assert_all_unknown(&g);
    render(&g.w, g.pix, 8, 8, 0, 0, 0); /* the same view, other noise */
    step(&g, W, H);
    for (int y = 0; y < G; y++)
        for (int x = 0; x < G; x++) {
            const sp_pixel_evidence *e = at(&g, y, x);
            if (e->verdict != SP_PIXELS_SEEN || e->dy != 0.0f || e->dx != 0.0f)
                fail_msg("cell (%d, %d): verdict %u at (%g, %g)", y, x, e->verdict, (double)e->dy,
                         (double)e->dx);
        }
    sp_pixel_match_stats st;
    sp_pixel_match_get_stats(g.pm, &st);
    assert_int_equal(st.seen, G * G);
    assert_true(st.noise > 0.0f && st.noise < 4.0f);
    rig_free(&g);
}

/* A square object of 4 x 4 cells moves one cell right over a still texture: its cells are seen
 * one cell to the left, the column it uncovered is new, the rest is seen in place. */
static void test_a_moved_object_is_seen_where_it_was_and_the_ground_it_uncovered_is_new(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    render(&g.w, g.pix, 8, 8, 6 * CELL, 6 * CELL, 4 * CELL);
    step(&g, W, H);
    render(&g.w, g.pix, 8, 8, 7 * CELL, 6 * CELL, 4 * CELL);
    step(&g, W, H);
    for (int y = 0; y < G; y++)
        for (int x = 0; x < G; x++) {
            const sp_pixel_evidence *e = at(&g, y, x);
            bool rows = y >= 6 && y < 10;
            if (rows && x == 6) {
                if (e->verdict != SP_PIXELS_NEW)
                    fail_msg("uncovered cell (%d, %d): verdict %u", y, x, e->verdict);
            } else if (rows && x >= 7 && x < 11) {
                if (e->verdict != SP_PIXELS_SEEN || e->dy != 0.0f || e->dx != -1.0f)
                    fail_msg("object cell (%d, %d): verdict %u at (%g, %g)", y, x, e->verdict,
                             (double)e->dy, (double)e->dx);
            } else if (e->verdict != SP_PIXELS_SEEN || e->dx != 0.0f || e->dy != 0.0f) {
                fail_msg("ground cell (%d, %d): verdict %u at (%g, %g)", y, x, e->verdict,
                         (double)e->dy, (double)e->dx);
            }
        }
    rig_free(&g);
}

/* The camera pans 8 pixels (half a cell) right: every cell is seen half a cell to its right,
 * except the last column, half of which enters the picture. */
static void test_a_pan_is_seen_at_its_shift_and_the_entering_column_is_not(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    render(&g.w, g.pix, 8, 8, 0, 0, 0);
    step(&g, W, H);
    render(&g.w, g.pix, 16, 8, 0, 0, 0);
    step(&g, W, H);
    for (int y = 0; y < G; y++)
        for (int x = 0; x < G; x++) {
            const sp_pixel_evidence *e = at(&g, y, x);
            if (x == G - 1) {
                if (e->verdict == SP_PIXELS_SEEN)
                    fail_msg("entering cell (%d, %d) is seen", y, x);
            } else if (e->verdict != SP_PIXELS_SEEN || e->dy != 0.0f || e->dx != 0.5f) {
                fail_msg("cell (%d, %d): verdict %u at (%g, %g)", y, x, e->verdict, (double)e->dy,
                         (double)e->dx);
            }
        }
    rig_free(&g);
}

/* An encoding the matcher did not see (a plain sp_encode, as for a frame that is not pushed)
 * carries no evidence; a new frame size and a reset start again without evidence. */
static void test_evidence_only_from_the_matcher_and_a_new_size_or_reset_starts_again(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    render(&g.w, g.pix, 8, 8, 0, 0, 0);
    step(&g, W, H);
    step(&g, W, H);
    sp_image img = {g.pix, W, H, (size_t)W * 3, SP_PIXFMT_RGB};
    sp_error err;
    assert_int_equal(sp_encode(g.ctx, &img, &g.r, &err), SP_OK);
    sp_frame f;
    sp_encoding_frame(&g.r, 0, &f);
    assert_null(f.evidence);
    step(&g, W - 64, H); /* another size (the same pixels, a narrower view) */
    assert_all_unknown(&g);
    step(&g, W - 64, H);
    assert_int_not_equal(at(&g, 12, 12)->verdict, SP_PIXELS_UNKNOWN);
    sp_pixel_match_reset(g.pm);
    step(&g, W - 64, H);
    assert_all_unknown(&g);
    rig_free(&g);
}

/* A frame the change gate skipped carries the last encoded frame's tokens again: its evidence
 * (sp_pixel_match_repeat) is what the matcher gives the held picture encoded again, every cell
 * seen in place, and the matcher's reference stays the last encoded frame. */
static void test_a_repeated_frame_gets_what_encoding_the_held_picture_gives(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    render(&g.w, g.pix, 8, 8, 6 * CELL, 6 * CELL, 4 * CELL);
    step(&g, W, H);
    step(&g, W, H); /* the held picture encoded again: the same pixels */
    sp_pixel_evidence held[G * G];
    memcpy(held, g.r.evidence, sizeof held);
    sp_error err;
    assert_int_equal(sp_pixel_match_repeat(&g.r, &err), SP_OK);
    assert_true(g.r.has_evidence);
    assert_memory_equal(held, g.r.evidence, sizeof held);
    for (size_t p = 0; p < G * G; p++)
        assert_int_equal(held[p].verdict, SP_PIXELS_SEEN);
    /* letterbox padding is unknown */
    sp_image wide = {g.pix, W, H - 96, (size_t)W * 3, SP_PIXFMT_RGB};
    assert_int_equal(sp_encode(g.ctx, &wide, &g.r, &err), SP_OK);
    assert_int_equal(sp_pixel_match_repeat(&g.r, &err), SP_OK);
    size_t unknown = 0;
    for (size_t p = 0; p < G * G; p++)
        unknown += g.r.evidence[p].verdict == SP_PIXELS_UNKNOWN;
    assert_true(unknown > 0 && unknown < G * G);
    sp_encoding empty;
    sp_encoding_init(&empty);
    assert_int_equal(sp_pixel_match_repeat(&empty, &err), SP_ERR_INVALID);
    assert_int_equal(sp_pixel_match_repeat(NULL, &err), SP_ERR_INVALID);
    rig_free(&g);
}

static void test_bad_input_is_refused_with_a_message(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    sp_error err;
    sp_pixel_match *m = (sp_pixel_match *)1;
    assert_int_equal(sp_pixel_match_new(NULL, &m, &err), SP_ERR_INVALID);
    assert_null(m);
    assert_int_equal(sp_pixel_match_new(g.enc, NULL, &err), SP_ERR_INVALID);
    sp_image img = {g.pix, W, H, (size_t)W * 3, SP_PIXFMT_RGB};
    assert_int_equal(sp_pixel_match_run(g.pm, &img, &g.r, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "not an encoding"));
    assert_int_equal(sp_pixel_match_run(NULL, &img, &g.r, &err), SP_ERR_INVALID);
    assert_int_equal(sp_pixel_match_run(g.pm, &img, NULL, &err), SP_ERR_INVALID);
    render(&g.w, g.pix, 8, 8, 0, 0, 0);
    assert_int_equal(sp_encode(g.ctx, &img, &g.r, &err), SP_OK);
    sp_image bad = img;
    bad.stride = 1;
    assert_int_equal(sp_pixel_match_run(g.pm, &bad, &g.r, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "pixel match"));
    sp_pixel_match_free(NULL);
    sp_pixel_match_reset(NULL);
    rig_free(&g);
}

/* Every allocation of the matcher and of the evidence fails in turn: the call reports it, and the
 * same calls succeed once memory is back. */
static void test_every_allocation_failure_is_reported(void **s) {
    (void)s;
    rig g;
    rig_make(&g);
    render(&g.w, g.pix, 8, 8, 0, 0, 0);
    sp_image img = {g.pix, W, H, (size_t)W * 3, SP_PIXFMT_RGB};
    sp_error err;
    for (long n = 0;; n++) {
        sp_encoding r;
        sp_encoding_init(&r);
        assert_int_equal(sp_encode(g.ctx, &img, &r, &err), SP_OK);
        sp_fault_fail_after(n);
        sp_pixel_match *m = NULL;
        sp_status st = sp_pixel_match_new(g.enc, &m, &err);
        if (!st)
            st = sp_pixel_match_run(m, &img, &r, &err);
        if (!st)
            st = sp_pixel_match_run(m, &img, &r, &err);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (!injected) {
            assert_int_equal(st, SP_OK);
            assert_int_not_equal(r.evidence[0].verdict, SP_PIXELS_UNKNOWN);
            sp_pixel_match_free(m);
            sp_encoding_free(&r);
            assert_true(n >= 10);
            break;
        }
        assert_int_equal(st, SP_ERR_NOMEM);
        assert_non_null(strstr(err.message, "out of memory"));
        if (m) { /* the matcher works again once memory is back */
            assert_int_equal(sp_pixel_match_run(m, &img, &r, &err), SP_OK);
            assert_true(r.has_evidence);
        }
        sp_pixel_match_free(m);
        sp_encoding_free(&r);
    }
    rig_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_first_frame_has_no_evidence_and_a_still_frame_is_seen_in_place),
        cmocka_unit_test(
            test_a_moved_object_is_seen_where_it_was_and_the_ground_it_uncovered_is_new),
        cmocka_unit_test(test_a_pan_is_seen_at_its_shift_and_the_entering_column_is_not),
        cmocka_unit_test(test_evidence_only_from_the_matcher_and_a_new_size_or_reset_starts_again),
        cmocka_unit_test(test_a_repeated_frame_gets_what_encoding_the_held_picture_gives),
        cmocka_unit_test(test_bad_input_is_refused_with_a_message),
        cmocka_unit_test(test_every_allocation_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
