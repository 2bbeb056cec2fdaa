/* One default per parameter: every stream parameter of core's table (and the method) is a
 * scriptprune element property, a scriptd config key and a `scriptprune stream` option (select
 * parameters: `scriptprune select` options), each with the table's default and range; old names
 * carry the new name's default; neither the element nor scriptd's pruning section has a tunable
 * that is not in the table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <gst/gst.h>

#include "config/config_internal.h"
#include "elements.h"
#include "scriptprune/params.h"

/* Element properties that are not stream parameters: GStreamer's own, the query and its
 * encoder, the stream's name and counters. */
static const char *const element_own[] = {
    "name",
    "parent",
    "qos",
    "stream-name",
    "query-text",
    "query-image",
    "query-embedding",
    "encoder-backend",
    "encoder-model",
    "encoder-image-size",
    "encoder-patch-size",
    "exemplar-mode",
    "stats",
    NULL,
};

static bool exposed_by_streams(const sp_param_info *pi) {
    return (pi->scope & SP_PARAM_IN_STREAM) || pi->id == SP_PARAM_METHOD;
}

static bool same_value(const sp_param_info *pi, double a, double b) {
    if (pi->type == SP_PARAM_TYPE_FLOAT)
        return (float)a == (float)b;
    return a == b;
}

static char *dashed(const char *name) {
    return g_strdelimit(g_strdup(name), "_", '-');
}

static double pspec_number(const GValue *v) {
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
        case G_TYPE_UINT:
            return g_value_get_uint(v);
        case G_TYPE_UINT64:
            return (double)g_value_get_uint64(v);
        case G_TYPE_FLOAT:
            return g_value_get_float(v);
        case G_TYPE_DOUBLE:
            return g_value_get_double(v);
        case G_TYPE_BOOLEAN:
            return g_value_get_boolean(v);
        case G_TYPE_ENUM:
            return g_value_get_enum(v);
        default:
            return NAN;
    }
}

/* The pspec's bounds, for the numeric kinds. */
static bool pspec_range(GParamSpec *ps, double *lo, double *hi) {
    if (G_IS_PARAM_SPEC_UINT(ps)) {
        *lo = G_PARAM_SPEC_UINT(ps)->minimum;
        *hi = G_PARAM_SPEC_UINT(ps)->maximum;
    } else if (G_IS_PARAM_SPEC_UINT64(ps)) {
        *lo = (double)G_PARAM_SPEC_UINT64(ps)->minimum;
        *hi = (double)G_PARAM_SPEC_UINT64(ps)->maximum;
    } else if (G_IS_PARAM_SPEC_FLOAT(ps)) {
        *lo = G_PARAM_SPEC_FLOAT(ps)->minimum;
        *hi = G_PARAM_SPEC_FLOAT(ps)->maximum;
    } else if (G_IS_PARAM_SPEC_DOUBLE(ps)) {
        *lo = G_PARAM_SPEC_DOUBLE(ps)->minimum;
        *hi = G_PARAM_SPEC_DOUBLE(ps)->maximum;
    } else {
        return false;
    }
    return true;
}

static const sp_param_info *param_of_property(const char *prop) {
    const sp_param_info *pi = sp_param_find(prop);
    return pi && exposed_by_streams(pi) ? pi : NULL;
}

