/* What window packets promise, on frames of pixels encoded by the built-in patch encoder (a
 * 640 x 360 picture, letterboxed into the square input): a procedural landscape the camera pans
 * over, then holds still while an object crosses it, then a cut to another landscape.
 *   snapshot: every token of a packet was seen in the packet's window (last_pts >= pts_first),
 *             and a token that keeps matching has its last_pts and seen advanced;
 *   delta:    no token is ever sent twice;
 *   padding:  no letterbox padding token is ever emitted (they are not even candidates). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "scriptprune/encode.h"
#include "scriptprune/stream.h"
#include "scriptprune/wire.h"

enum { W = 640, H = 360, WORLD_W = 1024, WORLD_H = 512, FRAMES = 64 };
#define PTS_STEP 500000000 /* 2 frames a second */

/* ---- the scene ---- */

typedef struct world {
    uint8_t *rgb[2]; /* two landscapes, WORLD_W x WORLD_H */
} world;

/* Value noise: random lattices at several scales, bilinearly interpolated, summed. */
static void landscape(uint8_t *rgb, uint64_t seed) {
    sp_rng r;
    sp_rng_seed(&r, seed);
    enum { OCT = 4 };
    const int cell[OCT] = {128, 48, 16, 6};
    float *acc = calloc((size_t)WORLD_W * WORLD_H * 3, sizeof(float));
    for (int o = 0; o < OCT; o++) {
        int gw = WORLD_W / cell[o] + 2, gh = WORLD_H / cell[o] + 2;
        float *lat = malloc((size_t)gw * gh * 3 * sizeof(float));
        for (int i = 0; i < gw * gh * 3; i++)
            lat[i] = (float)sp_rng_unit(&r);
        float amp = 1.0f / (float)(1 << o);
        for (int y = 0; y < WORLD_H; y++)
            for (int x = 0; x < WORLD_W; x++) {
                float fy = (float)y / (float)cell[o], fx = (float)x / (float)cell[o];
                int y0 = (int)fy, x0 = (int)fx;
                float ty = fy - (float)y0, tx = fx - (float)x0;
                for (int c = 0; c < 3; c++) {
                    float a = lat[(y0 * gw + x0) * 3 + c], b = lat[(y0 * gw + x0 + 1) * 3 + c];
                    float e = lat[((y0 + 1) * gw + x0) * 3 + c];
                    float f = lat[((y0 + 1) * gw + x0 + 1) * 3 + c];
                    float v = (a * (1 - tx) + b * tx) * (1 - ty) + (e * (1 - tx) + f * tx) * ty;
                    acc[((size_t)y * WORLD_W + x) * 3 + c] += amp * v;
                }
            }
        free(lat);
    }
    for (size_t i = 0; i < (size_t)WORLD_W * WORLD_H * 3; i++)
        rgb[i] = (uint8_t)fminf(255.0f, acc[i] / 1.875f * 255.0f);
    free(acc);
}

static void world_init(world *w) {
    for (int k = 0; k < 2; k++) {
        w->rgb[k] = malloc((size_t)WORLD_W * WORLD_H * 3);
        landscape(w->rgb[k], 11 + (uint64_t)k * 1000);
    }
}

static void world_free(world *w) {
    free(w->rgb[0]);
    free(w->rgb[1]);
}

/* Frame t: pan 6 px a frame (frames 0..23), still with a red and white disk crossing (24..47),
 * a cut to the second landscape, still (48..). static_only: frame 0 every time. */
static void render(const world *w, int t, bool static_only, uint8_t *out) {
    if (static_only)
        t = 0;
    const uint8_t *src = w->rgb[t >= 48];
    int ox = t < 24 ? 6 * t : 6 * 24, oy = 40;
    if (t >= 48)
        ox = 100;
    for (int y = 0; y < H; y++)
        memcpy(out + (size_t)y * W * 3, src + ((size_t)(y + oy) * WORLD_W + (size_t)ox) * 3,
               (size_t)W * 3);
    if (t >= 24 && t < 48) {
        int cx = 60 + 22 * (t - 24), cy = 180, rad = 45;
        for (int y = cy - rad; y <= cy + rad; y++)
            for (int x = cx - rad; x <= cx + rad; x++) {
                if (x < 0 || x >= W || y < 0 || y >= H)
                    continue;
                int d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                if (d2 > rad * rad)
                    continue;
                uint8_t *p = out + ((size_t)y * W + (size_t)x) * 3;
                bool ring = ((int)sqrt((double)d2) / 9) % 2;
                p[0] = 230;
                p[1] = ring ? 230 : 30;
                p[2] = ring ? 230 : 20;
            }
    }
}

/* ---- running a stream ---- */

typedef struct run {
    sp_packet_buf *pk;
    size_t count, cap;
} run;

static sp_status keep(void *user, const sp_packet *p, sp_error *err) {
    run *r = user;
    if (r->count == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->pk = realloc(r->pk, r->cap * sizeof *r->pk);
    }
    sp_packet_buf_init(&r->pk[r->count]);
    sp_status st = sp_packet_buf_copy(&r->pk[r->count], p, err);
    if (!st)
        r->count++;
    return st;
}

