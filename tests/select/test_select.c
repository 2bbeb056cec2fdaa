/* Unit tests of frame validation and sp_select: every error path of the frame type, the budget
 * rules, exact counts and ascending order for every method, determinism, and out-of-memory
 * injection on every allocation. Agreement with the numpy reference is tested in tests/ref. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "rng.h"
#include "scriptprune/gsp.h"
#include "scriptprune/qcsp.h"
#include "scriptprune/select.h"

static float *random_tokens(size_t n, size_t d, uint64_t seed) {
    float *x = malloc(n * d * sizeof(float));
    sp_rng r;
    sp_rng_seed(&r, seed);
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(sp_rng_unit(&r) * 2.0 - 1.0);
    return x;
}

static sp_status run(const sp_frame *f, const sp_query *q, sp_method m, size_t k, sp_selection *s,
                     sp_error *err) {
    sp_params p;
    sp_params_init(&p);
    p.method = m;
    p.budget = k;
    sp_workspace *ws = sp_workspace_new();
    assert_non_null(ws);
    sp_status st = sp_select(ws, f, q, &p, s, err);
    sp_workspace_free(ws);
    return st;
}

static void assert_message_contains(const sp_error *err, const char *needle) {
    if (!strstr(err->message, needle))
        fail_msg("message '%s' does not contain '%s'", err->message, needle);
}

static void test_frame_rejects_zero_tokens(void **state) {
    (void)state;
    float x[4] = {0};
    sp_frame f;
    sp_frame_view(&f, x, 0, 4);
    sp_error err;
    assert_int_equal(sp_frame_validate(&f, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "N = 0");
}

static void test_frame_rejects_zero_dimension(void **state) {
    (void)state;
    float x[4] = {0};
    sp_frame f;
    sp_frame_view(&f, x, 4, 0);
    sp_error err;
    assert_int_equal(sp_frame_validate(&f, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "D = 0");
}

static void test_frame_rejects_grid_mismatch(void **state) {
    (void)state;
    float x[12] = {0};
    sp_frame f;
    sp_frame_view(&f, x, 6, 2);
    f.grid_h = 2;
    f.grid_w = 2;
    sp_error err;
    assert_int_equal(sp_frame_validate(&f, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "grid 2 x 2");
}

static void test_frame_rejects_nan_with_position(void **state) {
    (void)state;
    float *x = random_tokens(9, 5, 1);
    x[3 * 5 + 2] = NAN;
    sp_frame f;
    sp_frame_view(&f, x, 9, 5);
    sp_error err;
    assert_int_equal(sp_frame_validate(&f, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "token row 3 column 2 is NaN");
    /* The selection path finds it in its fused norm pass, with the same message. */
    sp_selection s;
    sp_selection_init(&s);
    for (int m = 0; m < SP_METHOD_COUNT; m++) {
        assert_int_equal(run(&f, NULL, (sp_method)m, 4, &s, &err), SP_ERR_INVALID);
        assert_message_contains(&err, "token row 3 column 2 is NaN");
        assert_int_equal(s.count, 0);
    }
    sp_selection_free(&s);
    free(x);
}

