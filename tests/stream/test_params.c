/* Core's parameter table (scriptprune/params.h): the structs' defaults are the table's, every
 * default is inside its own range and survives format -> parse, the table and the struct bindings
 * agree on which parameters each struct has, and out-of-range values are refused by name. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scriptprune/params.h"

/* Floats are compared as the float the struct holds. */
static bool same_value(const sp_param_info *pi, double a, double b) {
    if (pi->type == SP_PARAM_TYPE_FLOAT)
        return (float)a == (float)b;
    return a == b;
}

static void test_table_is_in_id_order_with_unique_names(void **state) {
    (void)state;
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    assert_int_equal(n, SP_PARAM_COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].id, i);
        assert_ptr_equal(sp_param_of(t[i].id), &t[i]);
        assert_non_null(t[i].doc);
        assert_true(t[i].scope != 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t[i].name, t[j].name);
        char dashed[64];
        snprintf(dashed, sizeof dashed, "%s", t[i].name);
        for (char *p = dashed; *p; p++)
            *p = *p == '_' ? '-' : *p;
        assert_ptr_equal(sp_param_find(dashed), &t[i]);
        assert_ptr_equal(sp_param_find(t[i].name), &t[i]);
    }
    assert_null(sp_param_find("tau_t"));
    assert_null(sp_param_of(SP_PARAM_COUNT));
}

static void test_every_default_is_in_range_and_reads_back(void **state) {
    (void)state;
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        sp_error err;
        if (sp_param_check(&t[i], t[i].def, NULL, &err) != SP_OK)
            fail_msg("%s: default refused: %s", t[i].name, err.message);
        char text[64];
        sp_param_format(&t[i], t[i].def, text, sizeof text);
        double back = -1;
        if (sp_param_parse(&t[i], text, NULL, &back, &err) != SP_OK)
            fail_msg("%s: '%s' does not parse: %s", t[i].name, text, err.message);
        if (!same_value(&t[i], back, t[i].def))
            fail_msg("%s: '%s' reads back as %.17g, not %.17g", t[i].name, text, back, t[i].def);
    }
}

/* The structs' init functions take every default from the table: a number written into one of
 * them instead would show up here. */
static void test_struct_defaults_are_the_tables(void **state) {
    (void)state;
    sp_stream_params sp;
    sp_stream_params_init(&sp);
    sp_params pp;
    sp_params_init(&pp);
    sp_gsp_params gp;
    sp_gsp_params_init(&gp);
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        double s = sp_stream_params_get(&sp, t[i].id), p = sp_params_get(&pp, t[i].id);
        /* A struct has exactly the parameters of its scope. */
        assert_int_equal(!isnan(s), (t[i].scope & SP_PARAM_IN_STREAM) != 0);
        assert_int_equal(!isnan(p), (t[i].scope & SP_PARAM_IN_SELECT) != 0);
        if (!isnan(s) && !same_value(&t[i], s, t[i].def))
            fail_msg("sp_stream_params_init: %s = %.17g, table %.17g", t[i].name, s, t[i].def);
        if (!isnan(p) && !same_value(&t[i], p, t[i].def))
            fail_msg("sp_params_init: %s = %.17g, table %.17g", t[i].name, p, t[i].def);
    }
    assert_int_equal(gp.graph, sp.gsp.graph);
    assert_true(gp.tau == sp.gsp.tau);
    assert_int_equal(gp.k_min, sp.gsp.k_min);
    assert_true(gp.gamma == sp.gsp.gamma);
    /* The benchmark-chosen constants reach the table. */
    assert_true(sp.tau_t == SP_STREAM_DEFAULT_TAU_T);
    assert_true(sp.kernel_sigma == SP_STREAM_DEFAULT_KERNEL_SIGMA);
    assert_true(sp.mass_gamma == SP_STREAM_DEFAULT_MASS_GAMMA);
    sp_error err;
    assert_int_equal(sp_stream_params_validate(&sp, &err), SP_OK);
    assert_int_equal(sp_params_validate(&pp, &err), SP_OK);
}

/* Just outside each numeric range: refused by the setter and by validate, the message naming the
 * parameter and its range. */
