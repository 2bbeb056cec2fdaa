/* The stream with pixel evidence (sp_frame.evidence): without it, or with only UNKNOWN verdicts,
 * nothing changes; a cell uncovered by a moving object that looks like its neighbours is new when
 * the pixels say so; a moved object's cells repeat the candidates where it was although their
 * tokens changed; a frame the change gate skipped, pushed again without evidence, keeps the next
 * frame's evidence consistent; under a still camera a seen cell no candidate stands for is new;
 * malformed evidence is refused with a message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "scriptprune/stream.h"
#include "scene.h"

enum { GH = 8, GW = 8, N = GH * GW, D = 32 };

/* base + eps * noise, normalised: tokens that all look alike (grass). */
static void alike(float *x, size_t rows, const float *base, float eps, uint64_t seed) {
    scene_random_units(x, rows, D, seed);
    for (size_t i = 0; i < rows; i++) {
        double nrm = 0;
        for (size_t k = 0; k < D; k++) {
            x[i * D + k] = base[k] + eps * x[i * D + k];
            nrm += (double)x[i * D + k] * x[i * D + k];
        }
        for (size_t k = 0; k < D; k++)
            x[i * D + k] /= (float)sqrt(nrm);
    }
}

typedef struct run {
    sp_stream *s;
    size_t packets;
    size_t tokens[64];  /* per packet */
    uint32_t seen[64];  /* per packet: the largest `seen` */
    uint64_t first[64]; /* per packet: frame of its first token */
    uint8_t seen0[N];   /* the first packet: `seen` of each frame-0 token by position, 0: absent */
    uint32_t last[4 * N]; /* the last packet: (frame, y, x, seen) of each token */
    size_t last_count;
} run;

static sp_status on_packet(void *user, const sp_packet *p, sp_error *err) {
    (void)err;
    run *r = user;
    if (r->packets < 64) {
        r->tokens[r->packets] = p->count;
        uint32_t most = 0;
        for (size_t i = 0; i < p->count; i++)
            most = p->info[i].seen > most ? p->info[i].seen : most;
        r->seen[r->packets] = most;
        r->first[r->packets] = p->count ? p->info[0].frame : UINT64_MAX;
    }
    r->last_count = p->count < N ? p->count : N;
    for (size_t i = 0; i < r->last_count; i++) {
        r->last[4 * i] = (uint32_t)p->info[i].frame;
        r->last[4 * i + 1] = p->info[i].y;
        r->last[4 * i + 2] = p->info[i].x;
        r->last[4 * i + 3] = p->info[i].seen;
    }
    for (size_t i = 0; r->packets == 0 && i < p->count; i++)
        if (p->info[i].frame == 0)
            r->seen0[p->info[i].y * GW + p->info[i].x] = (uint8_t)p->info[i].seen;
    r->packets++;
    return SP_OK;
}

static void run_start_all(run *r, sp_emit_policy policy, bool match_all) {
    memset(r, 0, sizeof *r);
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.policy = policy;
    p.hop = 2;
    p.window = 4;
    p.gsp_keep = 1.0f; /* every new token a candidate: positions are what the tests look at */
    p.match_all = match_all;
    p.on_packet = on_packet;
    p.user = r;
    sp_error err;
    if (sp_stream_new(&p, &r->s, &err))
        fail_msg("sp_stream_new: %s", err.message);
}

static void run_start(run *r, sp_emit_policy policy) {
    run_start_all(r, policy, false);
}

static void push(run *r, const float *tok, uint64_t t, const sp_pixel_evidence *ev,
                 uint8_t fates[N]) {
    sp_frame f;
    sp_frame_view(&f, tok, N, D);
    f.grid_h = GH;
    f.grid_w = GW;
    f.pts = (int64_t)t * 500000000;
    f.evidence = ev;
    sp_error err;
    if (sp_stream_push(r->s, &f, &err))
        fail_msg("push frame %llu: %s", (unsigned long long)t, err.message);
    if (sp_stream_last_fates(r->s, fates, N, &err))
        fail_msg("fates: %s", err.message);
}

static void seen_everywhere(sp_pixel_evidence *ev) {
    for (size_t p = 0; p < N; p++)
        ev[p] = (sp_pixel_evidence){0.0f, 0.0f, SP_PIXELS_SEEN};
}

