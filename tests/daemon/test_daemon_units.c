/* Unit tests of daemon pieces that need no running daemon: confinement of client paths to the
 * media root, the JSON nesting pre-check, the constant-time token comparison. */
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_util.h"
#include "media_path.h"

typedef struct fixture {
    char *dir;   /* temporary directory */
    char *root;  /* dir/media */
    char *other; /* dir/other.mp4, outside the root */
} fixture;

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

static int setup(void **state) {
    fixture *fx = g_new0(fixture, 1);
    fx->dir = g_dir_make_tmp("scriptd-media-XXXXXX", NULL);
    assert_non_null(fx->dir);
    fx->root = g_build_filename(fx->dir, "media", NULL);
    char *sub = g_build_filename(fx->root, "sub", NULL);
    assert_int_equal(g_mkdir_with_parents(sub, 0755), 0);
    char *a = g_build_filename(fx->root, "a.mp4", NULL);
    char *b = g_build_filename(sub, "b.mp4", NULL);
    touch(a);
    touch(b);
    fx->other = g_build_filename(fx->dir, "other.mp4", NULL);
    touch(fx->other);
    char *esc = g_build_filename(fx->root, "escape.mp4", NULL);
    char *in = g_build_filename(fx->root, "inside.mp4", NULL);
    char *escdir = g_build_filename(fx->root, "up", NULL);
    assert_int_equal(symlink(fx->other, esc), 0);
    assert_int_equal(symlink(a, in), 0);
    assert_int_equal(symlink(fx->dir, escdir), 0);
    g_free(sub);
    g_free(a);
    g_free(b);
    g_free(esc);
    g_free(in);
    g_free(escdir);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    const char *names[] = {"media/a.mp4", "media/sub/b.mp4", "media/escape.mp4", "media/inside.mp4",
                           "media/up",    "other.mp4",       "media/sub",        "media"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *p = g_build_filename(fx->dir, names[i], NULL);
        if (g_unlink(p) != 0)
            g_rmdir(p);
        g_free(p);
    }
    g_rmdir(fx->dir);
    g_free(fx->dir);
    g_free(fx->root);
    g_free(fx->other);
    g_free(fx);
    return 0;
}

static scd_path_result resolve(const fixture *fx, const char *path, char **real) {
    char *why = NULL;
    *real = NULL;
    scd_path_result r = scd_media_resolve(fx->root, path, real, &why);
    assert_true((r == SCD_PATH_OK) == (why == NULL));
    g_free(why);
    return r;
}

static void paths_inside_the_root_resolve(void **state) {
    fixture *fx = *state;
    const char *ok[] = {"a.mp4", "sub/b.mp4", "./sub/../a.mp4", "sub//b.mp4", "inside.mp4"};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        char *real;
        assert_int_equal(resolve(fx, ok[i], &real), SCD_PATH_OK);
        assert_true(g_str_has_prefix(real, fx->dir) || strstr(real, "/media/"));
        assert_null(strstr(real, ".."));
        g_free(real);
    }
    char *abs = g_build_filename(fx->root, "sub", "b.mp4", NULL);
    char *real;
    assert_int_equal(resolve(fx, abs, &real), SCD_PATH_OK);
    g_free(real);
    g_free(abs);
    /* A root given with a trailing slash behaves the same. */
    char *root_slash = g_strconcat(fx->root, "/", NULL), *why = NULL;
    assert_int_equal(scd_media_resolve(root_slash, "a.mp4", &real, &why), SCD_PATH_OK);
    g_free(real);
    g_free(root_slash);
}

static void paths_outside_are_refused_before_looking(void **state) {
    fixture *fx = *state;
    const char *out[] = {"../other.mp4", "/etc/passwd", "sub/../../other.mp4", "", "/", ".",
                         "..",           "sub/../.."};
    for (size_t i = 0; i < G_N_ELEMENTS(out); i++) {
        char *real;
        assert_int_equal(resolve(fx, out[i], &real), SCD_PATH_OUTSIDE);
        assert_null(real);
    }
    /* Outside and missing: still "outside", which says nothing about what exists there. */
    char *real;
    assert_int_equal(resolve(fx, "../no-such-file", &real), SCD_PATH_OUTSIDE);
    /* A sibling directory whose name starts like the root's is not inside it. */
    char *sibling = g_strconcat(fx->root, "-evil/x.mp4", NULL);
    assert_int_equal(resolve(fx, sibling, &real), SCD_PATH_OUTSIDE);
    g_free(sibling);
}

static void symlinks_cannot_escape(void **state) {
    fixture *fx = *state;
    char *real;
    assert_int_equal(resolve(fx, "escape.mp4", &real), SCD_PATH_OUTSIDE);
    assert_int_equal(resolve(fx, "up/other.mp4", &real), SCD_PATH_OUTSIDE);
}

static void missing_files_and_directories(void **state) {
    fixture *fx = *state;
    char *real, *why = NULL;
    assert_int_equal(resolve(fx, "nothing.mp4", &real), SCD_PATH_MISSING);
    assert_int_equal(resolve(fx, "sub", &real), SCD_PATH_NOT_FILE);
    assert_int_equal(scd_media_resolve("", "a.mp4", &real, &why), SCD_PATH_DISABLED);
    assert_non_null(strstr(why, "media_root"));
    g_free(why);
}

static void json_nesting_is_bounded(void **state) {
    (void)state;
    assert_true(scd_json_depth_ok("{\"a\": [[1], [2]]}", 17, 3));
    assert_false(scd_json_depth_ok("{\"a\": [[1], [2]]}", 17, 2));
    /* Brackets inside strings (and escaped quotes) do not count. */
    const char *s = "{\"a\": \"[[[[\\\"[[[\"}";
    assert_true(scd_json_depth_ok(s, strlen(s), 1));
    size_t n = 100000;
    char *deep = g_malloc(n);
    memset(deep, '[', n);
    assert_false(scd_json_depth_ok(deep, n, SCD_JSON_MAX_DEPTH));
    g_free(deep);
    /* Unbalanced closers do not go negative and hide depth. */
    assert_false(scd_json_depth_ok("]]]][[[", 7, 2));
}

static void tokens_compare_exactly(void **state) {
    (void)state;
    assert_true(scd_secure_equal("s3cret", "s3cret"));
    assert_false(scd_secure_equal("s3cre", "s3cret"));
    assert_false(scd_secure_equal("s3crets", "s3cret"));
    assert_false(scd_secure_equal("S3cret", "s3cret"));
    assert_false(scd_secure_equal("", "s3cret"));
    assert_true(scd_secure_equal("", ""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(paths_inside_the_root_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(paths_outside_are_refused_before_looking, setup, teardown),
        cmocka_unit_test_setup_teardown(symlinks_cannot_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_files_and_directories, setup, teardown),
        cmocka_unit_test(json_nesting_is_bounded),
        cmocka_unit_test(tokens_compare_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