static void test_element_properties_have_the_tables_defaults_and_ranges(void **state) {
    (void)state;
    GstElementFactory *f = gst_element_factory_find("scriptprune");
    assert_non_null(f);
    GstElement *e = gst_element_factory_create(f, NULL);
    GObjectClass *gc = G_OBJECT_GET_CLASS(e);
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!exposed_by_streams(&t[i]))
            continue;
        char *prop = dashed(t[i].name);
        GParamSpec *ps = g_object_class_find_property(gc, prop);
        if (!ps)
            fail_msg("scriptprune has no property %s", prop);
        double def = pspec_number(g_param_spec_get_default_value(ps));
        if (!same_value(&t[i], def, t[i].def))
            fail_msg("scriptprune %s: default %.17g, table %.17g", prop, def, t[i].def);
        /* A fresh element holds the default too. */
        GValue now = G_VALUE_INIT;
        g_value_init(&now, G_PARAM_SPEC_VALUE_TYPE(ps));
        g_object_get_property(G_OBJECT(e), prop, &now);
        assert_true(same_value(&t[i], pspec_number(&now), t[i].def));
        g_value_unset(&now);
        double lo, hi;
        if (pspec_range(ps, &lo, &hi)) {
            double want_lo = t[i].min;
            if (t[i].min_exclusive)
                want_lo = nextafterf((float)t[i].min, INFINITY);
            if (!same_value(&t[i], lo, want_lo) || !same_value(&t[i], hi, t[i].max))
                fail_msg("scriptprune %s: range [%.17g, %.17g], table %s%.17g, %.17g]", prop, lo,
                         hi, t[i].min_exclusive ? "(" : "[", t[i].min, t[i].max);
        }
        assert_string_equal(g_param_spec_get_blurb(ps), t[i].doc);
        g_free(prop);
    }
    /* Every other property is either one the element owns or an old name of a table one, which
     * carries the new name's default and range. */
    guint np;
    GParamSpec **all = g_object_class_list_properties(gc, &np);
    for (guint i = 0; i < np; i++) {
        const char *name = g_param_spec_get_name(all[i]);
        if (g_strv_contains(element_own, name) || param_of_property(name))
            continue;
        if (!(all[i]->flags & G_PARAM_DEPRECATED))
            fail_msg("scriptprune property %s is not in core's parameter table", name);
        const char *blurb = g_param_spec_get_blurb(all[i]);
        assert_true(g_str_has_prefix(blurb, "Deprecated: use "));
        const char *now = blurb + strlen("Deprecated: use ");
        const sp_param_info *pi = param_of_property(now);
        assert_non_null(pi);
        GParamSpec *cur = g_object_class_find_property(gc, now);
        assert_true(G_PARAM_SPEC_VALUE_TYPE(cur) == G_PARAM_SPEC_VALUE_TYPE(all[i]));
        assert_true(same_value(pi, pspec_number(g_param_spec_get_default_value(all[i])), pi->def));
        double lo, hi, clo, chi;
        if (pspec_range(all[i], &lo, &hi)) {
            assert_true(pspec_range(cur, &clo, &chi));
            assert_true(lo == clo && hi == chi);
        }
    }
    g_free(all);
    gst_object_unref(e);
    gst_object_unref(f);
}

/* An old property name sets the new one. */
static void test_old_property_names_set_the_new_ones(void **state) {
    (void)state;
    GstElement *e = gst_element_factory_make("scriptprune", NULL);
    g_object_set(e, "budget", 17u, "radius", 3u, NULL);
    guint frame_budget, radius;
    g_object_get(e, "frame-budget", &frame_budget, "temporal-radius", &radius, NULL);
    assert_int_equal(frame_budget, 17);
    assert_int_equal(radius, 3);
    g_object_set(e, "frame-budget", 5u, NULL);
    g_object_get(e, "budget", &frame_budget, NULL);
    assert_int_equal(frame_budget, 5);
    gst_object_unref(e);
}

static const cfg_key *pruning_key(sp_param_id id) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    const cfg_key *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].section != SEC_PRUNING || keys[i].param != (int)id + 1 ||
            (keys[i].flags & KEY_DEPRECATED))
            continue;
        if (found)
            fail_msg("two pruning keys for %s", sp_param_of(id)->name);
        found = &keys[i];
    }
    return found;
}

static void test_config_keys_have_the_tables_defaults_and_ranges(void **state) {
    (void)state;
    scd_config *cfg = scd_config_new_default();
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!exposed_by_streams(&t[i]))
            continue;
        const cfg_key *k = pruning_key(t[i].id);
        if (!k)
            fail_msg("scriptd has no pruning key for %s", t[i].name);
        double v;
        assert_true(scd_pruning_param(&cfg->pruning, t[i].id, &v));
        if (!same_value(&t[i], v, t[i].def))
            fail_msg("defaults.pruning.%s: default %.17g, table %.17g", k->name, v, t[i].def);
        if (k->type == T_METHOD || k->type == T_ENUM || k->type == T_BOOL)
            continue;
        double scale = k->param_scale > 0 ? k->param_scale : 1;
        if (k->min * scale != t[i].min || k->max * scale != t[i].max ||
            !!(k->flags & KEY_MIN_EXCLUSIVE) != t[i].min_exclusive)
            fail_msg("defaults.pruning.%s: range %g .. %g, table %g .. %g", k->name, k->min, k->max,
                     t[i].min, t[i].max);
    }
    /* The example config writes every pruning key with its default: the table's. */
    char *example =
        g_build_filename(g_getenv("SCRIPTD_SOURCE_ROOT"), "configs", "scriptd.yaml", NULL);
    scd_config *ex = NULL;
    scd_config_error cerr;
    if (scd_config_load_file(example, &ex, &cerr) != SP_OK)
        fail_msg("%s", cerr.message);
    for (size_t i = 0; i < n; i++) {
        double v;
        if (exposed_by_streams(&t[i]) && scd_pruning_param(&ex->pruning, t[i].id, &v) &&
            !same_value(&t[i], v, t[i].def))
            fail_msg("configs/scriptd.yaml: defaults.pruning.%s is %.17g, the table's default "
                     "%.17g",
                     t[i].name, v, t[i].def);
    }
    scd_config_free(ex);
    g_free(example);
    /* Every pruning key is a parameter of the table: none has a default of its own. */
    size_t nk;
    const cfg_key *keys = cfg_keys(&nk);
    for (size_t i = 0; i < nk; i++)
        if (keys[i].section == SEC_PRUNING && !keys[i].param)
            fail_msg("defaults.pruning.%s is not in core's parameter table", keys[i].name);
    scd_config_free(cfg);
}