static void test_values_outside_the_range_are_refused_by_name(void **state) {
    (void)state;
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].type == SP_PARAM_TYPE_ENUM || t[i].type == SP_PARAM_TYPE_METHOD ||
            t[i].type == SP_PARAM_TYPE_BOOL)
            continue;
        double step = t[i].type == SP_PARAM_TYPE_FLOAT ? 1e-3 : 1;
        double hi = t[i].max + step;
        if (hi == t[i].max) /* beyond 2^53 a step of 1 is lost */
            hi = nextafter(t[i].max, INFINITY);
        double bad[2] = {t[i].min_exclusive ? t[i].min : t[i].min - step, hi};
        for (int b = 0; b < 2; b++) {
            if (t[i].type != SP_PARAM_TYPE_FLOAT && bad[b] < 0 && b == 0 && t[i].min == 0)
                continue; /* unsigned fields cannot hold -1 */
            sp_error err;
            assert_int_equal(sp_param_check(&t[i], bad[b], NULL, &err), SP_ERR_INVALID);
            assert_non_null(strstr(err.message, t[i].name));
            assert_non_null(strstr(err.message, "is outside"));
            if (t[i].scope & SP_PARAM_IN_STREAM) {
                sp_stream_params sp;
                sp_stream_params_init(&sp);
                assert_int_equal(sp_stream_params_set(&sp, t[i].id, bad[b], &err), SP_ERR_INVALID);
                assert_true(same_value(&t[i], sp_stream_params_get(&sp, t[i].id), t[i].def));
            }
        }
    }
    /* validate reads the table's ranges, naming the field when it is spelt differently */
    sp_stream_params sp;
    sp_stream_params_init(&sp);
    sp.gsp.k_min = 70000;
    sp_error err;
    assert_int_equal(sp_stream_params_validate(&sp, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "k_min"));
    assert_non_null(strstr(err.message, "[0, 65536]"));
    sp_stream_params_init(&sp);
    sp.tau_t = 1.5f;
    assert_int_equal(sp_stream_params_validate(&sp, &err), SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "temporal_tau (field tau_t)"));
}

static void test_text_forms_parse_with_units_and_names(void **state) {
    (void)state;
    double v;
    sp_error err;
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_HISTORY_BYTES), "3GiB", NULL, &v, &err),
                     SP_OK);
    assert_true(v == 3.0 * 1024 * 1024 * 1024);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_HISTORY_BYTES), "2TiB", NULL, &v, &err),
                     SP_ERR_INVALID);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_EMIT), "frame", NULL, &v, &err), SP_OK);
    assert_true(v == SP_EMIT_FRAME);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_EMIT), "frames", "--emit", &v, &err),
                     SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "--emit: 'frames' is not one of frame, window"));
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_METHOD), "qcsp", NULL, &v, &err), SP_OK);
    assert_true(v == SP_METHOD_QCSP);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_WINDOW), "1.5", NULL, &v, &err),
                     SP_ERR_INVALID);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_WINDOW), "-3", NULL, &v, &err),
                     SP_ERR_INVALID);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_GSP_KEEP), "nan", NULL, &v, &err),
                     SP_ERR_INVALID);
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_GSP_KEEP), "0", NULL, &v, &err),
                     SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "gsp_keep: 0 is outside (0, 1]"));
    assert_int_equal(sp_param_parse(sp_param_of(SP_PARAM_MATCH_ALL), "yes", NULL, &v, &err),
                     SP_ERR_INVALID);
    char buf[32];
    sp_param_format(sp_param_of(SP_PARAM_TEMPORAL_TAU), 0.94f, buf, sizeof buf);
    assert_string_equal(buf, "0.94");
    sp_param_format(sp_param_of(SP_PARAM_GAMMA), 100, buf, sizeof buf);
    assert_string_equal(buf, "100");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_in_id_order_with_unique_names),
        cmocka_unit_test(test_every_default_is_in_range_and_reads_back),
        cmocka_unit_test(test_struct_defaults_are_the_tables),
        cmocka_unit_test(test_values_outside_the_range_are_refused_by_name),
        cmocka_unit_test(test_text_forms_parse_with_units_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
