/* Stream behaviour on synthetic sequences with known truth (tests/stream/scene.c): static scenes
 * stay quiet, moving objects are emitted, scene cuts re-emit, queries steer the windows, budgets
 * are exact, output is deterministic, bad frames are refused without side effects, the history
 * keeps its byte bound, reselect answers from window and history, and every allocation failure is
 * handled. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "rng.h"
#include "scene.h"
#include "scriptprune/stream.h"
#include "scriptprune/wire.h"
#include "../../core/stream/history.h"

enum { GH = 16, GW = 16, N = GH * GW, D = 32 };

/* ---- packet capture ---- */
typedef struct capture {
    sp_packet_buf *pk;
    size_t count, cap;
    sp_stream *s;        /* for stats checks inside the callback */
    uint64_t last_cands; /* stats.candidates at the previous frame packet */
    int check_budget;    /* assert exact budgets in the callback */
    size_t budget_errors;
} capture;

static sp_status on_packet(void *user, const sp_packet *p, sp_error *err) {
    capture *c = user;
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        sp_packet_buf *pk = realloc(c->pk, cap * sizeof *pk);
        if (!pk)
            return sp_error_set(err, SP_ERR_NOMEM, "test capture");
        c->pk = pk;
        c->cap = cap;
    }
    sp_packet_buf_init(&c->pk[c->count]);
    sp_status st = sp_packet_buf_copy(&c->pk[c->count], p, err);
    if (st) {
        sp_packet_buf_free(&c->pk[c->count]);
        return st;
    }
    c->count++;
    if (c->check_budget && c->s) {
        sp_stream_stats stt;
        sp_stream_get_stats(c->s, &stt);
        size_t avail = p->kind == SP_PACKET_WINDOW ? (size_t)stt.window_tokens
                                                   : (size_t)(stt.candidates - c->last_cands);
        size_t want = p->budget < avail ? p->budget : avail;
        if (p->count != want)
            c->budget_errors++;
        c->last_cands = stt.candidates;
    }
    return SP_OK;
}

static void capture_free(capture *c) {
    for (size_t i = 0; i < c->count; i++)
        sp_packet_buf_free(&c->pk[i]);
    free(c->pk);
    memset(c, 0, sizeof *c);
}

static sp_stream *new_stream(sp_stream_params *p, capture *c) {
    p->on_packet = on_packet;
    p->user = c;
    sp_stream *s = NULL;
    sp_error err;
    if (sp_stream_new(p, &s, &err))
        fail_msg("sp_stream_new: %s", err.message);
    c->s = s;
    return s;
}

static void push(sp_stream *s, const float *tok, uint64_t t) {
    sp_frame f;
    sp_frame_view(&f, tok, N, D);
    f.grid_h = GH;
    f.grid_w = GW;
    f.pts = (int64_t)t * 500000000; /* 2 frames per second */
    sp_error err;
    if (sp_stream_push(s, &f, &err))
        fail_msg("push frame %llu: %s", (unsigned long long)t, err.message);
}

static void assert_contains(const sp_error *err, const char *needle) {
    if (!strstr(err->message, needle))
        fail_msg("message '%s' does not contain '%s'", err->message, needle);
}

/* ---- behaviour ---- */

static void test_static_scene_emits_at_most_5_percent_after_first_frame(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 11);
    sc.nobj = 2;
    sc.obj[0] = (scene_object){3, 4, 2, 3, 1, 1};
    sc.obj[1] = (scene_object){4, 3, 9, 10, 2, 1};
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    p.frame_budget = 64;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 40; t++) {
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    assert_int_equal(c.count, 40);
    assert_int_equal(c.pk[0].packet.count, 64);
    for (size_t i = 1; i < c.count; i++)
        assert_true(c.pk[i].packet.count <= N / 20);
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.frames_in, 40);
    assert_int_equal(st.tokens_in, 40 * N);
    assert_int_equal(st.tokens_in, st.temporal_drops + st.spatial_drops + st.candidates);
    assert_int_equal(st.scene_cuts, 0);
    /* The static candidates were seen again in every frame, so none left the window. */
    assert_int_equal(st.history_tokens, 0);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

static void test_moving_object_tokens_are_emitted_every_frame(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 12);
    sc.nobj = 1;
    sc.obj[0] = (scene_object){4, 4, 5, 0, 7, 1};
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    p.frame_budget = 64;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    uint8_t label[N];
    size_t object_patches = 0, recalled = 0;
    for (uint64_t t = 0; t < 24; t++) {
        /* Two patches a frame to the right (wrapping, partly off the grid at the edge) and one
         * down: it never comes back to a place it had within the window. */
        sc.obj[0].x = (int32_t)((2 * t) % GW) - 2;
        sc.obj[0].y = (int32_t)(t % 12);
        scene_render(&sc, t, tok, label);
        push(s, tok, t);
        const sp_packet *pk = &c.pk[c.count - 1].packet;
        if (t == 0)
            continue;
        for (size_t q = 0; q < N; q++) {
            if (!label[q])
                continue;
            object_patches++;
            for (size_t i = 0; i < pk->count; i++)
                if ((size_t)pk->info[i].y * GW + pk->info[i].x == q && pk->info[i].frame == t) {
                    recalled++;
                    break;
                }
        }
    }
    double recall = (double)recalled / (double)object_patches;
    print_message("object recall %.3f (%zu of %zu patches)\n", recall, recalled, object_patches);
    if (recall < 0.95)
        fail_msg("object recall %.3f < 0.95 (%zu of %zu)", recall, recalled, object_patches);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

