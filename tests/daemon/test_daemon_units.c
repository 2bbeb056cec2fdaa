/* Unit tests of daemon pieces that need no running daemon: confinement of client paths to the
 * media root, the JSON nesting and NUL pre-checks, the constant-time token comparison. */
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http_util.h"
#include "media/media_path.h"

typedef struct fixture {
    char *dir;   /* temporary directory */
    char *root;  /* dir/media */
    char *other; /* dir/other.mp4, outside the root */
} fixture;

/* Each file holds its own name, so a test can tell which file a descriptor reads. */
static void write_named(const char *dir, const char *name) {
    char *path = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(path, name, -1, NULL));
    g_free(path);
}

static void link_at(const char *dir, const char *name, const char *target) {
    char *path = g_build_filename(dir, name, NULL);
    assert_int_equal(symlink(target, path), 0);
    g_free(path);
}

static int setup(void **state) {
    fixture *fx = g_new0(fixture, 1);
    fx->dir = g_dir_make_tmp("scriptd-media-XXXXXX", NULL);
    assert_non_null(fx->dir);
    fx->root = g_build_filename(fx->dir, "media", NULL);
    char *sub = g_build_filename(fx->root, "sub", NULL);
    assert_int_equal(g_mkdir_with_parents(sub, 0755), 0);
    write_named(fx->root, "a.mp4");
    write_named(sub, "b.mp4");
    write_named(fx->dir, "other.mp4");
    fx->other = g_build_filename(fx->dir, "other.mp4", NULL);
    char *a = g_build_filename(fx->root, "a.mp4", NULL);
    link_at(fx->root, "escape.mp4", fx->other);
    link_at(fx->root, "dangling.mp4", "/nonexistent-scriptd-dir/x.mp4");
    link_at(fx->root, "rel-escape.mp4", "../other.mp4");
    link_at(fx->root, "rel-dangling.mp4", "../no-such-file.mp4");
    link_at(fx->root, "inside.mp4", a);
    link_at(fx->root, "rel-inside.mp4", "sub/b.mp4");
    link_at(sub, "up-inside.mp4", "../a.mp4");
    link_at(fx->root, "up", fx->dir);
    link_at(fx->root, "loop.mp4", "loop.mp4");
    g_free(sub);
    g_free(a);
    *state = fx;
    return 0;
}

static void remove_tree(const char *path) {
    GDir *d = g_file_test(path, G_FILE_TEST_IS_SYMLINK) ? NULL : g_dir_open(path, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
            g_free(child);
        }
        g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static int teardown(void **state) {
    fixture *fx = *state;
    remove_tree(fx->dir);
    g_free(fx->dir);
    g_free(fx->root);
    g_free(fx->other);
    g_free(fx);
    return 0;
}

/* Opens path under the fixture's root; *why (if asked for) gets the refusal's message. */
static scd_path_result open_in(const fixture *fx, const char *path, int *fd, char **why) {
    char *w = NULL;
    scd_path_result r = scd_media_open(fx->root, path, fd, &w);
    assert_true((r == SCD_PATH_OK) == (w == NULL));
    assert_true((r == SCD_PATH_OK) == (*fd >= 0));
    if (why)
        *why = w;
    else
        g_free(w);
    return r;
}

static void assert_reads(int fd, const char *want) {
    char buf[64] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    assert_true(n >= 0);
    assert_string_equal(buf, want);
}

static void paths_inside_the_root_open(void **state) {
    fixture *fx = *state;
    const char *ok[][2] = {{"a.mp4", "a.mp4"},
                           {"sub/b.mp4", "b.mp4"},
                           {"./sub/../a.mp4", "a.mp4"},
                           {"sub//b.mp4", "b.mp4"},
                           {"inside.mp4", "a.mp4"},
                           {"rel-inside.mp4", "b.mp4"},
                           {"sub/up-inside.mp4", "a.mp4"}};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        int fd;
        assert_int_equal(open_in(fx, ok[i][0], &fd, NULL), SCD_PATH_OK);
        assert_reads(fd, ok[i][1]);
        close(fd);
    }
    char *abs = g_build_filename(fx->root, "sub", "b.mp4", NULL);
    int fd;
    assert_int_equal(open_in(fx, abs, &fd, NULL), SCD_PATH_OK);
    assert_reads(fd, "b.mp4");
    close(fd);
    g_free(abs);
    /* A root given with a trailing slash behaves the same. */
    char *root_slash = g_strconcat(fx->root, "/", NULL), *why = NULL;
    assert_int_equal(scd_media_open(root_slash, "a.mp4", &fd, &why), SCD_PATH_OK);
    close(fd);
    g_free(root_slash);
}

