/* Out-of-memory paths. Each operation runs with the n-th allocation failing (and every one after
 * it), for n = 0, 1, 2, ... until a run needs no injected failure. Every injected failure must
 * surface as SP_ERR_NOMEM with a message, leave no temporary files, and leak nothing (the leak
 * checker of the sanitizer build verifies the last part). */
#define SP_FAULT_INJECTION 1

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "scriptprune/json.h"
#include "scriptprune/npy.h"
#include "scriptprune/safetensors.h"
#include "testutil.h"

typedef sp_status (*op_fn)(void *ctx, sp_error *err);

static size_t dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Runs op under every allocation failure point; returns how many points there were. When dir is
 * given, it must hold exactly `files` entries after every run (no temporary files left). */
static long walk_oom(const char *what, op_fn op, void *ctx, const char *dir, size_t files) {
    for (long n = 0;; n++) {
        sp_error err;
        sp_error_clear(&err);
        sp_fault_fail_after(n);
        sp_status st = op(ctx, &err);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (dir)
            assert_int_equal(dir_entries(dir), files);
        if (injected == 0) {
            if (st != SP_OK)
                print_error("%s: failed without injection: %s\n", what, err.message);
            assert_int_equal(st, SP_OK);
            assert_true(n > 0); /* the operation allocates, so the walk tested something */
            print_message("%s: failed cleanly at each of %ld allocations\n", what, n);
            return n;
        }
        if (st != SP_ERR_NOMEM)
            print_error("%s: allocation %ld failed, got status %d: %s\n", what, n, st, err.message);
        assert_int_equal(st, SP_ERR_NOMEM);
        assert_true(err.message[0] != '\0');
        assert_true(n < 100000);
    }
}

/* ---- JSON ---- */

typedef struct text_ctx {
    const char *text;
    size_t len;
} text_ctx;

static sp_status op_json_parse(void *ctx, sp_error *err) {
    text_ctx *t = ctx;
    sp_json_doc *doc = NULL;
    sp_status st = sp_json_parse(t->text, t->len, "oom.json", &doc, err);
    if (st == SP_OK) {
        assert_non_null(sp_json_get(sp_json_root(doc), "k17"));
        sp_json_free(doc);
    } else {
        assert_null(doc);
    }
    return st;
}

static void test_json_parse_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    /* Large objects (sorted index), escapes, nesting, and a number long enough to need a heap
     * buffer for strtod. */
    enum { CAP = 256 * 1024 };
    char *text = malloc(CAP);
    assert_non_null(text);
    size_t o = (size_t)snprintf(text, CAP, "{\"arr\": [1, [2, [3, {\"x\": \"\\u00e9\"}]]],");
    /* Enough members to grow the scratch stack and the arena several times. */
    for (int i = 0; i < 3000; i++)
        o += (size_t)snprintf(text + o, CAP - o, "\"k%d\": {\"v\": %d.5, \"s\": \"a\\nb\"},", i, i);
    o += (size_t)snprintf(text + o, CAP - o, "\"long\": 0.");
    for (int i = 0; i < 300; i++)
        text[o++] = (char)('0' + i % 10);
    o += (size_t)snprintf(text + o, CAP - o, "}");
    text_ctx t = {text, o};
    walk_oom("json", op_json_parse, &t, NULL, 0);
    free(text);
}

static sp_status op_strbuf(void *ctx, sp_error *err) {
    (void)ctx;
    sp_strbuf b;
    sp_strbuf_init(&b);
    sp_status st = SP_OK;
    for (int i = 0; i < 200 && !st; i++) {
        st = sp_strbuf_printf(&b, "%d,", i);
        if (!st)
            st = sp_json_append_string(&b, "x\"\n\xc3\xa9", 5);
        if (!st)
            st = sp_strbuf_append(&b, "abc", 3);
    }
    if (st)
        sp_error_set(err, st, "strbuf: %s", sp_status_name(st));
    else
        assert_int_equal(strlen(b.data), b.len);
    sp_strbuf_free(&b);
    return st;
}

static void test_strbuf_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    walk_oom("strbuf", op_strbuf, NULL, NULL, 0);
}

/* ---- npy ---- */

typedef struct image_ctx {
    const uint8_t *buf;
    size_t len;
    const char *path;
} image_ctx;

static sp_status op_npy_parse(void *ctx, sp_error *err) {
    image_ctx *c = ctx;
    sp_matrix m;
    sp_status st = sp_npy_parse(c->buf, c->len, "oom.npy", &m, err);
    if (st == SP_OK)
        sp_matrix_free(&m);
    else
        assert_null(m.data);
    return st;
}

static sp_status op_npy_read(void *ctx, sp_error *err) {
    image_ctx *c = ctx;
    sp_matrix m;
    sp_status st = sp_npy_read(c->path, &m, err);
    if (st == SP_OK)
        sp_matrix_free(&m);
    return st;
}