static void test_scene_cut_emits_the_next_frame_in_full(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 13);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    p.frame_budget = N;
    p.gsp_keep = 1.0f; /* no spatial pruning: "in full" means every token */
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 12; t++) {
        sc.scene_id = t < 8 ? 0 : 1;
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    assert_int_equal(c.pk[0].packet.count, N);
    for (size_t i = 1; i < 8; i++)
        assert_true(c.pk[i].packet.count <= N / 20);
    assert_int_equal(c.pk[8].packet.count, N);
    for (size_t i = 9; i < 12; i++)
        assert_true(c.pk[i].packet.count <= N / 20);
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.scene_cuts, 1);
    sp_stream_free(s);
    capture_free(&c);

    /* With GSP on, the cut frame gets the whole frame budget, like the first frame. */
    p.frame_budget = 48;
    p.gsp_keep = 0.5f;
    s = new_stream(&p, &c);
    for (uint64_t t = 0; t < 12; t++) {
        sc.scene_id = t < 8 ? 0 : 1;
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    assert_int_equal(c.pk[0].packet.count, 48);
    assert_int_equal(c.pk[8].packet.count, 48);
    assert_true(c.pk[7].packet.count <= N / 20);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* Share of packet tokens lying on object `k` (1-based label) in the frame they come from. */
static double share_on_object(const sp_packet *pk, const uint8_t *label, uint8_t k) {
    if (!pk->count)
        return 0.0;
    size_t on = 0;
    for (size_t i = 0; i < pk->count; i++)
        on += label[(size_t)pk->info[i].y * GW + pk->info[i].x] == k;
    return (double)on / (double)pk->count;
}

static void test_query_set_mid_stream_steers_the_next_windows(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 14);
    sc.nobj = 4;
    sc.obj[0] = (scene_object){3, 3, 1, 1, 1, 1};
    sc.obj[1] = (scene_object){3, 3, 1, 11, 2, 1};
    sc.obj[2] = (scene_object){3, 3, 11, 1, 3, 1};
    sc.obj[3] = (scene_object){3, 3, 11, 11, 4, 1};
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_WINDOW;
    p.window = 8;
    p.hop = 4;
    p.window_budget = 16;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    uint8_t label[N];
    /* The query: object 3 (label 3), as a text embedding would describe it. */
    float q[D];
    scene_object_base(&sc, 3, q);
    sp_query query = {q, 1, D};
    sp_error err;
    for (uint64_t t = 0; t < 32; t++) {
        if (t == 16)
            assert_int_equal(sp_stream_set_query(s, &query, &err), SP_OK);
        scene_render(&sc, t, tok, label);
        push(s, tok, t);
    }
    assert_int_equal(c.count, 8);
    double before = 0, after = 0;
    for (size_t i = 0; i < 4; i++) {
        before += share_on_object(&c.pk[i].packet, label, 3) / 4;
        assert_int_equal(c.pk[i].packet.query_hash, 0);
    }
    for (size_t i = 4; i < 8; i++) {
        after += share_on_object(&c.pk[i].packet, label, 3) / 4;
        assert_int_equal(c.pk[i].packet.query_hash, sp_query_hash(&query));
    }
    print_message("share of the query's object: %.3f before, %.3f after\n", before, after);
    if (!(after >= 0.4 && after >= 2 * before))
        fail_msg("share of the query's object: %.3f before, %.3f after", before, after);
    /* Clearing the query returns to pure diversity. */
    sp_stream_clear_query(s);
    for (uint64_t t = 32; t < 36; t++) {
        scene_render(&sc, t, tok, label);
        push(s, tok, t);
    }
    assert_int_equal(c.pk[c.count - 1].packet.query_hash, 0);
    assert_true(share_on_object(&c.pk[c.count - 1].packet, label, 3) < after);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* A sequence with everything: moving objects, static stretches, a cut. */
static void render_busy(scene *sc, uint64_t t, float *tok, uint8_t *label) {
    sc->scene_id = t < 20 ? 0 : 1;
    sc->nobj = 2;
    sc->obj[0] = (scene_object){3, 3, 2, (int32_t)((3 * t) % 13), 1, 1};
    sc->obj[1] = (scene_object){2, 5, (int32_t)(8 + t % 5), 6, 2, t % 7 != 3};
    scene_render(sc, t, tok, label);
}

static void test_budgets_are_exact_in_every_packet(void **state) {
    (void)state;
    float *tok = malloc(N * D * sizeof(float));
    const size_t budgets[] = {1, 5, 17, 64, 300};
    for (int pol = 0; pol < 2; pol++)
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            scene sc;
            scene_init(&sc, GH, GW, D, 15);
            sp_stream_params p;
            sp_stream_params_init(&p);
            p.policy = pol ? SP_EMIT_WINDOW : SP_EMIT_FRAME;
            p.frame_budget = p.window_budget = budgets[b];
            p.window = 6;
            p.hop = 3;
            capture c = {0};
            c.check_budget = 1;
            sp_stream *s = new_stream(&p, &c);
            for (uint64_t t = 0; t < 30; t++) {
                render_busy(&sc, t, tok, NULL);
                push(s, tok, t);
            }
            assert_int_equal(c.budget_errors, 0);
            assert_int_equal(c.count, pol ? 10 : 30);
            for (size_t i = 0; i < c.count; i++)
                assert_int_equal(c.pk[i].packet.budget, budgets[b]);
            sp_stream_free(s);
            capture_free(&c);
        }
    free(tok);
}

static sp_status sink_mem(void *user, const void *data, size_t len, sp_error *err) {
    (void)err;
    capture *c = user; /* reuse: count = bytes, pk unused */
    uint8_t **buf = (uint8_t **)&c->pk;
    uint8_t *b = realloc(*buf, c->count + len);
    if (!b)
        return sp_error_set(err, SP_ERR_NOMEM, "sink");
    memcpy(b + c->count, data, len);
    *buf = b;
    c->count += len;
    return SP_OK;
}

