/* Prometheus text format 0.0.4 as written by metrics_text.c: HELP/TYPE lines, label escaping,
 * histogram buckets with +Inf, _sum and _count, value formatting, and refused misuse. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "telemetry/metrics_text.h"

static char *render(scd_metrics *reg) {
    GString *out = g_string_new(NULL);
    scd_metrics_render(reg, out);
    return g_string_free(out, FALSE);
}

static void counters_and_gauges_render_with_help_and_type(void **state) {
    (void)state;
    scd_metrics *reg = scd_metrics_new();
    scd_metric *frames, *depth;
    const char *labels[] = {"stream"};
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_COUNTER, "scriptd_frames_total",
                                     "Frames sampled.", labels, 1, NULL, 0, &frames, NULL),
                     SP_OK);
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_GAUGE, "scriptd_queue_depth",
                                     "Frames waiting.", NULL, 0, NULL, 0, &depth, NULL),
                     SP_OK);
    const char *cam[] = {"cam1"};
    const char *lobby[] = {"lobby"};
    assert_int_equal(scd_metric_inc(frames, cam, 1, NULL), SP_OK);
    assert_int_equal(scd_metric_inc(frames, cam, 2, NULL), SP_OK);
    assert_int_equal(scd_metric_inc(frames, lobby, 0.5, NULL), SP_OK);
    assert_int_equal(scd_metric_set(depth, NULL, -3, NULL), SP_OK);
    char *text = render(reg);
    assert_string_equal(text, "# HELP scriptd_frames_total Frames sampled.\n"
                              "# TYPE scriptd_frames_total counter\n"
                              "scriptd_frames_total{stream=\"cam1\"} 3\n"
                              "scriptd_frames_total{stream=\"lobby\"} 0.5\n"
                              "# HELP scriptd_queue_depth Frames waiting.\n"
                              "# TYPE scriptd_queue_depth gauge\n"
                              "scriptd_queue_depth -3\n");
    g_free(text);
    scd_metrics_free(reg);
}

static void unlabelled_families_show_zero_before_any_event(void **state) {
    (void)state;
    scd_metrics *reg = scd_metrics_new();
    scd_metric *m;
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_COUNTER, "scriptd_reloads_total", "Reloads.",
                                     NULL, 0, NULL, 0, &m, NULL),
                     SP_OK);
    char *text = render(reg);
    assert_non_null(strstr(text, "\nscriptd_reloads_total 0\n"));
    g_free(text);
    scd_metrics_free(reg);
}

static void label_values_and_help_are_escaped(void **state) {
    (void)state;
    scd_metrics *reg = scd_metrics_new();
    scd_metric *m;
    const char *labels[] = {"path", "why"};
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_COUNTER, "scriptd_drops_total",
                                     "Drops \\ by \"reason\"\nsecond line", labels, 2, NULL, 0, &m,
                                     NULL),
                     SP_OK);
    const char *v[] = {"C:\\video \"a\"", "line1\nline2"};
    assert_int_equal(scd_metric_inc(m, v, 1, NULL), SP_OK);
    char *text = render(reg);
    /* HELP escapes backslash and newline only; label values also escape the double quote. */
    assert_string_equal(text, "# HELP scriptd_drops_total Drops \\\\ by \"reason\"\\nsecond line\n"
                              "# TYPE scriptd_drops_total counter\n"
                              "scriptd_drops_total{path=\"C:\\\\video \\\"a\\\"\","
                              "why=\"line1\\nline2\"} 1\n");
    g_free(text);
    scd_metrics_free(reg);
}