static void paths_outside_are_refused_before_looking(void **state) {
    fixture *fx = *state;
    const char *out[] = {"../other.mp4", "/etc/passwd", "sub/../../other.mp4", ".",
                         "..",           "sub/../.."};
    for (size_t i = 0; i < G_N_ELEMENTS(out); i++) {
        int fd;
        assert_int_equal(open_in(fx, out[i], &fd, NULL), SCD_PATH_OUTSIDE);
        assert_int_equal(fd, -1);
    }
    /* Outside and missing: still "outside", which says nothing about what exists there. */
    int fd;
    assert_int_equal(open_in(fx, "../no-such-file", &fd, NULL), SCD_PATH_OUTSIDE);
    /* A sibling directory whose name starts like the root's is not inside it. */
    char *sibling = g_strconcat(fx->root, "-evil/x.mp4", NULL);
    assert_int_equal(open_in(fx, sibling, &fd, NULL), SCD_PATH_OUTSIDE);
    g_free(sibling);
}

static void symlinks_cannot_escape(void **state) {
    fixture *fx = *state;
    const char *out[] = {"escape.mp4",       "dangling.mp4", "rel-escape.mp4",
                         "rel-dangling.mp4", "up/other.mp4", "loop.mp4"};
    for (size_t i = 0; i < G_N_ELEMENTS(out); i++) {
        int fd;
        assert_int_equal(open_in(fx, out[i], &fd, NULL), SCD_PATH_OUTSIDE);
    }
}

/* The same status and message (but for the name) whether the target outside exists or not. */
static void refusals_do_not_tell_whether_outside_files_exist(void **state) {
    fixture *fx = *state;
    const char *pairs[][2] = {{"escape.mp4", "dangling.mp4"},
                              {"rel-escape.mp4", "rel-dangling.mp4"},
                              {"../other.mp4", "../no-such.mp4"}};
    for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
        int fd;
        char *w1, *w2;
        assert_int_equal(open_in(fx, pairs[i][0], &fd, &w1), open_in(fx, pairs[i][1], &fd, &w2));
        char **p1 = g_strsplit(w1, pairs[i][0], -1), **p2 = g_strsplit(w2, pairs[i][1], -1);
        char *j1 = g_strjoinv("P", p1), *j2 = g_strjoinv("P", p2);
        assert_string_equal(j1, j2);
        assert_null(strstr(w1, fx->dir));
        g_strfreev(p1);
        g_strfreev(p2);
        g_free(j1);
        g_free(j2);
        g_free(w1);
        g_free(w2);
    }
}

static void malformed_paths(void **state) {
    fixture *fx = *state;
    const char *bad[] = {"", "/", "a.mp4/", "sub/b.mp4//", "sub/", "a\nb.mp4"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        int fd;
        assert_int_equal(open_in(fx, bad[i], &fd, NULL), SCD_PATH_MALFORMED);
    }
}

static void missing_files_and_directories(void **state) {
    fixture *fx = *state;
    int fd;
    char *why = NULL;
    assert_int_equal(open_in(fx, "nothing.mp4", &fd, NULL), SCD_PATH_MISSING);
    assert_int_equal(open_in(fx, "a.mp4/x", &fd, NULL), SCD_PATH_MISSING);
    assert_int_equal(open_in(fx, "sub", &fd, NULL), SCD_PATH_NOT_FILE);
    assert_int_equal(scd_media_open("", "a.mp4", &fd, &why), SCD_PATH_DISABLED);
    assert_non_null(strstr(why, "media_root"));
    g_free(why);
}