/* Runs the busy sequence (with a query from frame 10) and returns the wire bytes. */
static uint8_t *busy_bytes(sp_emit_policy pol, size_t *len) {
    scene sc;
    scene_init(&sc, GH, GW, D, 16);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = pol;
    p.window = 6;
    p.hop = 2;
    p.window_budget = 20;
    p.frame_budget = 12;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    float q[D];
    scene_object_token(&sc, 1, 1, 1, q);
    sp_query query = {q, 1, D};
    sp_error err;
    for (uint64_t t = 0; t < 30; t++) {
        if (t == 10)
            assert_int_equal(sp_stream_set_query(s, &query, &err), SP_OK);
        render_busy(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    assert_int_equal(sp_stream_flush(s, &err), SP_OK);
    sp_wire_header h;
    assert_int_equal(sp_stream_wire_header(s, &h, &err), SP_OK);
    h.dtype = SP_DTYPE_F32;
    capture bytes = {0};
    sp_wire_writer *w;
    assert_int_equal(sp_wire_writer_new(&h, sink_mem, &bytes, &w, &err), SP_OK);
    for (size_t i = 0; i < c.count; i++)
        if (sp_wire_writer_packet(w, &c.pk[i].packet, &err))
            fail_msg("writer: %s", err.message);
    sp_wire_writer_free(w);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
    *len = bytes.count;
    return (uint8_t *)bytes.pk;
}

static void test_same_input_gives_the_same_bytes(void **state) {
    (void)state;
    for (int pol = 0; pol < 2; pol++) {
        size_t la, lb;
        uint8_t *a = busy_bytes((sp_emit_policy)pol, &la);
        uint8_t *b = busy_bytes((sp_emit_policy)pol, &lb);
        assert_int_equal(la, lb);
        assert_true(la > 1000);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
}

static void test_window_packets_are_in_time_then_raster_order_and_cover_the_window(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 17);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 6;
    p.hop = 3;
    p.window_budget = 40;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 20; t++) {
        render_busy(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    sp_error err;
    assert_int_equal(sp_stream_flush(s, &err), SP_OK);
    assert_int_equal(c.count, 7); /* 6 full windows + the partial one of frames 18..19 */
    for (size_t i = 0; i < c.count; i++) {
        const sp_packet *pk = &c.pk[i].packet;
        assert_int_equal(pk->kind, SP_PACKET_WINDOW);
        assert_int_equal(pk->window, i);
        uint64_t last = i < 6 ? 3 * i + 2 : 19;
        assert_int_equal(pk->frame_last, last);
        assert_int_equal(pk->frame_first, last >= 5 ? last - 5 : 0);
        assert_int_equal(pk->pts_last, (int64_t)last * 500000000);
        for (size_t j = 0; j < pk->count; j++) {
            const sp_token_info *a = &pk->info[j];
            /* Every token was seen within the window. */
            assert_true(a->last_pts >= pk->pts_first && a->last_pts <= pk->pts_last);
            assert_true(a->seen >= 1 && a->pts <= a->last_pts);
            if (j) {
                const sp_token_info *b = &pk->info[j - 1];
                assert_true(b->frame < a->frame ||
                            (b->frame == a->frame && b->y * GW + b->x < a->y * GW + a->x));
            }
        }
    }
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* ---- bad input ---- */

/* The per-token fates of the last frame agree with the counters: a static scene is all temporal
 * repeats after the first frame, whose tokens are candidates or GSP-pruned. */
static void test_last_fates_follow_the_graphs(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 12);
    sc.nobj = 1;
    sc.obj[0] = (scene_object){3, 4, 2, 3, 1, 1};
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    uint8_t fates[N];
    sp_error err;
    assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_ERR_STATE);
    float *tok = malloc(N * D * sizeof(float));
    uint64_t before = 0;
    for (uint64_t t = 0; t < 3; t++) {
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
        assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_OK);
        size_t cand = 0, temporal = 0, spatial = 0;
        for (size_t i = 0; i < N; i++) {
            cand += fates[i] == SP_FATE_CANDIDATE;
            temporal += fates[i] == SP_FATE_TEMPORAL;
            spatial += fates[i] == SP_FATE_SPATIAL;
        }
        assert_int_equal(cand + temporal + spatial, N);
        sp_stream_stats st;
        sp_stream_get_stats(s, &st);
        assert_int_equal(cand, st.candidates - before);
        before = st.candidates;
        if (t == 0)
            assert_int_equal(temporal, 0);
        else
            assert_true(temporal >= N - N / 20);
    }
    assert_int_equal(sp_stream_last_fates(s, fates, N - 1, &err), SP_ERR_INVALID);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* A camera panning two cells a frame (beyond the neighbourhood radius of 1) over a world of
 * distinct tokens: only the two columns entering at the border are new; the rest is found where
 * the camera saw it, through the global shift, and no frame is a scene cut. */
static void test_a_pan_faster_than_the_radius_keeps_only_the_entering_columns(void **state) {
    (void)state;
    enum { T = 6, STEP = 2, WW = GW + STEP * T };
    float *world = malloc((size_t)GH * WW * D * sizeof(float));
    float *tok = malloc(N * D * sizeof(float));
    scene_random_units(world, (size_t)GH * WW, D, 31);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    assert_int_equal(p.radius, 1);
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    sp_error err;
    uint8_t fates[N];
    for (uint64_t t = 0; t < T; t++) {
        for (size_t y = 0; y < GH; y++)
            for (size_t x = 0; x < GW; x++)
                memcpy(tok + (y * GW + x) * D, world + (y * WW + x + STEP * t) * D,
                       D * sizeof(float));
        push(s, tok, t);
        assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_OK);
        for (size_t y = 0; t > 0 && y < GH; y++)
            for (size_t x = 0; x < GW; x++) {
                bool entering = x >= GW - STEP;
                if (entering != (fates[y * GW + x] != SP_FATE_TEMPORAL))
                    fail_msg("frame %llu cell (%zu, %zu): fate %u", (unsigned long long)t, y, x,
                             fates[y * GW + x]);
            }
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.scene_cuts, 0);
    assert_int_equal(st.temporal_drops, (uint64_t)(T - 1) * (N - STEP * GH));
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
    free(world);
}

/* The token of a smooth world at column position u (in cells) of row y: the normalised linear
 * blend of key vectors placed every 1.5 cells along the row. */
static void smooth_world_token(const float *keys, size_t y, double u, float *out) {
    enum { KEYS = 64 };
    double k = u / 1.5;
    size_t i = (size_t)floor(k);
    double f = k - (double)i, nrm = 0;
    const float *a = keys + (y * KEYS + i) * D, *b = a + D;
    for (size_t j = 0; j < D; j++) {
        out[j] = (float)((1 - f) * a[j] + f * b[j]);
        nrm += (double)out[j] * out[j];
    }
    for (size_t j = 0; j < D; j++)
        out[j] = (float)(out[j] / sqrt(nrm));
}

/* A camera panning 3/4 of a cell a frame over a smooth world (the token a quarter of a cell off
 * is below tau_t for some positions, the blend of the two cells the content straddles is not):
 * only the column entering at the border is new, through the sub-cell shift. Matched at the
 * nearest whole cell, some of the seen content would be called new. */
static void test_a_pan_by_a_fraction_of_a_cell_is_matched_through_the_blended_anchors(void **s0) {
    (void)s0;
    enum { T = 6, KEYS = 64 };
    float *keys = malloc((size_t)GH * KEYS * D * sizeof(float));
    float *tok = malloc(N * D * sizeof(float));
    scene_random_units(keys, (size_t)GH * KEYS, D, 53);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    sp_error err;
    uint8_t fates[N];
    for (uint64_t t = 0; t < T; t++) {
        for (size_t y = 0; y < GH; y++)
            for (size_t x = 0; x < GW; x++)
                smooth_world_token(keys, y, (double)x + 0.75 * (double)t, tok + (y * GW + x) * D);
        push(s, tok, t);
        assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_OK);
        for (size_t y = 0; t > 0 && y < GH; y++)
            for (size_t x = 0; x < GW; x++) {
                bool entering = x == GW - 1;
                if (entering != (fates[y * GW + x] != SP_FATE_TEMPORAL))
                    fail_msg("frame %llu cell (%zu, %zu): fate %u", (unsigned long long)t, y, x,
                             fates[y * GW + x]);
            }
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.scene_cuts, 0);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
    free(keys);
}

/* A query of two rows (an exemplar's two parts): a token is as relevant as it resembles either
 * row, so with a budget of two the packet holds the token like the first row and the token like
 * the second; a rule that lets only the row closest to the frame on average vote keeps one. */
static void test_a_query_row_makes_its_look_alike_relevant_whatever_the_other_rows(void **s0) {
    (void)s0;
    float *tok = malloc(N * D * sizeof(float));
    float q[2 * D];
    scene_random_units(tok, N, D, 81);
    scene_random_units(q, 2, D, 82);
    memcpy(tok + 10 * D, q, D * sizeof(float));
    memcpy(tok + 200 * D, q + D, D * sizeof(float));
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    p.frame_budget = 2;
    p.gsp_keep = 1.0f; /* every token a candidate */
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    sp_error err;
    sp_query query = {.rows = q, .m = 2, .e = D};
    assert_int_equal(sp_stream_set_query(s, &query, &err), SP_OK);
    push(s, tok, 0);
    assert_int_equal(c.count, 1);
    const sp_packet *pk = &c.pk[0].packet;
    assert_int_equal(pk->count, 2);
    bool first = false, second = false;
    for (size_t j = 0; j < pk->count; j++) {
        size_t pos = (size_t)pk->info[j].y * GW + pk->info[j].x;
        first |= pos == 10;
        second |= pos == 200;
    }
    assert_true(first && second);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* The token of a smooth 2-D world at (v, u) (in cells, >= 0): the normalised bilinear blend of
 * key vectors on a lattice of pitch 3 cells (ZOOM_KEYS x ZOOM_KEYS of them). */
enum { ZOOM_KEYS = 24 };
static void smooth_world_token_2d(const float *keys, double v, double u, float *out) {
    double kv = v / 3.0, ku = u / 3.0;
    size_t i = (size_t)floor(kv), j = (size_t)floor(ku);
    double fv = kv - (double)i, fu = ku - (double)j, nrm = 0;
    const float *k00 = keys + (i * ZOOM_KEYS + j) * D, *k01 = k00 + D;
    const float *k10 = k00 + ZOOM_KEYS * D, *k11 = k10 + D;
    for (size_t t = 0; t < D; t++) {
        out[t] = (float)((1 - fv) * ((1 - fu) * k00[t] + fu * k01[t]) +
                         fv * ((1 - fu) * k10[t] + fu * k11[t]));
        nrm += (double)out[t] * out[t];
    }
    for (size_t t = 0; t < D; t++)
        out[t] = (float)(out[t] / sqrt(nrm));
}

/* A camera zooming out 8% a frame about the picture's centre over a smooth world: content moves
 * towards the centre by up to 0.6 cell a frame, a different fraction of a cell at every
 * position, and enters in a ring at the border. Only the border ring is new: the rest is found
 * where the zoom says it came from. Without the zoom estimate the border ring matches its
 * neighbours. */
static void test_a_zoom_out_keeps_only_the_entering_border(void **s0) {
    (void)s0;
    enum { T = 5 };
    float *keys = malloc((size_t)ZOOM_KEYS * ZOOM_KEYS * D * sizeof(float));
    float *tok = malloc(N * D * sizeof(float));
    scene_random_units(keys, (size_t)ZOOM_KEYS * ZOOM_KEYS, D, 71);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    sp_error err;
    uint8_t fates[N];
    const double cy = 0.5 * (GH - 1), cx = 0.5 * (GW - 1), mid = 0.5 * 3.0 * (ZOOM_KEYS - 1);
    for (uint64_t t = 0; t < T; t++) {
        double z = pow(1.08, (double)t);
        for (size_t y = 0; y < GH; y++)
            for (size_t x = 0; x < GW; x++)
                smooth_world_token_2d(keys, mid + z * ((double)y - cy), mid + z * ((double)x - cx),
                                      tok + (y * GW + x) * D);
        push(s, tok, t);
        assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_OK);
        for (size_t y = 0; t > 0 && y < GH; y++)
            for (size_t x = 0; x < GW; x++) {
                bool border = y == 0 || x == 0 || y == GH - 1 || x == GW - 1;
                if (border != (fates[y * GW + x] != SP_FATE_TEMPORAL))
                    fail_msg("frame %llu cell (%zu, %zu): fate %u", (unsigned long long)t, y, x,
                             fates[y * GW + x]);
            }
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.scene_cuts, 0);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
    free(keys);
}