/* A busy sequence (every frame some cells change, some move) pushed with no evidence and with
 * UNKNOWN verdicts everywhere: the same fates and the same packets. */
static void test_without_evidence_or_with_unknown_verdicts_nothing_changes(void **state) {
    (void)state;
    enum { T = 10 };
    float *tok = malloc((size_t)T * N * D * sizeof(float));
    scene_random_units(tok, N, D, 1);
    for (uint64_t t = 1; t < T; t++) {
        memcpy(tok + t * N * D, tok + (t - 1) * N * D, N * D * sizeof(float));
        scene_random_units(tok + t * N * D + (t % 5) * 9 * D, 7, D, 100 + t); /* 7 cells change */
    }
    sp_pixel_evidence unknown[N];
    memset(unknown, 0, sizeof unknown);
    for (int pol = 0; pol < 2; pol++) {
        run a, b;
        run_start(&a, pol ? SP_EMIT_WINDOW : SP_EMIT_FRAME);
        run_start(&b, pol ? SP_EMIT_WINDOW : SP_EMIT_FRAME);
        for (uint64_t t = 0; t < T; t++) {
            uint8_t fa[N], fb[N];
            push(&a, tok + t * N * D, t, NULL, fa);
            push(&b, tok + t * N * D, t, unknown, fb);
            assert_memory_equal(fa, fb, N);
        }
        assert_int_equal(a.packets, b.packets);
        assert_memory_equal(a.tokens, b.tokens, sizeof a.tokens);
        assert_memory_equal(a.seen, b.seen, sizeof a.seen);
        sp_stream_free(a.s);
        sp_stream_free(b.s);
    }
    free(tok);
}

/* Grass: every cell looks like its neighbours. An object on cell (3, 3) moves to (3, 4): the
 * uncovered cell (3, 3) matches the grass beside it, so without evidence it is a repeat; the
 * pixels say it is content the previous frame did not show, so with evidence it is new, also when
 * every alive candidate is searched (match_all). */
static void test_a_disoccluded_cell_that_looks_like_its_neighbours_is_new_with_evidence(void **s) {
    (void)s;
    float base[D], obj[D];
    scene_random_units(base, 1, D, 7);
    scene_random_units(obj, 1, D, 8);
    float a[N * D], b[N * D];
    alike(a, N, base, 0.05f, 9);
    memcpy(b, a, sizeof a);
    const size_t from = 3 * GW + 3, to = 3 * GW + 4;
    memcpy(a + from * D, obj, sizeof obj);
    memcpy(b + to * D, obj, sizeof obj);
    alike(b + from * D, 1, base, 0.05f, 11); /* the uncovered grass: new, but alike */
    sp_pixel_evidence ev[N];
    seen_everywhere(ev);
    ev[to] = (sp_pixel_evidence){0.0f, -1.0f, SP_PIXELS_SEEN};
    ev[from] = (sp_pixel_evidence){0.0f, 0.0f, SP_PIXELS_NEW};
    for (int with = 0; with <= 2; with++) {
        run r;
        run_start_all(&r, SP_EMIT_FRAME, with == 2);
        uint8_t fates[N];
        push(&r, a, 0, NULL, fates);
        push(&r, b, 1, with ? ev : NULL, fates);
        if (with)
            assert_int_not_equal(fates[from], SP_FATE_TEMPORAL);
        else
            assert_int_equal(fates[from], SP_FATE_TEMPORAL);
        assert_int_equal(fates[to], SP_FATE_TEMPORAL);
        for (size_t p = 0; p < N; p++)
            if (p != from && p != to && fates[p] != SP_FATE_TEMPORAL)
                fail_msg("grass cell %zu: fate %u", p, fates[p]);
        sp_stream_free(r.s);
    }
}

/* A 2 x 2 object moves one cell right and its tokens change (new surroundings: cosine about 0 with
 * the first view): without evidence its cells are new; with the pixels saying where they came
 * from, they repeat the object's candidates, which are seen again (seen = 2). */