/* The change gate's parameters (SP_PARAM_IN_ENCODER): scriptencode properties and scriptd
 * encoder keys with the table's default and range; the example config writes the defaults. */
static void test_encoder_parameters_have_the_tables_defaults(void **state) {
    (void)state;
    GstElement *e = gst_element_factory_make("scriptencode", NULL);
    assert_non_null(e);
    GObjectClass *gc = G_OBJECT_GET_CLASS(e);
    scd_config *cfg = scd_config_new_default();
    char *example =
        g_build_filename(g_getenv("SCRIPTD_SOURCE_ROOT"), "configs", "scriptd.yaml", NULL);
    scd_config *ex = NULL;
    scd_config_error cerr;
    if (scd_config_load_file(example, &ex, &cerr) != SP_OK)
        fail_msg("%s", cerr.message);
    size_t n, nk, found = 0;
    const sp_param_info *t = sp_param_table(&n);
    const cfg_key *keys = cfg_keys(&nk);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].scope & SP_PARAM_IN_ENCODER))
            continue;
        found++;
        char *prop = dashed(t[i].name);
        GParamSpec *ps = g_object_class_find_property(gc, prop);
        if (!ps)
            fail_msg("scriptencode has no property %s", prop);
        double def = pspec_number(g_param_spec_get_default_value(ps));
        if (!same_value(&t[i], def, t[i].def))
            fail_msg("scriptencode %s: default %.17g, table %.17g", prop, def, t[i].def);
        double lo, hi;
        if (pspec_range(ps, &lo, &hi) &&
            (!same_value(&t[i], lo, t[i].min) || !same_value(&t[i], hi, t[i].max)))
            fail_msg("scriptencode %s: range [%g, %g], table [%g, %g]", prop, lo, hi, t[i].min,
                     t[i].max);
        g_free(prop);
        const cfg_key *k = NULL;
        for (size_t j = 0; j < nk; j++)
            if (keys[j].section == SEC_ENCODER && keys[j].param == (int)t[i].id + 1)
                k = &keys[j];
        if (!k)
            fail_msg("scriptd has no encoder key for %s", t[i].name);
        for (int which = 0; which < 2; which++) {
            const scd_encoder_cfg *enc = which ? &ex->encoder : &cfg->encoder;
            const char *at = (const char *)enc + k->offset;
            double v = k->type == T_ENUM ? *(const int *)at : *(const double *)at;
            if (!same_value(&t[i], v, t[i].def))
                fail_msg("%s: defaults.encoder.%s is %.17g, table %.17g",
                         which ? "configs/scriptd.yaml" : "the built-in default", k->name, v,
                         t[i].def);
        }
    }
    assert_int_equal(found, 3);
    scd_config_free(ex);
    scd_config_free(cfg);
    g_free(example);
    gst_object_unref(e);
}

/* Runs the CLI; returns its exit status, stdout and stderr (g_free). */
static int run_cli(const char *const *args, char **out, char **err) {
    const char *cli = g_getenv("SCRIPTPRUNE_CLI");
    assert_non_null(cli);
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)cli);
    for (size_t i = 0; args[i]; i++)
        g_ptr_array_add(argv, (gpointer)args[i]);
    g_ptr_array_add(argv, NULL);
    int status = -1;
    GError *gerr = NULL;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err,
                      &status, &gerr))
        fail_msg("cannot run %s: %s", cli, gerr->message);
    g_ptr_array_free(argv, TRUE);
    /* A signal shows as its negated number. */
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

/* The default --help prints for an option: "  --NAME\n      DOC (default X; ...)". */
static char *help_default(const char *help, const char *option) {
    char *head = g_strdup_printf("\n  --%s\n", option);
    const char *at = strstr(help, head);
    g_free(head);
    if (!at)
        return NULL;
    at = strchr(at + 3, '\n') + 1;
    const char *eol = strchr(at, '\n');
    const char *d = g_strstr_len(at, eol - at, "(default ");
    if (!d)
        return NULL;
    d += strlen("(default ");
    size_t len = strcspn(d, ";)");
    return g_strndup(d, len);
}