/* Tokens split into the cell's own dimensions and its surroundings' (sp_frame.own_d): a token
 * whose own part is unchanged but whose surroundings changed (something moved next to a still
 * cell) repeats at its own position; a token that takes the own part of its neighbour with other
 * surroundings is new (neighbouring cells may look alike, so there the whole token must match);
 * without the split both are new. */
static void test_a_cell_whose_surroundings_changed_repeats_only_at_its_own_place(void **s0) {
    (void)s0;
    enum { OWN = D / 2 };
    float *a = malloc(N * D * sizeof(float)), *b = malloc(N * D * sizeof(float));
    float *rnd = malloc(N * D * sizeof(float));
    scene_random_units(a, N, D, 61);
    scene_random_units(rnd, N, D, 62);
    for (int split = 0; split <= 1; split++) {
        memcpy(b, a, N * D * sizeof(float));
        for (size_t i = 0; i < N; i++) {
            /* every cell: new surroundings; cell 1: the own part of cell 0 */
            memcpy(b + i * D + OWN, rnd + i * D + OWN, (D - OWN) * sizeof(float));
            if (i == 1)
                memcpy(b + i * D, a, OWN * sizeof(float));
        }
        sp_stream_params p;
        sp_stream_params_init(&p);
        p.policy = SP_EMIT_FRAME;
        capture c = {0};
        sp_stream *s = new_stream(&p, &c);
        sp_error err;
        for (uint64_t t = 0; t < 2; t++) {
            sp_frame f;
            sp_frame_view(&f, t ? b : a, N, D);
            f.grid_h = GH;
            f.grid_w = GW;
            f.pts = (int64_t)t * 500000000;
            f.own_d = split ? OWN : 0;
            if (sp_stream_push(s, &f, &err))
                fail_msg("push: %s", err.message);
        }
        uint8_t fates[N];
        assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_OK);
        assert_int_not_equal(fates[1], SP_FATE_TEMPORAL);
        sp_frame bad;
        sp_frame_view(&bad, b, N, D);
        bad.grid_h = GH;
        bad.grid_w = GW;
        bad.pts = 1000000000;
        bad.own_d = D; /* no dimension left for the surroundings */
        assert_int_equal(sp_stream_push(s, &bad, &err), SP_ERR_INVALID);
        assert_contains(&err, "own_d");
        size_t repeats = 0;
        for (size_t i = 2; i < N; i++)
            repeats += fates[i] == SP_FATE_TEMPORAL;
        assert_int_equal(repeats, split ? N - 2 : 0);
        sp_stream_free(s);
        capture_free(&c);
    }
    free(a);
    free(b);
    free(rnd);
}

/* Every token turns a little each frame (cosine 0.99 to the previous frame, below tau_t to the
 * first after three frames): a token is compared with its latest sighting, so nothing is new
 * after the first frame, and the window's tokens keep their first vector and pts while their
 * last_pts and seen advance. */
static void test_a_slow_drift_is_followed_and_keeps_the_first_vector_and_span(void **state) {
    (void)state;
    enum { T = 16 };
    float *a = malloc(N * D * sizeof(float)), *b = malloc(N * D * sizeof(float));
    float *tok = malloc(N * D * sizeof(float)), *first = malloc(N * D * sizeof(float));
    scene_random_units(a, N, D, 41);
    scene_random_units(b, N, D, 42);
    for (size_t i = 0; i < N; i++) { /* b orthogonal to a, unit */
        float dot = 0, nrm = 0;
        for (size_t k = 0; k < D; k++)
            dot += a[i * D + k] * b[i * D + k];
        for (size_t k = 0; k < D; k++) {
            b[i * D + k] -= dot * a[i * D + k];
            nrm += b[i * D + k] * b[i * D + k];
        }
        for (size_t k = 0; k < D; k++)
            b[i * D + k] /= sqrtf(nrm);
    }
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 16;
    p.hop = 16;
    p.window_budget = N;
    assert_true(p.tau_t > 0.9f && p.tau_t < 0.99f);
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    sp_error err;
    uint8_t fates[N];
    for (uint64_t t = 0; t < T; t++) {
        double th = 0.15 * (double)t; /* cos(0.15) = 0.989 between frames */
        for (size_t i = 0; i < N * D; i++)
            tok[i] = (float)(cos(th) * a[i] + sin(th) * b[i]);
        if (t == 0)
            memcpy(first, tok, N * D * sizeof(float));
        push(s, tok, t);
        assert_int_equal(sp_stream_last_fates(s, fates, N, &err), SP_OK);
        for (size_t i = 0; t > 0 && i < N; i++)
            if (fates[i] != SP_FATE_TEMPORAL)
                fail_msg("frame %llu token %zu: fate %u", (unsigned long long)t, i, fates[i]);
    }
    assert_int_equal(c.count, 1);
    const sp_packet *pk = &c.pk[0].packet;
    assert_true(pk->count > 0);
    for (size_t j = 0; j < pk->count; j++) {
        const sp_token_info *in = &pk->info[j];
        assert_int_equal(in->frame, 0);
        assert_int_equal(in->pts, 0);
        assert_int_equal(in->last_pts, (int64_t)(T - 1) * 500000000);
        assert_int_equal(in->seen, T);
        assert_memory_equal(pk->tokens + j * D, first + ((size_t)in->y * GW + in->x) * D,
                            D * sizeof(float));
    }
    sp_stream_free(s);
    capture_free(&c);
    free(a);
    free(b);
    free(tok);
    free(first);
}