static void test_a_moved_objects_cells_repeat_the_candidates_where_it_was(void **state) {
    (void)state;
    float a[N * D], b[N * D];
    scene_random_units(a, N, D, 21);
    memcpy(b, a, sizeof a);
    sp_pixel_evidence ev[N];
    seen_everywhere(ev);
    static const size_t cells[4] = {2 * GW + 2, 2 * GW + 3, 3 * GW + 2, 3 * GW + 3};
    scene_random_units(b + 2 * GW * D + 2 * D, 3, D, 22); /* (2, 2..4): changed */
    scene_random_units(b + 3 * GW * D + 2 * D, 3, D, 23); /* (3, 2..4) */
    for (int k = 0; k < 4; k++) {
        ev[cells[k] + 1] = (sp_pixel_evidence){0.0f, -1.0f, SP_PIXELS_SEEN};
        ev[cells[k]] = (sp_pixel_evidence){0.0f, 0.0f, SP_PIXELS_NEW}; /* left column uncovered */
    }
    ev[2 * GW + 3] = (sp_pixel_evidence){0.0f, -1.0f, SP_PIXELS_SEEN};
    ev[3 * GW + 3] = (sp_pixel_evidence){0.0f, -1.0f, SP_PIXELS_SEEN};
    for (int with = 0; with <= 1; with++) {
        run r;
        run_start(&r, SP_EMIT_WINDOW);
        uint8_t fates[N];
        push(&r, a, 0, NULL, fates);
        push(&r, b, 1, with ? ev : NULL, fates);
        for (int y = 2; y <= 3; y++)
            for (int x = 3; x <= 4; x++) {
                uint8_t f = fates[y * GW + x];
                if (with ? f != SP_FATE_TEMPORAL : f == SP_FATE_TEMPORAL)
                    fail_msg("%s evidence: object cell (%d, %d) fate %u", with ? "with" : "without",
                             y, x, f);
            }
        assert_int_equal(r.packets, 1);
        for (int k = 0; k < 4; k++)
            if (r.seen0[cells[k]] != (with ? 2 : 1))
                fail_msg("%s evidence: the object's candidate at cell %zu seen %u",
                         with ? "with" : "without", cells[k], r.seen0[cells[k]]);
        sp_stream_free(r.s);
    }
}

/* The change gate skipped frame 1: its tokens are frame 0's, pushed again without evidence (they
 * repeat in place); frame 2's evidence compares with frame 0, the last encoded frame, and the
 * stream's anchors are frame 0's tokens still, so frame 2 gets the fates it gets right after
 * frame 0. */
static void test_a_skipped_frame_pushed_again_keeps_the_next_evidence_consistent(void **state) {
    (void)state;
    float a[N * D], b[N * D];
    scene_random_units(a, N, D, 31);
    memcpy(b, a, sizeof a);
    scene_random_units(b + 5 * D, 2, D, 32); /* cells 5 and 6 changed: their content moved, say */
    sp_pixel_evidence ev[N];
    seen_everywhere(ev);
    ev[5] = (sp_pixel_evidence){0.0f, -1.0f, SP_PIXELS_SEEN};
    ev[6] = (sp_pixel_evidence){0.0f, 0.0f, SP_PIXELS_NEW};
    run direct, gated;
    run_start(&direct, SP_EMIT_FRAME);
    run_start(&gated, SP_EMIT_FRAME);
    uint8_t fd[N], fg[N];
    push(&direct, a, 0, NULL, fd);
    push(&direct, b, 2, ev, fd);
    push(&gated, a, 0, NULL, fg);
    push(&gated, a, 1, NULL, fg); /* skipped: the same tokens again */
    for (size_t p = 0; p < N; p++)
        assert_int_equal(fg[p], SP_FATE_TEMPORAL);
    push(&gated, b, 2, ev, fg);
    assert_memory_equal(fd, fg, N);
    assert_int_equal(fg[5], SP_FATE_TEMPORAL);
    assert_int_not_equal(fg[6], SP_FATE_TEMPORAL);
    sp_stream_free(direct.s);
    sp_stream_free(gated.s);
}