/* A FIFO would block a plain open until a writer came: it is refused at once instead. */
static void a_fifo_is_not_a_file(void **state) {
    fixture *fx = *state;
    char *fifo = g_build_filename(fx->root, "pipe.mp4", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int fd;
    assert_int_equal(open_in(fx, "pipe.mp4", &fd, NULL), SCD_PATH_NOT_FILE);
    g_free(fifo);
}

/* What was checked is what is read: swapping the file for a symlink afterwards changes nothing. */
static void the_descriptor_survives_a_swap(void **state) {
    fixture *fx = *state;
    int fd;
    assert_int_equal(open_in(fx, "a.mp4", &fd, NULL), SCD_PATH_OK);
    char *a = g_build_filename(fx->root, "a.mp4", NULL);
    char *tmp = g_build_filename(fx->root, "swap.tmp", NULL);
    assert_int_equal(symlink(fx->other, tmp), 0);
    assert_int_equal(rename(tmp, a), 0);
    assert_reads(fd, "a.mp4");
    close(fd);
    assert_int_equal(open_in(fx, "a.mp4", &fd, NULL), SCD_PATH_OUTSIDE);
    g_free(a);
    g_free(tmp);
}

static void json_nul_is_detected(void **state) {
    (void)state;
    const char *nul[] = {"{\"path\": \"clip.mp4\\u0000/../x\"}", "{\"\\u0000\": 1}",
                         "{\"a\": [\"x\", \"\\u0000\"]}"};
    for (size_t i = 0; i < G_N_ELEMENTS(nul); i++)
        assert_true(scd_json_has_nul(nul[i], strlen(nul[i])));
    const char raw[] = "{\"a\": \"x\0y\"}";
    assert_true(scd_json_has_nul(raw, sizeof raw - 1));
    /* \u0000 then a '0' is still a NUL; an escaped backslash then "u0000" is not. */
    const char *more = "{\"a\": \"\\u00000\"}";
    assert_true(scd_json_has_nul(more, strlen(more)));
    const char *clean[] = {"{\"path\": \"clip.mp4\"}", "{\"a\": \"\\\\u0000\"}",
                           "{\"a\": \"\\u0001\\\"\"}"};
    for (size_t i = 0; i < G_N_ELEMENTS(clean); i++)
        assert_false(scd_json_has_nul(clean[i], strlen(clean[i])));
    /* A truncated escape at the end of the body. */
    assert_false(scd_json_has_nul("{\"a\": \"\\u000", 12));
}

static void json_body_is_one_object(void **state) {
    (void)state;
    gsize at;
    const char *one[] = {"{\"text\": \"x\"}", "  {\"a\": {\"b\": \"}{\"}}\n ", "{\"a\": 1"};
    for (size_t i = 0; i < G_N_ELEMENTS(one); i++)
        assert_int_equal(scd_json_top_shape(one[i], strlen(one[i]), &at), SCD_JSON_OBJECT);
    /* Not an object first: json-glib would read (and leak) every value that follows. */
    const char *other[] = {"[1, 2]", "\"error\"{\"image\": \"x\"}", "1 {}", "", "  "};
    for (size_t i = 0; i < G_N_ELEMENTS(other); i++)
        assert_int_equal(scd_json_top_shape(other[i], strlen(other[i]), &at), SCD_JSON_NOT_OBJECT);
    const char *two = "{\"text\": \"x\"} {\"b\": 2}";
    assert_int_equal(scd_json_top_shape(two, strlen(two), &at), SCD_JSON_TRAILING);
    assert_int_equal(at, 14);
    const char *tail = "{\"a\": \"}\"}x";
    assert_int_equal(scd_json_top_shape(tail, strlen(tail), &at), SCD_JSON_TRAILING);
    assert_int_equal(at, 10);
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
        cmocka_unit_test_setup_teardown(paths_inside_the_root_open, setup, teardown),
        cmocka_unit_test_setup_teardown(paths_outside_are_refused_before_looking, setup, teardown),
        cmocka_unit_test_setup_teardown(symlinks_cannot_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_do_not_tell_whether_outside_files_exist, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(malformed_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_files_and_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(a_fifo_is_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(the_descriptor_survives_a_swap, setup, teardown),
        cmocka_unit_test(json_nul_is_detected),
        cmocka_unit_test(json_nesting_is_bounded),
        cmocka_unit_test(json_body_is_one_object),
        cmocka_unit_test(tokens_compare_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