static void test_bad_frames_are_refused_without_side_effects(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 18);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    capture c = {0}, ref = {0};
    sp_stream *s = new_stream(&p, &c);
    sp_stream *r = new_stream(&p, &ref);
    float *tok = malloc(N * D * sizeof(float));
    sp_error err;
    sp_frame f;
    for (uint64_t t = 0; t < 10; t++) {
        render_busy(&sc, t, tok, NULL);
        push(s, tok, t);
        push(r, tok, t);
        /* pts going backwards */
        sp_frame_view(&f, tok, N, D);
        f.grid_h = GH;
        f.grid_w = GW;
        f.pts = (int64_t)t * 500000000 - 1;
        assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
        assert_contains(&err, "backwards");
        /* no pts */
        f.pts = SP_PTS_NONE;
        assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
        assert_contains(&err, "no pts");
        /* another shape */
        f.pts = (int64_t)(t + 1) * 500000000;
        f.grid_h = 8;
        f.grid_w = 32;
        assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
        assert_contains(&err, "differs");
        sp_frame_view(&f, tok, N / 2, D);
        f.pts = (int64_t)(t + 1) * 500000000;
        assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
        /* a NaN token */
        float keep = tok[7 * D + 3];
        tok[7 * D + 3] = NAN;
        sp_frame_view(&f, tok, N, D);
        f.grid_h = GH;
        f.grid_w = GW;
        f.pts = (int64_t)(t + 1) * 500000000;
        assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
        assert_contains(&err, "row 7");
        tok[7 * D + 3] = keep;
        /* a query of the wrong width */
        float q[D + 1] = {0};
        q[0] = 1;
        sp_query query = {q, 1, D + 1};
        assert_int_equal(sp_stream_set_query(s, &query, &err), SP_ERR_INVALID);
        assert_contains(&err, "width");
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_int_equal(st.frames_rejected, 50);
    assert_int_equal(st.frames_in, 10);
    /* The rejected frames changed nothing: same packets as the stream that never saw them. */
    assert_int_equal(c.count, ref.count);
    for (size_t i = 0; i < c.count; i++) {
        assert_int_equal(c.pk[i].packet.count, ref.pk[i].packet.count);
        assert_memory_equal(c.pk[i].packet.tokens, ref.pk[i].packet.tokens,
                            c.pk[i].packet.count * D * sizeof(float));
        assert_memory_equal(c.pk[i].packet.info, ref.pk[i].packet.info,
                            c.pk[i].packet.count * sizeof(sp_token_info));
    }
    sp_stream_free(s);
    sp_stream_free(r);
    capture_free(&c);
    capture_free(&ref);
    free(tok);
}

/* One refused parameter per row: the field, the bad value and the status. FIELD takes the field's
 * type from its declaration, so a row cannot write the wrong width. */
typedef enum { AS_U32, AS_SIZE, AS_FLOAT } field_type;

typedef struct param_refusal {
    const char *field; /* the message must name it */
    size_t offset;
    field_type type;
    double bad;
    sp_status status;
} param_refusal;

#define TYPE_OF(x) _Generic((x), uint32_t : AS_U32, size_t : AS_SIZE, float : AS_FLOAT)
#define FIELD(name) #name, offsetof(sp_stream_params, name), TYPE_OF(((sp_stream_params *)0)->name)

static const param_refusal stream_param_refusals[] = {
    {FIELD(hop), 17, SP_ERR_INVALID}, /* above the default window of 16 */
    {FIELD(window), 0, SP_ERR_INVALID},
    {FIELD(tau_t), NAN, SP_ERR_INVALID},
    {FIELD(gsp_keep), 0, SP_ERR_INVALID},
    {FIELD(cut_fraction), 1.5, SP_ERR_INVALID},
    {FIELD(frame_budget), 0, SP_ERR_INVALID},
    {FIELD(history_dtype), SP_DTYPE_I32, SP_ERR_UNSUPPORTED}, /* an enum: unsigned, like uint32_t */
    {FIELD(kernel_sigma), -1, SP_ERR_INVALID},
    {FIELD(mass_gamma), 3, SP_ERR_INVALID},
    {FIELD(radius), 9, SP_ERR_INVALID},
};

static void set_bad_value(sp_stream_params *p, const param_refusal *r) {
    char *at = (char *)p + r->offset;
    switch (r->type) {
        case AS_U32:
            *(uint32_t *)at = (uint32_t)r->bad;
            break;
        case AS_SIZE:
            *(size_t *)at = (size_t)r->bad;
            break;
        case AS_FLOAT:
            *(float *)at = (float)r->bad;
            break;
    }
}

static void test_params_out_of_range_are_refused_with_the_field_named(void **state) {
    (void)state;
    size_t rows = sizeof stream_param_refusals / sizeof stream_param_refusals[0];
    for (size_t i = 0; i < rows; i++) {
        const param_refusal *r = &stream_param_refusals[i];
        sp_stream_params p;
        sp_stream_params_init(&p);
        set_bad_value(&p, r);
        sp_error err;
        sp_stream *s;
        sp_status st = sp_stream_new(&p, &s, &err);
        if (st != r->status)
            fail_msg("%s = %g: status %d, expected %d", r->field, r->bad, st, r->status);
        assert_contains(&err, r->field);
    }
    sp_error err;
    sp_emit_policy pol;
    assert_int_equal(sp_emit_policy_from_name("window", &pol, &err), SP_OK);
    assert_int_equal(pol, SP_EMIT_WINDOW);
    assert_int_equal(sp_emit_policy_from_name("frames", &pol, &err), SP_ERR_INVALID);
    assert_contains(&err, "frame, window");
}

static void test_query_set_before_the_first_frame_with_the_wrong_width_fails_the_push(void **s0) {
    (void)s0;
    sp_stream_params p;
    sp_stream_params_init(&p);
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float q[2 * (D + 2)];
    for (size_t i = 0; i < 2 * (D + 2); i++)
        q[i] = (float)i;
    sp_query query = {q, 2, D + 2};
    sp_error err;
    assert_int_equal(sp_stream_set_query(s, &query, &err), SP_OK);
    float *tok = calloc(N * D, sizeof(float));
    sp_frame f;
    sp_frame_view(&f, tok, N, D);
    f.pts = 0;
    assert_int_equal(sp_stream_push(s, &f, &err), SP_ERR_INVALID);
    assert_contains(&err, "query");
    sp_stream_clear_query(s);
    assert_int_equal(sp_stream_push(s, &f, &err), SP_OK);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* ---- history ---- */

static void test_history_never_exceeds_its_byte_bound_and_counts_evictions(void **state) {
    (void)state;
    const size_t bounds[] = {0, 100, 20000, 2000000};
    float *tok = malloc(N * D * sizeof(float));
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        for (int dt = 0; dt < 2; dt++) {
            scene sc;
            scene_init(&sc, GH, GW, D, 19);
            sp_stream_params p;
            sp_stream_params_init(&p);
            p.window = 2;
            p.hop = 1;
            p.history_bytes = bounds[b];
            p.history_dtype = dt ? SP_DTYPE_F32 : SP_DTYPE_F16;
            capture c = {0};
            sp_stream *s = new_stream(&p, &c);
            sp_stream_stats st;
            uint64_t prev_total = 0;
            for (uint64_t t = 0; t < 20; t++) {
                sc.scene_id = (uint32_t)t; /* a cut every frame: many candidates leave */
                scene_render(&sc, t, tok, NULL);
                push(s, tok, t);
                sp_stream_get_stats(s, &st);
                assert_true(st.history_bytes <= bounds[b]);
                assert_int_equal(st.history_bound, bounds[b]);
                size_t rec = (40 + D * (dt ? 4 : 2) + 7) & ~(size_t)7;
                assert_true(st.history_tokens * rec <= bounds[b]);
                /* Nothing vanishes: everything that left the window is held or counted. */
                uint64_t total = st.history_tokens + st.history_evicted;
                assert_true(total >= prev_total);
                prev_total = total;
                assert_int_equal(total + st.window_tokens, st.candidates);
            }
            if (bounds[b] < 2000000)
                assert_true(st.history_evicted > 0);
            else
                assert_int_equal(st.history_evicted, 0);
            sp_stream_free(s);
            capture_free(&c);
        }
    }
    free(tok);
}