/* Under a still camera a cell the pixels call seen, whose source no candidate stands for within
 * half a cell, is new: the features at its place would credit whatever part of a moving object
 * was there. Frame 1 moves the content of (3, 2) and (3, 4) to cells (3, 3) and (3, 4) 0.4 cell
 * off their candidates, in opposite directions; frame 2's cell (3, 3) comes from (3, 3.5), 0.9
 * cell from both. Its token is the one its place always had, so the features alone call it a
 * repeat (the behaviour without evidence). When every cell of frame 2 moved half a cell the same
 * way (a pan the features' motion estimate took for a still camera), it did not move on its own:
 * the features decide, a repeat. */
static void test_a_seen_cell_no_candidate_stands_for_is_new_under_a_still_camera(void **state) {
    (void)state;
    float a[N * D];
    scene_random_units(a, N, D, 51);
    const size_t cell = 3 * GW + 3;
    sp_pixel_evidence ev1[N], ev2[N];
    seen_everywhere(ev1);
    seen_everywhere(ev2);
    ev1[cell] = (sp_pixel_evidence){0.0f, -0.6f, SP_PIXELS_SEEN};     /* from (3, 2.4) */
    ev1[cell + 1] = (sp_pixel_evidence){0.0f, -0.4f, SP_PIXELS_SEEN}; /* from (3, 3.6) */
    ev2[cell] = (sp_pixel_evidence){0.0f, 0.5f, SP_PIXELS_SEEN};      /* from (3, 3.5) */
    sp_pixel_evidence pan[N];
    for (size_t p = 0; p < N; p++)
        pan[p] = (sp_pixel_evidence){0.0f, 0.5f, SP_PIXELS_SEEN};
    for (int with = 0; with <= 2; with++) {
        run r;
        run_start(&r, SP_EMIT_FRAME);
        uint8_t fates[N];
        push(&r, a, 0, NULL, fates);
        push(&r, a, 1, with ? ev1 : NULL, fates);
        for (size_t p = 0; p < N; p++)
            if (fates[p] != SP_FATE_TEMPORAL)
                fail_msg("frame 1, cell %zu: fate %u (every cell has a candidate close by)", p,
                         fates[p]);
        push(&r, a, 2, with == 1 ? ev2 : with == 2 ? pan : NULL, fates);
        if (with == 1)
            assert_int_not_equal(fates[cell], SP_FATE_TEMPORAL);
        else
            assert_int_equal(fates[cell], SP_FATE_TEMPORAL);
        for (size_t p = 0; p < N; p++)
            if (p != cell && fates[p] != SP_FATE_TEMPORAL)
                fail_msg("frame 2, cell %zu: fate %u", p, fates[p]);
        sp_stream_free(r.s);
    }
}

static void test_malformed_evidence_is_refused_with_a_message(void **state) {
    (void)state;
    float a[N * D];
    scene_random_units(a, N, D, 41);
    sp_pixel_evidence ev[N];
    seen_everywhere(ev);
    run r;
    run_start(&r, SP_EMIT_FRAME);
    uint8_t fates[N];
    push(&r, a, 0, NULL, fates);
    sp_frame f;
    sp_frame_view(&f, a, N, D);
    f.grid_h = GH;
    f.grid_w = GW;
    f.pts = 500000000;
    f.evidence = ev;
    sp_error err;
    ev[9].verdict = 7;
    assert_int_equal(sp_stream_push(r.s, &f, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "token 9"));
    ev[9] = (sp_pixel_evidence){NAN, 0.0f, SP_PIXELS_SEEN};
    assert_int_equal(sp_stream_push(r.s, &f, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "not finite"));
    ev[9].dy = 0.0f;
    assert_int_equal(sp_stream_push(r.s, &f, &err), SP_OK);
    sp_stream_stats st;
    sp_stream_get_stats(r.s, &st);
    assert_int_equal(st.frames_rejected, 2);
    sp_stream_free(r.s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_evidence_or_with_unknown_verdicts_nothing_changes),
        cmocka_unit_test(
            test_a_disoccluded_cell_that_looks_like_its_neighbours_is_new_with_evidence),
        cmocka_unit_test(test_a_moved_objects_cells_repeat_the_candidates_where_it_was),
        cmocka_unit_test(test_a_skipped_frame_pushed_again_keeps_the_next_evidence_consistent),
        cmocka_unit_test(test_a_seen_cell_no_candidate_stands_for_is_new_under_a_still_camera),
        cmocka_unit_test(test_malformed_evidence_is_refused_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