static void run_free(run *r) {
    for (size_t i = 0; i < r->count; i++)
        sp_packet_buf_free(&r->pk[i]);
    free(r->pk);
}

typedef struct result {
    run r;
    sp_stream_stats stats;
    uint32_t img_y0, img_y1; /* picture rows of the grid */
    uint32_t gh, gw;
    uint64_t padding_fates; /* tokens the stream reported as padding */
} result;

/* The daemon's defaults: window 8, hop 8, budget 64. */
static void run_stream(const world *w, sp_packet_mode mode, bool static_only, result *res) {
    memset(res, 0, sizeof *res);
    sp_encoder_config ec;
    sp_encoder_config_init(&ec);
    sp_encoder *enc;
    sp_error err;
    if (sp_encoder_open(&ec, &enc, &err))
        fail_msg("encoder: %s", err.message);
    sp_encode_ctx *ctx;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 8;
    p.hop = 8;
    p.window_budget = 64;
    p.packet_mode = mode;
    p.on_packet = keep;
    p.user = &res->r;
    sp_stream *s;
    assert_int_equal(sp_stream_new(&p, &s, &err), SP_OK);
    uint8_t *px = malloc((size_t)W * H * 3);
    sp_encoding e;
    sp_encoding_init(&e);
    uint8_t *fates = NULL;
    for (int t = 0; t < FRAMES; t++) {
        render(w, t, static_only, px);
        sp_image img = {
            .data = px, .width = W, .height = H, .stride = W * 3, .format = SP_PIXFMT_RGB};
        if (sp_encode(ctx, &img, &e, &err))
            fail_msg("encode frame %d: %s", t, err.message);
        sp_frame f;
        sp_encoding_frame(&e, (int64_t)t * PTS_STEP, &f);
        if (sp_stream_push(s, &f, &err))
            fail_msg("push frame %d: %s", t, err.message);
        if (!fates)
            fates = malloc(e.n);
        assert_int_equal(sp_stream_last_fates(s, fates, e.n, &err), SP_OK);
        for (size_t i = 0; i < e.n; i++) {
            res->padding_fates += fates[i] == SP_FATE_PADDING;
            /* the fate says padding exactly where the encoder padded */
            assert_int_equal(fates[i] == SP_FATE_PADDING, sp_frame_is_padding(&f, i));
        }
    }
    assert_int_equal(sp_stream_flush(s, &err), SP_OK);
    sp_stream_get_stats(s, &res->stats);
    res->gh = e.grid_h;
    res->gw = e.grid_w;
    res->img_y0 = e.pre.grid_y;
    res->img_y1 = e.pre.grid_y + e.pre.grid_h;
    free(fates);
    free(px);
    sp_encoding_free(&e);
    sp_stream_free(s);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
}

static world the_world;

static int setup(void **state) {
    (void)state;
    world_init(&the_world);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    world_free(&the_world);
    return 0;
}

/* ---- the promises ---- */

static void test_snapshot_packets_hold_only_tokens_seen_in_their_window(void **state) {
    (void)state;
    result res;
    run_stream(&the_world, SP_PACKET_SNAPSHOT, false, &res);
    assert_int_equal(res.r.count, FRAMES / 8);
    size_t old = 0, total = 0;
    for (size_t k = 0; k < res.r.count; k++) {
        const sp_packet *p = &res.r.pk[k].packet;
        assert_int_equal(p->mode, SP_PACKET_SNAPSHOT);
        assert_int_equal(p->frame_first, 8 * k);
        assert_int_equal(p->pts_first, (int64_t)(8 * k) * PTS_STEP);
        for (size_t i = 0; i < p->count; i++) {
            const sp_token_info *a = &p->info[i];
            if (a->last_pts < p->pts_first || a->last_pts > p->pts_last)
                fail_msg("window %zu: token (%llu, %u, %u) last seen at %lld, outside [%lld, %lld]",
                         k, (unsigned long long)a->frame, a->y, a->x, (long long)a->last_pts,
                         (long long)p->pts_first, (long long)p->pts_last);
            /* seen counts frames from the one it was taken in to its last sighting at most */
            assert_true(a->seen >= 1);
            assert_true((int64_t)a->seen <= (a->last_pts - a->pts) / PTS_STEP + 1);
            old += a->frame < p->frame_first;
            total++;
        }
    }
    /* Tokens taken before a window and still seen in it are re-sent, as current. */
    assert_true(old > 0);
    assert_true(total > 0);
    run_free(&res.r);
}