static void test_history_age_limit_evicts_old_entries(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 20);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 2;
    p.hop = 1;
    p.history_max_age = 3 * 500000000LL; /* 1.5 s = 3 frames */
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 20; t++) {
        sc.scene_id = (uint32_t)t;
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_true(st.history_aged > 0);
    assert_int_equal(st.history_evicted, 0);
    /* Only entries last seen within 1.5 s of the newest frame (t = 19) remain. */
    sp_packet_buf out;
    sp_packet_buf_init(&out);
    sp_error err;
    assert_int_equal(
        sp_stream_reselect(s, NULL, NULL, 100000, SP_PTS_NONE, SP_PTS_NONE, &out, &err), SP_OK);
    for (size_t i = 0; i < out.packet.count; i++)
        assert_true(out.packet.info[i].last_pts >= 16 * 500000000LL);
    assert_int_equal(out.packet.count, st.history_tokens + st.window_tokens);
    sp_packet_buf_free(&out);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

static void test_history_f16_saturates_large_values_and_counts_them(void **state) {
    (void)state;
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 1;
    p.hop = 1;
    p.gsp_keep = 1.0f;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 3; t++) {
        for (size_t i = 0; i < N * D; i++)
            tok[i] = (float)((i * 7919 + t * 104729) % 1000) - 500.0f;
        tok[0] = 1e6f;
        push(s, tok, t);
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_true(st.history_clamped >= 1);
    sp_packet_buf out;
    sp_packet_buf_init(&out);
    sp_error err;
    assert_int_equal(sp_stream_reselect(s, NULL, NULL, 100000, 0, 0, &out, &err), SP_OK);
    assert_int_equal(out.packet.count, N);
    for (size_t i = 0; i < out.packet.count * D; i++)
        assert_true(isfinite(out.packet.tokens[i]));
    assert_true(out.packet.tokens[0] == 65504.0f);
    sp_packet_buf_free(&out);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

static void test_window_never_holds_more_than_its_token_bound(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 25);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 8;
    p.hop = 4;
    p.window_max_tokens = 300; /* one frame's 192 candidates fit, two do not */
    capture c = {0};
    c.check_budget = 1;
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    sp_stream_stats st;
    for (uint64_t t = 0; t < 24; t++) {
        sc.scene_id = (uint32_t)t; /* everything new every frame */
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
        sp_stream_get_stats(s, &st);
        assert_true(st.window_tokens <= 300);
        assert_int_equal(st.window_tokens + st.history_tokens + st.history_evicted, st.candidates);
    }
    assert_true(st.window_overflow > 0);
    assert_int_equal(c.budget_errors, 0);
    /* The newest frame's candidates are the ones kept. */
    const sp_packet *last = &c.pk[c.count - 1].packet;
    for (size_t i = 0; i < last->count; i++)
        assert_true(last->info[i].frame >= 22);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

static void test_history_half_decoding_equals_the_reference_conversion(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u)
            continue; /* infinities and NaN are never stored */
        float a = sp_half_bits_to_float((uint16_t)h), b = sp_half_to_float((uint16_t)h);
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("half %04x: %a vs %a", h, (double)a, (double)b);
    }
}

/* ---- reselect ---- */