static void histograms_write_cumulative_buckets_sum_and_count(void **state) {
    (void)state;
    scd_metrics *reg = scd_metrics_new();
    scd_metric *h;
    const double bounds[] = {0.001, 0.01, 0.1};
    const char *labels[] = {"stream"};
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_HISTOGRAM, "scriptd_select_seconds",
                                     "Selection latency.", labels, 1, bounds, 3, &h, NULL),
                     SP_OK);
    const char *cam[] = {"cam1"};
    const double obs[] = {0.0005, 0.001, 0.005, 0.05, 2.0};
    for (size_t i = 0; i < G_N_ELEMENTS(obs); i++)
        assert_int_equal(scd_metric_observe(h, cam, obs[i], NULL), SP_OK);
    char *text = render(reg);
    assert_string_equal(text, "# HELP scriptd_select_seconds Selection latency.\n"
                              "# TYPE scriptd_select_seconds histogram\n"
                              "scriptd_select_seconds_bucket{stream=\"cam1\",le=\"0.001\"} 2\n"
                              "scriptd_select_seconds_bucket{stream=\"cam1\",le=\"0.01\"} 3\n"
                              "scriptd_select_seconds_bucket{stream=\"cam1\",le=\"0.1\"} 4\n"
                              "scriptd_select_seconds_bucket{stream=\"cam1\",le=\"+Inf\"} 5\n"
                              "scriptd_select_seconds_sum{stream=\"cam1\"} 2.0565\n"
                              "scriptd_select_seconds_count{stream=\"cam1\"} 5\n");
    g_free(text);
    scd_metrics_free(reg);
}

static void values_use_the_shortest_exact_form_and_integers_stay_integers(void **state) {
    (void)state;
    const double v[] = {0,        1,         -2.5, 0.1, 1e21, 123456789012, NAN,
                        INFINITY, -INFINITY, 20,   300, 1e15, -40,          2.5e-7};
    const char *want[] = {"0",   "1",      "-2.5", "0.1", "1e+21", "123456789012",
                          "NaN", "+Inf",   "-Inf", "20",  "300",   "1000000000000000",
                          "-40", "2.5e-07"};
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
        GString *s = g_string_new(NULL);
        scd_metrics_format_value(s, v[i]);
        assert_string_equal(s->str, want[i]);
        g_string_free(s, TRUE);
    }
}

static void misuse_is_refused(void **state) {
    (void)state;
    scd_metrics *reg = scd_metrics_new();
    scd_metric *m;
    sp_error e;
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_COUNTER, "1bad", "", NULL, 0, NULL, 0, &m, &e),
                     SP_ERR_INVALID);
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_COUNTER, "a-b", "", NULL, 0, NULL, 0, &m, &e),
                     SP_ERR_INVALID);
    const char *reserved[] = {"__name"};
    assert_int_equal(
        scd_metrics_add(reg, SCD_METRIC_COUNTER, "ok_total", "", reserved, 1, NULL, 0, &m, &e),
        SP_ERR_INVALID);
    const char *le[] = {"le"};
    const double b[] = {1, 2};
    assert_int_equal(scd_metrics_add(reg, SCD_METRIC_HISTOGRAM, "h", "", le, 1, b, 2, &m, &e),
                     SP_ERR_INVALID);
    const double unsorted[] = {2, 1};
    assert_int_equal(
        scd_metrics_add(reg, SCD_METRIC_HISTOGRAM, "h", "", NULL, 0, unsorted, 2, &m, &e),
        SP_ERR_INVALID);
    const char *lab[] = {"stream"};
    assert_int_equal(
        scd_metrics_add(reg, SCD_METRIC_COUNTER, "c_total", "", lab, 1, NULL, 0, &m, &e), SP_OK);
    scd_metric *dup;
    assert_int_equal(
        scd_metrics_add(reg, SCD_METRIC_GAUGE, "c_total", "", NULL, 0, NULL, 0, &dup, &e),
        SP_ERR_INVALID);
    assert_non_null(strstr(e.message, "declared twice"));
    const char *v[] = {"a"};
    assert_int_equal(scd_metric_inc(m, v, -1, &e), SP_ERR_INVALID);
    assert_int_equal(scd_metric_set(m, v, 1, &e), SP_ERR_INVALID);
    assert_int_equal(scd_metric_observe(m, v, 1, &e), SP_ERR_INVALID);
    assert_int_equal(scd_metric_inc(m, NULL, 1, &e), SP_ERR_INVALID);
    assert_int_equal(scd_metric_inc(m, v, NAN, &e), SP_ERR_INVALID);
    scd_metrics_free(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_and_gauges_render_with_help_and_type),
        cmocka_unit_test(unlabelled_families_show_zero_before_any_event),
        cmocka_unit_test(label_values_and_help_are_escaped),
        cmocka_unit_test(histograms_write_cumulative_buckets_sum_and_count),
        cmocka_unit_test(values_use_the_shortest_exact_form_and_integers_stay_integers),
        cmocka_unit_test(misuse_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