static void test_frame_rejects_infinity_in_embeddings(void **state) {
    (void)state;
    float *x = random_tokens(4, 3, 2), *e = random_tokens(4, 2, 3);
    e[7] = -INFINITY;
    sp_frame f;
    sp_frame_view(&f, x, 4, 3);
    f.embed = e;
    f.e = 2;
    sp_error err;
    assert_int_equal(sp_frame_validate(&f, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "embedding row 3 column 1 is infinite");
    free(x);
    free(e);
}

static void test_frame_rejects_sizes_that_overflow(void **state) {
    (void)state;
    float x[1] = {1};
    sp_frame f;
    sp_frame_view(&f, x, 1, 1);
    f.n = SIZE_MAX / 2;
    f.d = 4;
    f.grid_h = 1;
    f.grid_w = 1;
    sp_error err;
    assert_int_equal(sp_frame_validate(&f, &err), SP_ERR_OVERFLOW);
}

static void test_query_width_must_match_embeddings(void **state) {
    (void)state;
    float *x = random_tokens(16, 8, 4), *q = random_tokens(2, 7, 5);
    sp_frame f;
    sp_frame_view(&f, x, 16, 8);
    sp_query qq = {.rows = q, .m = 2, .e = 7};
    sp_selection s;
    sp_selection_init(&s);
    sp_error err;
    assert_int_equal(run(&f, &qq, SP_METHOD_SCRIPT, 4, &s, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "width 7");
    sp_selection_free(&s);
    free(x);
    free(q);
}

/* One refused parameter per row: the field and the bad value; FIELD takes the field's type from
 * its declaration, so a row cannot write the wrong width. */
typedef enum { AS_SIZE, AS_FLOAT } field_type;

typedef struct param_refusal {
    const char *field; /* the message must name it */
    size_t offset;
    field_type type;
    double bad;
} param_refusal;

#define TYPE_OF(x) _Generic((x), size_t : AS_SIZE, float : AS_FLOAT)
#define FIELD(name) #name, offsetof(sp_params, name), TYPE_OF(((sp_params *)0)->name)

static const param_refusal select_param_refusals[] = {
    {FIELD(budget), 0},
    {FIELD(tau), 1.5},
    {FIELD(rho), 0.0},
    {FIELD(tau), NAN},
};

static void set_bad_value(sp_params *p, const param_refusal *r) {
    char *at = (char *)p + r->offset;
    switch (r->type) {
        case AS_SIZE:
            *(size_t *)at = (size_t)r->bad;
            break;
        case AS_FLOAT:
            *(float *)at = (float)r->bad;
            break;
    }
}

static void test_params_are_range_checked(void **state) {
    (void)state;
    size_t rows = sizeof select_param_refusals / sizeof select_param_refusals[0];
    for (size_t i = 0; i < rows; i++) {
        const param_refusal *r = &select_param_refusals[i];
        sp_params p;
        sp_params_init(&p);
        set_bad_value(&p, r);
        sp_error err;
        sp_status st = sp_params_validate(&p, &err);
        if (st != SP_ERR_INVALID)
            fail_msg("%s = %g: status %d, expected %d", r->field, r->bad, st, SP_ERR_INVALID);
        assert_message_contains(&err, r->field);
    }
    sp_error err;
    sp_method m;
    assert_int_equal(sp_method_from_name("nope", &m, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "script-authors");
}

static void test_method_table_names_round_trip(void **state) {
    (void)state;
    const sp_method_info *t = sp_method_table();
    for (int i = 0; i < SP_METHOD_COUNT; i++) {
        sp_method m;
        assert_int_equal(t[i].id, i);
        assert_int_equal(sp_method_from_name(t[i].name, &m, NULL), SP_OK);
        assert_int_equal(m, i);
        assert_non_null(t[i].summary);
    }
}

/* Every method: exactly min(k, N) indices, strictly ascending, in range; the same twice. */
static void test_every_method_returns_exact_budget_ascending(void **state) {
    (void)state;
    static const size_t ns[] = {1, 2, 3, 7, 64, 196};
    static const size_t ks[] = {1, 2, 5, 32, 98, 195, 196, 500};
    sp_selection a, b;
    sp_selection_init(&a);
    sp_selection_init(&b);
    for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
        size_t n = ns[in], d = 9;
        float *x = random_tokens(n, d, 10 + n);
        float *q = random_tokens(3, d, 99);
        sp_frame f;
        sp_frame_view(&f, x, n, d);
        sp_query qq = {.rows = q, .m = 3, .e = d};
        for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++) {
            for (int m = 0; m < SP_METHOD_COUNT; m++) {
                sp_error err;
                size_t k = ks[ik];
                assert_int_equal(run(&f, &qq, (sp_method)m, k, &a, &err), SP_OK);
                size_t want = k < n ? k : n;
                assert_int_equal(a.count, want);
                for (size_t i = 0; i < a.count; i++) {
                    assert_true(a.index[i] < n);
                    if (i)
                        assert_true(a.index[i] > a.index[i - 1]);
                }
                assert_int_equal(run(&f, &qq, (sp_method)m, k, &b, &err), SP_OK);
                assert_memory_equal(a.index, b.index, a.count * sizeof(uint32_t));
                assert_memory_equal(a.tokens, b.tokens, a.count * d * sizeof(float));
            }
        }
        free(x);
        free(q);
    }
    sp_selection_free(&a);
    sp_selection_free(&b);
}

static void test_budget_above_n_returns_every_token_unchanged(void **state) {
    (void)state;
    float *x = random_tokens(10, 4, 7);
    sp_frame f;
    sp_frame_view(&f, x, 10, 4);
    sp_selection s;
    sp_selection_init(&s);
    for (int m = 0; m < SP_METHOD_COUNT; m++) {
        assert_int_equal(run(&f, NULL, (sp_method)m, 11, &s, NULL), SP_OK);
        assert_int_equal(s.count, 10);
        for (uint32_t i = 0; i < 10; i++)
            assert_int_equal(s.index[i], i);
        assert_memory_equal(s.tokens, x, sizeof(float) * 40);
    }
    sp_selection_free(&s);
    free(x);
}

/* Zero rows are valid, have similarity 0 and never break the selection. */
static void test_zero_rows_are_valid(void **state) {
    (void)state;
    size_t n = 36, d = 6;
    float *x = random_tokens(n, d, 8);
    for (size_t i = 0; i < n; i += 3)
        memset(x + i * d, 0, d * sizeof(float));
    sp_frame f;
    sp_frame_view(&f, x, n, d);
    sp_selection s;
    sp_selection_init(&s);
    for (int m = 0; m < SP_METHOD_COUNT; m++) {
        sp_error err;
        assert_int_equal(run(&f, NULL, (sp_method)m, 12, &s, &err), SP_OK);
        assert_int_equal(s.count, 12);
    }
    /* All-zero frame: the DPP is exhausted at once and fills by index order. */
    memset(x, 0, n * d * sizeof(float));
    assert_int_equal(run(&f, NULL, SP_METHOD_QCSP, 5, &s, NULL), SP_OK);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(s.index[i], i);
    sp_selection_free(&s);
    free(x);
}

/* The methods that measure norms select the same indices from x and from scaled, the same tokens
 * at another scale (cosines do not depend on the norm). */
static void assert_scale_does_not_change_selection(const float *x, const float *scaled, size_t n,
                                                   size_t d) {
    static const sp_method ms[] = {SP_METHOD_SCRIPT, SP_METHOD_GSP, SP_METHOD_QCSP,
                                   SP_METHOD_DIVPRUNE};
    sp_frame f, fs;
    sp_frame_view(&f, x, n, d);
    sp_frame_view(&fs, scaled, n, d);
    sp_selection a, b;
    sp_selection_init(&a);
    sp_selection_init(&b);
    for (size_t m = 0; m < sizeof ms / sizeof ms[0]; m++) {
        assert_int_equal(run(&f, NULL, ms[m], 16, &a, NULL), SP_OK);
        assert_int_equal(run(&fs, NULL, ms[m], 16, &b, NULL), SP_OK);
        assert_memory_equal(a.index, b.index, 16 * sizeof(uint32_t));
    }
    sp_selection_free(&a);
    sp_selection_free(&b);
}

/* Huge but finite values take the normalised-copy path and give the same selection as the same
 * tokens at a normal scale. */
static void test_extreme_magnitudes_select_like_normal_ones(void **state) {
    (void)state;
    size_t n = 64, d = 16;
    float *x = random_tokens(n, d, 11), *big = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n * d; i++)
        big[i] = x[i] * 1e30f;
    assert_scale_does_not_change_selection(x, big, n, d);
    free(x);
    free(big);
}