static void test_reselect_answers_from_window_and_history_by_time_range(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 21);
    sc.nobj = 1;
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 4;
    p.hop = 2;
    p.window_budget = 16;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    /* Three scenes of 10 frames; scene k has object 10 + k. */
    for (uint64_t t = 0; t < 30; t++) {
        sc.scene_id = (uint32_t)(t / 10);
        sc.obj[0] = (scene_object){3, 3, 6, 6, 10 + (uint32_t)(t / 10), 1};
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    assert_true(st.history_tokens > 0);
    sp_packet_buf out;
    sp_packet_buf_init(&out);
    sp_error err;
    /* Scene 0's span, answered from the history alone. */
    int64_t t0 = 0, t1 = 9 * 500000000LL;
    assert_int_equal(sp_stream_reselect(s, NULL, NULL, 20, t0, t1, &out, &err), SP_OK);
    assert_int_equal(out.packet.count, 20);
    assert_int_equal(out.packet.kind, SP_PACKET_RESELECT);
    assert_int_equal(out.packet.window, SP_WINDOW_NONE);
    for (size_t i = 0; i < out.packet.count; i++)
        assert_true(out.packet.info[i].frame < 10);
    /* A query for scene 1's object over the whole stream picks its tokens. */
    sc.scene_id = 1;
    float q[2 * D];
    scene_object_base(&sc, 11, q);
    scene_object_token(&sc, 11, 2, 2, q + D);
    sp_query query = {q, 2, D};
    assert_int_equal(sp_stream_reselect(s, NULL, &query, 6, SP_PTS_NONE, SP_PTS_NONE, &out, &err),
                     SP_OK);
    assert_int_equal(out.packet.count, 6);
    assert_int_equal(out.packet.query_hash, sp_query_hash(&query));
    size_t on = 0;
    for (size_t i = 0; i < 6; i++) {
        const sp_token_info *in = &out.packet.info[i];
        on +=
            in->frame >= 10 && in->frame < 20 && in->y >= 6 && in->y < 9 && in->x >= 6 && in->x < 9;
    }
    assert_true(on >= 4);
    /* Tokens come back as they were stored (float16 from history). */
    for (size_t i = 1; i < out.packet.count; i++)
        assert_true(out.packet.info[i - 1].frame <= out.packet.info[i].frame);
    /* An empty range, a reversed range, a wrong query width. */
    assert_int_equal(
        sp_stream_reselect(s, NULL, NULL, 5, 100LL * 500000000, SP_PTS_NONE, &out, &err), SP_OK);
    assert_int_equal(out.packet.count, 0);
    assert_int_equal(sp_stream_reselect(s, NULL, NULL, 5, 10, 5, &out, &err), SP_ERR_INVALID);
    assert_contains(&err, "empty time range");
    sp_query bad = {q, 1, D - 1};
    assert_int_equal(sp_stream_reselect(s, NULL, &bad, 5, SP_PTS_NONE, SP_PTS_NONE, &out, &err),
                     SP_ERR_INVALID);
    assert_contains(&err, "width");
    sp_packet_buf_free(&out);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

static void test_reselect_shortlists_large_ranges_and_keeps_the_budget(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 22);
    sc.nobj = 1;
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 2;
    p.hop = 1;
    p.reselect_max = 50;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 12; t++) {
        sc.scene_id = (uint32_t)t;
        sc.obj[0] = (scene_object){3, 3, 2, 2, 30 + (uint32_t)t, 1};
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    sp_packet_buf out;
    sp_packet_buf_init(&out);
    sp_error err;
    for (size_t k = 1; k <= 60; k += 59) {
        assert_int_equal(sp_stream_reselect(s, NULL, NULL, k, SP_PTS_NONE, SP_PTS_NONE, &out, &err),
                         SP_OK);
        assert_int_equal(out.packet.count, k < 50 ? k : 50);
    }
    /* With a query the shortlist holds the closest candidates: scene 7's object. */
    sc.scene_id = 7;
    float q[D];
    scene_object_base(&sc, 37, q);
    sp_query query = {q, 1, D};
    assert_int_equal(sp_stream_reselect(s, NULL, &query, 3, SP_PTS_NONE, SP_PTS_NONE, &out, &err),
                     SP_OK);
    assert_int_equal(out.packet.count, 3);
    size_t on = 0;
    for (size_t i = 0; i < 3; i++)
        on += out.packet.info[i].frame == 7 && out.packet.info[i].y >= 2 &&
              out.packet.info[i].y < 5 && out.packet.info[i].x >= 2 && out.packet.info[i].x < 5;
    assert_true(on >= 2);
    sp_packet_buf_free(&out);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* The greedy picks of a budget are the first picks of any larger budget: a budget that is a
 * small share of the candidates takes the batched kernel rows (dpp.h), a large one the whole
 * matrix, and both must pick the same tokens. */
static void test_reselect_batched_rows_pick_what_the_whole_kernel_picks(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 23);
    sc.nobj = 2;
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 2;
    p.hop = 1;
    capture c = {0};
    sp_stream *s = new_stream(&p, &c);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 10; t++) {
        sc.scene_id = (uint32_t)t;
        sc.obj[0] = (scene_object){3, 3, 2, 2, 30 + (uint32_t)t, 1};
        sc.obj[1] = (scene_object){4, 2, 9, 8, 60 + (uint32_t)t, 1};
        scene_render(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    float q[D];
    sc.scene_id = 4;
    scene_object_base(&sc, 34, q);
    sp_query query = {q, 1, D};
    sp_packet_buf all, few;
    sp_packet_buf_init(&all);
    sp_packet_buf_init(&few);
    sp_error err;
    assert_int_equal(
        sp_stream_reselect(s, NULL, &query, 100000, SP_PTS_NONE, SP_PTS_NONE, &all, &err), SP_OK);
    size_t n = all.packet.count, small = n / 8, large = n / 2;
    assert_true(n >= 400 && 5 * small < n && 5 * large >= n);
    assert_int_equal(
        sp_stream_reselect(s, NULL, &query, small, SP_PTS_NONE, SP_PTS_NONE, &few, &err), SP_OK);
    assert_int_equal(
        sp_stream_reselect(s, NULL, &query, large, SP_PTS_NONE, SP_PTS_NONE, &all, &err), SP_OK);
    assert_int_equal(few.packet.count, small);
    size_t found = 0;
    for (size_t i = 0; i < small; i++) {
        const sp_token_info *a = &few.packet.info[i];
        for (size_t j = 0; j < large; j++) {
            const sp_token_info *b = &all.packet.info[j];
            if (a->frame == b->frame && a->y == b->y && a->x == b->x) {
                assert_memory_equal(few.packet.tokens + i * D, all.packet.tokens + j * D,
                                    D * sizeof(float));
                found++;
                break;
            }
        }
    }
    assert_int_equal(found, small);
    sp_packet_buf_free(&all);
    sp_packet_buf_free(&few);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* ---- QCSP in the stream: rounds, kernel, mass ---- */

static sp_status keep_last(void *user, const sp_packet *p, sp_error *err) {
    sp_packet_buf *b = user;
    return sp_packet_buf_copy(b, p, err);
}

static void test_exhausted_kernel_starts_new_rounds_instead_of_the_first_candidates(void **s0) {
    (void)s0;
    /* Tokens in a 2-D subspace: the cosine DPP is exhausted after two picks. */
    float *tok = malloc(N * D * sizeof(float));
    sp_rng r;
    sp_rng_seed(&r, 5);
    for (size_t i = 0; i < N; i++) {
        double a = sp_rng_unit(&r) * 2 - 1, b = sp_rng_unit(&r) * 2 - 1;
        for (size_t j = 0; j < D; j++)
            tok[i * D + j] = (float)(j == 0 ? a : j == 1 ? b : 0.0);
    }
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = SP_EMIT_FRAME;
    p.frame_budget = 40;
    p.gsp_keep = 1.0f;
    p.kernel_sigma = 0.0f; /* plain cosine: rank 2 */
    p.mass_gamma = 0.0f;
    sp_packet_buf last;
    sp_packet_buf_init(&last);
    p.on_packet = keep_last;
    p.user = &last;
    sp_stream *s;
    sp_error err;
    assert_int_equal(sp_stream_new(&p, &s, &err), SP_OK);
    sp_frame f;
    sp_frame_view(&f, tok, N, D);
    f.grid_h = GH;
    f.grid_w = GW;
    f.pts = 0;
    assert_int_equal(sp_stream_push(s, &f, &err), SP_OK);
    assert_int_equal(last.packet.count, 40);
    /* Filling by index after the two greedy picks would take positions 0..37; each new round
     * takes a second, orthogonal token from anywhere in the frame. */
    size_t beyond = 0;
    for (size_t i = 0; i < 40; i++)
        beyond += (size_t)last.packet.info[i].y * GW + last.packet.info[i].x >= 40;
    if (beyond < 10)
        fail_msg("only %zu of 40 picks beyond the first 40 positions", beyond);
    sp_stream_free(s);
    sp_packet_buf_free(&last);
    free(tok);
}

/* Picks of one frame (rows 0..N/2 a target: near-duplicates of one direction, each with its own
 * small part; the rest distinct tokens aligned with it by 0.5 to 1) under `policy`, with the
 * target's direction as the query when `query`; returns how many of the picks are the target's. */
static size_t target_picks(sp_emit_policy policy, float qsigma, bool query, uint32_t *pos_out) {
    float *tok = malloc(N * D * sizeof(float));
    assert_non_null(tok);
    sp_rng r;
    sp_rng_seed(&r, 9);
    for (size_t i = 0; i < N; i++) {
        double align = 0.5 + 0.5 * sp_rng_unit(&r); /* the others: partly relevant */
        for (size_t j = 0; j < D; j++) {
            double noise = sp_rng_unit(&r) * 2 - 1;
            tok[i * D + j] = i < N / 2 ? (float)((j == 0) + 0.03 * noise * (j > 0))
                                       : (float)(align * (j == 0) + 0.3 * noise * (j > 0));
        }
    }
    float qrow[D] = {1.0f};
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = policy;
    p.window = 1;
    p.hop = 1;
    p.window_budget = p.frame_budget = 24;
    p.gsp_keep = 1.0f;
    p.query_kernel_sigma = qsigma;
    sp_packet_buf last;
    sp_packet_buf_init(&last);
    p.on_packet = keep_last;
    p.user = &last;
    sp_stream *s;
    sp_error err;
    assert_int_equal(sp_stream_new(&p, &s, &err), SP_OK);
    if (query) {
        sp_query q = {.rows = qrow, .m = 1, .e = D};
        assert_int_equal(sp_stream_set_query(s, &q, &err), SP_OK);
    }
    sp_frame f;
    sp_frame_view(&f, tok, N, D);
    f.grid_h = GH;
    f.grid_w = GW;
    f.pts = 0;
    assert_int_equal(sp_stream_push(s, &f, &err), SP_OK);
    assert_int_equal(last.packet.count, 24);
    size_t target = 0;
    for (size_t i = 0; i < 24; i++) {
        uint32_t pos = (uint32_t)last.packet.info[i].y * GW + last.packet.info[i].x;
        target += pos < N / 2;
        if (pos_out)
            pos_out[i] = pos;
    }
    sp_stream_free(s);
    sp_packet_buf_free(&last);
    free(tok);
    return target;
}

static void test_a_query_kernel_width_keeps_alike_parts_of_the_target(void **s0) {
    (void)s0;
    for (int policy = 0; policy < 2; policy++) {
        sp_emit_policy pol = policy ? SP_EMIT_WINDOW : SP_EMIT_FRAME;
        size_t wide = target_picks(pol, 0.0f, true, NULL);
        size_t narrow = target_picks(pol, 0.05f, true, NULL);
        if (!(narrow > wide))
            fail_msg("policy %d: %zu target picks with the query width 0.05, %zu with 0 (the "
                     "stream's width)",
                     policy, narrow, wide);
        /* 0 and the stream's own width are the same kernel */
        uint32_t a[24], b[24];
        target_picks(pol, 0.0f, true, a);
        target_picks(pol, SP_STREAM_DEFAULT_KERNEL_SIGMA, true, b);
        assert_memory_equal(a, b, sizeof a);
        /* without a query the width is not used */
        target_picks(pol, 0.0f, false, a);
        target_picks(pol, 0.05f, false, b);
        assert_memory_equal(a, b, sizeof a);
    }
}

static void test_without_a_query_the_window_prefers_tokens_that_stand_for_many(void **s0) {
    (void)s0;
    /* Top half: distinct random tokens; bottom half: one uniform region that GSP collapses. */
    float *tok = malloc(N * D * sizeof(float));
    sp_rng r;
    sp_rng_seed(&r, 6);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++)
            tok[i * D + j] = i < N / 2 ? (float)(sp_rng_unit(&r) * 2 - 1)
                                       : (float)((j == 3) + 0.01 * (sp_rng_unit(&r) * 2 - 1));
    for (int gamma = 0; gamma < 2; gamma++) {
        sp_stream_params p;
        sp_stream_params_init(&p);
        p.window = 1;
        p.hop = 1;
        p.window_budget = 1;
        p.mass_gamma = gamma ? 0.25f : 0.0f;
        sp_packet_buf last;
        sp_packet_buf_init(&last);
        p.on_packet = keep_last;
        p.user = &last;
        sp_stream *s;
        sp_error err;
        assert_int_equal(sp_stream_new(&p, &s, &err), SP_OK);
        sp_frame f;
        sp_frame_view(&f, tok, N, D);
        f.grid_h = GH;
        f.grid_w = GW;
        f.pts = 0;
        assert_int_equal(sp_stream_push(s, &f, &err), SP_OK);
        assert_int_equal(last.packet.count, 1);
        size_t pos = (size_t)last.packet.info[0].y * GW + last.packet.info[0].x;
        if (gamma)
            assert_true(pos >= N / 2); /* the region's representative */
        else
            assert_true(pos < N / 2); /* all equal quality: the first candidate */
        sp_stream_free(s);
        sp_packet_buf_free(&last);
    }
    free(tok);
}

/* ---- threads ---- */

typedef struct race {
    sp_stream *s;
    volatile int stop;
    size_t loops;
} race;

static void *query_thread(void *arg) {
    race *r = arg;
    float q[2 * D];
    for (size_t i = 0; i < 2 * D; i++)
        q[i] = (float)((i * 31) % 17) - 8.0f;
    sp_query query = {q, 2, D};
    sp_packet_buf out;
    sp_packet_buf_init(&out);
    while (!r->stop) {
        sp_error err;
        if (sp_stream_set_query(r->s, &query, &err) && !strstr(err.message, "width"))
            break;
        sp_stream_stats st;
        sp_stream_get_stats(r->s, &st);
        if (r->loops % 3 == 0)
            sp_stream_reselect(r->s, NULL, &query, 8, SP_PTS_NONE, SP_PTS_NONE, &out, &err);
        sp_stream_clear_query(r->s);
        r->loops++;
    }
    sp_packet_buf_free(&out);
    return NULL;
}

static void test_queries_and_reselects_from_another_thread_during_pushes(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, GH, GW, D, 23);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = 4;
    p.hop = 2;
    p.window_budget = 24;
    capture c = {0};
    c.check_budget = 1;
    sp_stream *s = new_stream(&p, &c);
    race r = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, query_thread, &r), 0);
    float *tok = malloc(N * D * sizeof(float));
    for (uint64_t t = 0; t < 60; t++) {
        render_busy(&sc, t, tok, NULL);
        push(s, tok, t);
    }
    r.stop = 1;
    pthread_join(th, NULL);
    assert_true(r.loops > 0);
    assert_int_equal(c.budget_errors, 0);
    assert_int_equal(c.count, 30);
    sp_stream_free(s);
    capture_free(&c);
    free(tok);
}