static sp_status op_npy_write(void *ctx, sp_error *err) {
    image_ctx *c = ctx;
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    sp_status st = sp_npy_write(c->path, x, 2, 3, 2, SP_DTYPE_F16, err);
    if (st == SP_OK)
        assert_int_equal(unlink(c->path), 0);
    return st;
}

static void test_npy_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    size_t len;
    uint8_t *img = tu_npy_image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", x,
                                sizeof x, &len);
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "a.npy");
    tu_write_file(p, img, len);
    image_ctx c = {img, len, p};
    walk_oom("npy parse", op_npy_parse, &c, NULL, 0);
    walk_oom("npy read", op_npy_read, &c, dir, 1);
    free(p);
    p = tu_join(dir, "w.npy");
    c.path = p;
    walk_oom("npy write", op_npy_write, &c, dir, 1);
    free(p);
    free(img);
    tu_rmtree(dir);
}

/* ---- safetensors ---- */

static sp_status exercise_st(sp_st_file *f, sp_error *err) {
    sp_status st = SP_OK;
    for (size_t i = 0; i < sp_st_count(f) && !st; i++) {
        float *x;
        size_t n;
        st = sp_st_read_f32(sp_st_at(f, i), &x, &n, err);
        if (!st)
            free(x);
    }
    return st;
}

static sp_status op_st_open_buffer(void *ctx, sp_error *err) {
    image_ctx *c = ctx;
    sp_st_file *f = (sp_st_file *)1;
    sp_status st = sp_st_open_buffer(c->buf, c->len, "oom.safetensors", &f, err);
    if (st) {
        assert_null(f);
        return st;
    }
    st = exercise_st(f, err);
    sp_st_close(f);
    return st;
}

static sp_status op_st_open(void *ctx, sp_error *err) {
    image_ctx *c = ctx;
    sp_st_file *f;
    sp_status st = sp_st_open(c->path, &f, err);
    if (st)
        return st;
    st = exercise_st(f, err);
    sp_st_close(f);
    return st;
}

/* Builds a writer with several tensors and metadata, then serialises it both ways. */
static sp_status op_st_write(void *ctx, sp_error *err) {
    image_ctx *c = ctx;
    static const float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    sp_st_writer *w = sp_st_writer_new();
    if (!w)
        return sp_error_set(err, SP_ERR_NOMEM, "sp_st_writer_new returned NULL");
    sp_status st = SP_OK;
    char name[32];
    for (int i = 0; i < 20 && !st; i++) {
        size_t shape[2] = {3, 4};
        snprintf(name, sizeof name, "layer.%d.weight", i);
        st = i % 2 ? sp_st_writer_add(w, name, SP_DTYPE_F32, 2, shape, x, err)
                   : sp_st_writer_add_f32_as_f16(w, name, 2, shape, x, err);
    }
    for (int i = 0; i < 12 && !st; i++) {
        snprintf(name, sizeof name, "key%d", i);
        st = sp_st_writer_metadata(w, name, "value \"quoted\"\n", err);
    }
    uint8_t *buf = NULL;
    size_t len;
    if (!st)
        st = sp_st_writer_to_buffer(w, &buf, &len, err);
    if (!st) {
        sp_st_file *f;
        st = sp_st_open_buffer(buf, len, "written", &f, err);
        if (!st) {
            assert_int_equal(sp_st_count(f), 20);
            sp_st_close(f);
        }
    }
    free(buf);
    if (!st)
        st = sp_st_writer_write_file(w, c->path, err);
    if (!st)
        assert_int_equal(unlink(c->path), 0);
    sp_st_writer_free(w);
    return st;
}

static void test_safetensors_fails_cleanly_at_every_allocation(void **state) {
    (void)state;
    char header[4096];
    size_t o = (size_t)snprintf(header, sizeof header,
                                "{\"__metadata__\": {\"format\": \"pt\", \"a\": \"b\"}");
    static const float data[40] = {0};
    for (int i = 0; i < 10; i++)
        o += (size_t)snprintf(header + o, sizeof header - o,
                              ", \"t%d\": {\"dtype\": \"%s\", \"shape\": [2], "
                              "\"data_offsets\": [%d, %d]}",
                              9 - i, i % 2 ? "F32" : "F16", 16 * i, 16 * i + (i % 2 ? 8 : 4));
    snprintf(header + o, sizeof header - o, "}");
    size_t len;
    uint8_t *img = tu_st_image(header, data, sizeof data, &len);
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "a.safetensors");
    tu_write_file(p, img, len);
    image_ctx c = {img, len, p};
    walk_oom("safetensors open buffer", op_st_open_buffer, &c, NULL, 0);
    walk_oom("safetensors open file", op_st_open, &c, dir, 1);
    free(p);
    p = tu_join(dir, "w.safetensors");
    c.path = p;
    walk_oom("safetensors write", op_st_write, &c, dir, 1);
    free(p);
    free(img);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parse_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_strbuf_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_npy_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_safetensors_fails_cleanly_at_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