/* Rows too large for raw float products (norm above 1e15, or a squared norm that overflows) are
 * found wherever their norms are measured: in the first pass (even rows) or from the odd x odd
 * diagonal after GSP's round 1 (odd rows, whose products are then redone on a normalised copy).
 * They select like the same tokens at a normal scale. */
static void test_rows_at_extreme_scales_select_like_normal_ones(void **state) {
    (void)state;
    size_t n = 64, d = 16;
    static const float scales[] = {1e18f, 1e25f};
    float *x = random_tokens(n, d, 11), *scaled = malloc(n * d * sizeof(float));
    for (size_t parity = 0; parity < 2; parity++)
        for (size_t si = 0; si < 2; si++) {
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < d; j++)
                    scaled[i * d + j] = x[i * d + j] * (i % 2 == parity ? scales[si] : 1.0f);
            assert_scale_does_not_change_selection(x, scaled, n, d);
        }
    free(x);
    free(scaled);
}

/* A query equal to some tokens makes QCSP keep them. */
static void test_query_pulls_matching_tokens_in(void **state) {
    (void)state;
    size_t n = 100, d = 32;
    float *x = random_tokens(n, d, 12);
    sp_frame f;
    sp_frame_view(&f, x, n, d);
    sp_query q = {.rows = x + 37 * d, .m = 1, .e = d};
    sp_selection s;
    sp_selection_init(&s);
    assert_int_equal(run(&f, &q, SP_METHOD_QCSP, 4, &s, NULL), SP_OK);
    bool found = false;
    for (size_t i = 0; i < s.count; i++)
        found |= s.index[i] == 37;
    assert_true(found);
    sp_selection_free(&s);
    free(x);
}