static void check_cli_command(const char *command, unsigned scope, sp_param_id required) {
    const char *help_args[] = {command, "--help", NULL};
    char *out, *err;
    assert_int_equal(run_cli(help_args, &out, &err), 0);
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].scope & scope) || t[i].id == required)
            continue;
        char *opt = dashed(t[i].name);
        char *shown = help_default(out, opt);
        if (!shown)
            fail_msg("scriptprune %s --help: no default for --%s", command, opt);
        char want[64];
        sp_param_format(&t[i], t[i].def, want, sizeof want);
        if (strcmp(shown, want) != 0)
            fail_msg("scriptprune %s --%s: default %s, table %s", command, opt, shown, want);
        g_free(shown);
        /* The range check is the table's: twice the maximum is refused by name. */
        bool whole_uint64 = t[i].max >= (double)UINT64_MAX; /* only overflow lies beyond */
        if (t[i].type != SP_PARAM_TYPE_ENUM && t[i].type != SP_PARAM_TYPE_METHOD &&
            t[i].type != SP_PARAM_TYPE_BOOL && !whole_uint64) {
            char bad[64], flag[64];
            sp_param_format(&t[i], t[i].max * 2 + 1, bad, sizeof bad);
            g_snprintf(flag, sizeof flag, "--%s", opt);
            const char *args[] = {command,
                                  flag,
                                  bad,
                                  "--frames",
                                  "/nonexistent",
                                  "--tokens",
                                  "/nonexistent.npy",
                                  "--out",
                                  "/nonexistent/x",
                                  NULL};
            /* select has no --frames, stream no --tokens: the parameter is refused first. */
            char *o2, *e2;
            int rc = run_cli(args, &o2, &e2);
            if (rc != 2)
                fail_msg("scriptprune %s %s %s: exit %d, stderr: %s", command, flag, bad, rc, e2);
            char *expect = g_strdup_printf("%s: %s is outside", flag, bad);
            if (!strstr(e2, expect))
                fail_msg("scriptprune %s %s %s: expected '%s', got: %s", command, flag, bad, expect,
                         e2);
            g_free(expect);
            g_free(o2);
            g_free(e2);
        }
        g_free(opt);
    }
    g_free(out);
    g_free(err);
}

static void test_cli_options_have_the_tables_defaults_and_ranges(void **state) {
    (void)state;
    check_cli_command("stream", SP_PARAM_IN_STREAM, SP_PARAM_COUNT);
    check_cli_command("select", SP_PARAM_IN_SELECT, SP_PARAM_BUDGET);
}

/* Old option names say which option replaced them and set that parameter (its range applies). */
static void test_old_cli_options_warn_and_set_the_new_parameter(void **state) {
    (void)state;
    static const char *const cases[][4] = {
        {"--tau-t", "5", "--tau-t is deprecated: use --temporal-tau",
         "--temporal-tau: 5 is outside"},
        {"--radius", "9", "--radius is deprecated: use --temporal-radius",
         "--temporal-radius: 9 is outside"},
        {"--policy", "both", "--policy is deprecated: use --emit", "--emit: 'both' is not one of"},
        {"--history-mib", "2000000", "use --history-bytes",
         "history_bytes: 2097152000000 is outside"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *args[] = {"stream", cases[i][0], cases[i][1], NULL};
        char *out, *err;
        assert_int_equal(run_cli(args, &out, &err), 2);
        if (!strstr(err, cases[i][2]) || !strstr(err, cases[i][3]))
            fail_msg("%s %s: expected '%s' and '%s', got: %s", cases[i][0], cases[i][1],
                     cases[i][2], cases[i][3], err);
        g_free(out);
        g_free(err);
    }
}

int main(int argc, char **argv) {
    gst_init(&argc, &argv);
    gboolean ok = gst_plugin_register_static(
        GST_VERSION_MAJOR, GST_VERSION_MINOR, "scriptprune", "scriptprune (test build)",
        gst_scriptprune_plugin_init, "0.1.0", "MIT/X11", "scriptd", "scriptd", "tests");
    g_assert(ok);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_element_properties_have_the_tables_defaults_and_ranges),
        cmocka_unit_test(test_old_property_names_set_the_new_ones),
        cmocka_unit_test(test_config_keys_have_the_tables_defaults_and_ranges),
        cmocka_unit_test(test_encoder_parameters_have_the_tables_defaults),
        cmocka_unit_test(test_cli_options_have_the_tables_defaults_and_ranges),
        cmocka_unit_test(test_old_cli_options_warn_and_set_the_new_parameter),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