/* ---- out of memory ---- */

static void test_every_allocation_failure_is_reported_not_crashed(void **state) {
    (void)state;
    scene sc;
    scene_init(&sc, 6, 6, 8, 24);
    float tok[36 * 8];
    size_t failures = 0;
    for (long k = 0; k < 4000; k++) {
        sp_stream_params p;
        sp_stream_params_init(&p);
        p.window = 3;
        p.hop = 2;
        p.window_budget = 5;
        p.history_bytes = 2000;
        p.match_all = k % 2;
        capture c = {0};
        p.on_packet = on_packet;
        p.user = &c;
        sp_error err;
        sp_stream *s = NULL;
        sp_fault_fail_after(k);
        sp_status st = sp_stream_new(&p, &s, &err);
        int failed = st != SP_OK;
        if (!st) {
            for (uint64_t t = 0; t < 8; t++) {
                sc.scene_id = (uint32_t)(t / 3);
                scene_render(&sc, t, tok, NULL);
                sp_frame f;
                sp_frame_view(&f, tok, 36, 8);
                f.pts = (int64_t)t;
                st = sp_stream_push(s, &f, &err);
                if (st) {
                    assert_int_equal(st, SP_ERR_NOMEM);
                    failed = 1;
                }
            }
            float q[8] = {1, 0, 0, 0, 0, 0, 0, 0};
            sp_query query = {q, 1, 8};
            if (sp_stream_set_query(s, &query, &err))
                failed = 1;
            sp_packet_buf out;
            sp_packet_buf_init(&out);
            if (sp_stream_reselect(s, NULL, &query, 4, SP_PTS_NONE, SP_PTS_NONE, &out, &err))
                failed = 1;
            sp_packet_buf_free(&out);
            sp_stream_free(s);
        } else {
            assert_int_equal(st, SP_ERR_NOMEM);
        }
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        capture_free(&c);
        if (!injected) {
            assert_false(failed);
            break; /* every allocation of the run has been failed once */
        }
        failures++;
    }
    assert_true(failures > 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_scene_emits_at_most_5_percent_after_first_frame),
        cmocka_unit_test(test_moving_object_tokens_are_emitted_every_frame),
        cmocka_unit_test(test_scene_cut_emits_the_next_frame_in_full),
        cmocka_unit_test(test_query_set_mid_stream_steers_the_next_windows),
        cmocka_unit_test(test_budgets_are_exact_in_every_packet),
        cmocka_unit_test(test_same_input_gives_the_same_bytes),
        cmocka_unit_test(test_window_packets_are_in_time_then_raster_order_and_cover_the_window),
        cmocka_unit_test(test_last_fates_follow_the_graphs),
        cmocka_unit_test(test_a_pan_faster_than_the_radius_keeps_only_the_entering_columns),
        cmocka_unit_test(test_a_pan_by_a_fraction_of_a_cell_is_matched_through_the_blended_anchors),
        cmocka_unit_test(test_a_zoom_out_keeps_only_the_entering_border),
        cmocka_unit_test(test_a_query_row_makes_its_look_alike_relevant_whatever_the_other_rows),
        cmocka_unit_test(test_a_cell_whose_surroundings_changed_repeats_only_at_its_own_place),
        cmocka_unit_test(test_a_slow_drift_is_followed_and_keeps_the_first_vector_and_span),
        cmocka_unit_test(test_bad_frames_are_refused_without_side_effects),
        cmocka_unit_test(test_params_out_of_range_are_refused_with_the_field_named),
        cmocka_unit_test(test_query_set_before_the_first_frame_with_the_wrong_width_fails_the_push),
        cmocka_unit_test(test_history_never_exceeds_its_byte_bound_and_counts_evictions),
        cmocka_unit_test(test_history_age_limit_evicts_old_entries),
        cmocka_unit_test(test_history_f16_saturates_large_values_and_counts_them),
        cmocka_unit_test(test_window_never_holds_more_than_its_token_bound),
        cmocka_unit_test(test_history_half_decoding_equals_the_reference_conversion),
        cmocka_unit_test(test_reselect_answers_from_window_and_history_by_time_range),
        cmocka_unit_test(test_reselect_shortlists_large_ranges_and_keeps_the_budget),
        cmocka_unit_test(test_reselect_batched_rows_pick_what_the_whole_kernel_picks),
        cmocka_unit_test(test_exhausted_kernel_starts_new_rounds_instead_of_the_first_candidates),
        cmocka_unit_test(test_without_a_query_the_window_prefers_tokens_that_stand_for_many),
        cmocka_unit_test(test_a_query_kernel_width_keeps_alike_parts_of_the_target),
        cmocka_unit_test(test_queries_and_reselects_from_another_thread_during_pushes),
        cmocka_unit_test(test_every_allocation_failure_is_reported_not_crashed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