/* Merging methods average: pooling a constant frame returns that constant. */
static void test_pool_averages_cells(void **state) {
    (void)state;
    size_t n = 24, d = 3;
    float *x = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(i % d) + 0.5f;
    sp_frame f;
    sp_frame_view(&f, x, n, d);
    f.grid_h = 4;
    f.grid_w = 6;
    sp_selection s;
    sp_selection_init(&s);
    assert_int_equal(run(&f, NULL, SP_METHOD_POOL, 5, &s, NULL), SP_OK);
    for (size_t i = 0; i < s.count * d; i++)
        assert_float_equal(s.tokens[i], (float)(i % d) + 0.5f, 1e-6);
    sp_selection_free(&s);
    free(x);
}

static void test_modules_alone(void **state) {
    (void)state;
    size_t n = 50, d = 8;
    float *x = random_tokens(n, d, 13);
    sp_workspace *ws = sp_workspace_new();
    uint32_t kept[50];
    sp_gsp_params gp;
    sp_gsp_params_init(&gp);
    assert_int_equal(sp_gsp_prune(ws, x, n, d, 20, &gp, kept, NULL), SP_OK);
    for (size_t i = 1; i < 20; i++)
        assert_true(kept[i] > kept[i - 1]);
    float r[50];
    sp_query q = {.rows = x, .m = 1, .e = d};
    assert_int_equal(sp_relevance(ws, x, n, d, &q, r, NULL), SP_OK);
    assert_float_equal(r[0], 1.0f, 1e-5);
    for (size_t i = 0; i < n; i++)
        assert_true(r[i] >= 0.0f && r[i] <= 1.0f);
    assert_int_equal(sp_dpp_select(ws, x, n, d, r, 10, kept, NULL), SP_OK);
    for (size_t i = 1; i < 10; i++)
        assert_true(kept[i] > kept[i - 1]);
    gp.tau = 2.0f;
    sp_error err;
    assert_int_equal(sp_gsp_prune(ws, x, n, d, 20, &gp, kept, &err), SP_ERR_INVALID);
    sp_workspace_free(ws);
    free(x);
}

/* Fail each allocation in turn: every failure is reported as SP_ERR_NOMEM with a message, nothing
 * leaks (ASan's leak checker runs at exit), and once nothing fails the call succeeds. */
static void test_every_allocation_failure_is_reported(void **state) {
    (void)state;
    size_t n = 64, d = 8;
    float *x = random_tokens(n, d, 14), *q = random_tokens(2, d, 15);
    sp_frame f;
    sp_frame_view(&f, x, n, d);
    sp_query qq = {.rows = q, .m = 2, .e = d};
    for (int m = 0; m < SP_METHOD_COUNT; m++) {
        for (long fail = 0;; fail++) {
            sp_params p;
            sp_params_init(&p);
            p.method = (sp_method)m;
            p.budget = 9;
            sp_fault_fail_after(fail);
            sp_workspace *ws = sp_workspace_new();
            sp_selection s;
            sp_selection_init(&s);
            sp_error err;
            sp_error_clear(&err);
            sp_status st = ws ? sp_select(ws, &f, &qq, &p, &s, &err) : SP_ERR_NOMEM;
            long injected = sp_fault_injected();
            sp_fault_fail_after(-1);
            sp_selection_free(&s);
            sp_workspace_free(ws);
            if (injected == 0) {
                assert_int_equal(st, SP_OK);
                break;
            }
            assert_int_equal(st, SP_ERR_NOMEM);
            if (ws)
                assert_true(strlen(err.message) > 0);
            assert_true(fail < 1000);
        }
    }
    free(x);
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_rejects_zero_tokens),
        cmocka_unit_test(test_frame_rejects_zero_dimension),
        cmocka_unit_test(test_frame_rejects_grid_mismatch),
        cmocka_unit_test(test_frame_rejects_nan_with_position),
        cmocka_unit_test(test_frame_rejects_infinity_in_embeddings),
        cmocka_unit_test(test_frame_rejects_sizes_that_overflow),
        cmocka_unit_test(test_query_width_must_match_embeddings),
        cmocka_unit_test(test_params_are_range_checked),
        cmocka_unit_test(test_method_table_names_round_trip),
        cmocka_unit_test(test_every_method_returns_exact_budget_ascending),
        cmocka_unit_test(test_budget_above_n_returns_every_token_unchanged),
        cmocka_unit_test(test_zero_rows_are_valid),
        cmocka_unit_test(test_extreme_magnitudes_select_like_normal_ones),
        cmocka_unit_test(test_rows_at_extreme_scales_select_like_normal_ones),
        cmocka_unit_test(test_query_pulls_matching_tokens_in),
        cmocka_unit_test(test_pool_averages_cells),
        cmocka_unit_test(test_modules_alone),
        cmocka_unit_test(test_every_allocation_failure_is_reported),
    };
    return cmocka_run_group_tests_name("select", tests, NULL, NULL);
}