static void test_a_token_that_keeps_matching_has_its_span_advanced(void **state) {
    (void)state;
    /* A still picture: every token is seen again in every frame after the one it was taken in. */
    result res;
    run_stream(&the_world, SP_PACKET_SNAPSHOT, true, &res);
    assert_int_equal(res.r.count, FRAMES / 8);
    for (size_t k = 0; k < res.r.count; k++) {
        const sp_packet *p = &res.r.pk[k].packet;
        assert_true(p->count > 0);
        for (size_t i = 0; i < p->count; i++) {
            const sp_token_info *a = &p->info[i];
            assert_int_equal(a->frame, 0);
            assert_int_equal(a->pts, 0);
            assert_int_equal(a->last_pts, p->pts_last);
            assert_int_equal(a->seen, p->frame_last + 1);
        }
    }
    run_free(&res.r);
}

typedef struct key {
    uint64_t frame;
    uint16_t y, x;
} key;

static int key_cmp(const void *a, const void *b) {
    const key *u = a, *v = b;
    if (u->frame != v->frame)
        return u->frame < v->frame ? -1 : 1;
    if (u->y != v->y)
        return u->y < v->y ? -1 : 1;
    return u->x < v->x ? -1 : (u->x > v->x);
}

static void test_delta_packets_never_send_a_token_twice(void **state) {
    (void)state;
    result res;
    run_stream(&the_world, SP_PACKET_DELTA, false, &res);
    assert_int_equal(res.r.count, FRAMES / 8);
    size_t n = 0;
    for (size_t k = 0; k < res.r.count; k++)
        n += res.r.pk[k].packet.count;
    key *keys = malloc(n * sizeof *keys);
    size_t m = 0;
    for (size_t k = 0; k < res.r.count; k++) {
        const sp_packet *p = &res.r.pk[k].packet;
        assert_int_equal(p->mode, SP_PACKET_DELTA);
        for (size_t i = 0; i < p->count; i++)
            keys[m++] = (key){p->info[i].frame, p->info[i].y, p->info[i].x};
    }
    qsort(keys, m, sizeof *keys, key_cmp);
    for (size_t i = 1; i < m; i++)
        if (key_cmp(&keys[i - 1], &keys[i]) == 0)
            fail_msg("token (frame %llu, %u, %u) was sent twice", (unsigned long long)keys[i].frame,
                     keys[i].y, keys[i].x);
    /* Every window after the first brings new content here (pan, moving object, cut). */
    for (size_t k = 0; k < res.r.count; k++)
        assert_true(res.r.pk[k].packet.count > 0);
    free(keys);
    run_free(&res.r);
}

static void test_letterbox_padding_is_never_emitted(void **state) {
    (void)state;
    for (int mode = 0; mode < SP_PACKET_MODE_COUNT; mode++) {
        result res;
        run_stream(&the_world, (sp_packet_mode)mode, false, &res);
        /* 640 x 360 in a 24 x 24 grid: 14 rows of picture, 5 rows of padding above, 5 below. */
        assert_int_equal(res.gh, 24);
        assert_int_equal(res.img_y0, 5);
        assert_int_equal(res.img_y1, 19);
        size_t emitted = 0, padding = 0;
        for (size_t k = 0; k < res.r.count; k++) {
            const sp_packet *p = &res.r.pk[k].packet;
            for (size_t i = 0; i < p->count; i++) {
                emitted++;
                padding += p->info[i].y < res.img_y0 || p->info[i].y >= res.img_y1;
            }
        }
        if (padding)
            fail_msg("%s: %zu of %zu emitted tokens are letterbox padding",
                     sp_packet_mode_name((sp_packet_mode)mode), padding, emitted);
        assert_true(emitted > 0);
        uint64_t pad_per_frame = (uint64_t)(res.gh - (res.img_y1 - res.img_y0)) * res.gw;
        assert_int_equal(res.stats.padding_drops, pad_per_frame * FRAMES);
        assert_int_equal(res.padding_fates, pad_per_frame * FRAMES);
        assert_int_equal(res.stats.tokens_in, res.stats.temporal_drops + res.stats.spatial_drops +
                                                  res.stats.candidates + res.stats.padding_drops);
        run_free(&res.r);
    }
}

static void test_a_picture_rectangle_off_the_grid_is_refused(void **state) {
    (void)state;
    float tok[16 * 2] = {0};
    sp_frame f;
    sp_frame_view(&f, tok, 16, 2);
    f.pts = 0;
    f.image_y = 1;
    f.image_h = 4; /* rows 1..4 of a 4-row grid */
    f.image_x = 0;
    f.image_w = 4;
    sp_stream_params p;
    sp_stream_params_init(&p);
    sp_stream *s;
    sp_error err;
    assert_int_equal(sp_stream_new(&p, &s, &err), SP_OK);
    assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
    if (!strstr(err.message, "picture rectangle"))
        fail_msg("message: %s", err.message);
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.frames_rejected, 1);
    sp_stream_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_packets_hold_only_tokens_seen_in_their_window),
        cmocka_unit_test(test_a_token_that_keeps_matching_has_its_span_advanced),
        cmocka_unit_test(test_delta_packets_never_send_a_token_twice),
        cmocka_unit_test(test_letterbox_padding_is_never_emitted),
        cmocka_unit_test(test_a_picture_rectangle_off_the_grid_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
