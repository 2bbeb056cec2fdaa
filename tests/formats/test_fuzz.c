/* Deterministic mutation fuzzing of the three parsers. Valid images are truncated at every length
 * and then corrupted thousands of times (byte flips, special bytes, insertions, deletions, length
 * fields rewritten); each mutant is parsed from an exact-size heap copy. A parser must never
 * crash or read out of bounds (the sanitizer build checks), and must either succeed, in which
 * case the result is walked completely, or fail with a one-line, non-empty message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scriptprune/json.h"
#include "scriptprune/npy.h"
#include "scriptprune/safetensors.h"
#include "testutil.h"

enum { MUTANTS = 4000 };

typedef sp_status (*parse_fn)(const uint8_t *buf, size_t len, sp_error *err);

static void check_failure(sp_status st, const sp_error *err) {
    assert_true(st > SP_OK && st <= SP_ERR_NOT_FOUND);
    assert_int_equal(err->status, st);
    assert_true(err->message[0] != '\0');
    assert_null(strchr(err->message, '\n'));
}

/* Parses a private exact-size copy; returns 1 on success. */
static int run(parse_fn parse, const uint8_t *img, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, img, len);
    sp_error err;
    sp_error_clear(&err);
    sp_status st = parse(copy, len, &err);
    if (st != SP_OK)
        check_failure(st, &err);
    free(copy);
    return st == SP_OK;
}

static const uint8_t special[] = {0x00, 0xff, 0x80, 0xc3, '"', '\\', '{', '}',  '[', ']', ',',
                                  ':',  '0',  '9',  '-',  'e', '.',  ' ', '\'', '(', ')', 'L'};

/* A random mutation of img into out (capacity len + 8); returns the new length. */
static size_t mutate(tu_rng *r, const uint8_t *img, size_t len, uint8_t *out, int st_lengths) {
    memcpy(out, img, len);
    size_t n = len;
    int edits = 1 + (int)tu_below(r, 4);
    for (int e = 0; e < edits && n > 0; e++) {
        size_t at = tu_below(r, n);
        switch (tu_below(r, st_lengths ? 7 : 6)) {
            case 0:
                out[at] = (uint8_t)tu_next(r);
                break;
            case 1:
                out[at] ^= (uint8_t)(1u << tu_below(r, 8));
                break;
            case 2:
                out[at] = special[tu_below(r, sizeof special)];
                break;
            case 3: /* delete a byte */
                memmove(out + at, out + at + 1, n - at - 1);
                n--;
                break;
            case 4: /* insert a byte */
                if (n < len + 8) {
                    memmove(out + at + 1, out + at, n - at);
                    out[at] = special[tu_below(r, sizeof special)];
                    n++;
                }
                break;
            case 5: /* truncate */
                n = at;
                break;
            case 6: { /* a header length near the real one, or anything */
                uint64_t v =
                    tu_below(r, 2) ? tu_next(r) : (uint64_t)(len - 8) + tu_below(r, 17) - 8;
                for (int i = 0; i < 8 && i < (int)n; i++)
                    out[i] = (uint8_t)(v >> (8 * i));
                break;
            }
        }
    }
    return n;
}

static void fuzz(parse_fn parse, const uint8_t *img, size_t len, uint64_t seed, int st_lengths) {
    assert_true(run(parse, img, len)); /* the seed image itself is valid */
    for (size_t cut = 0; cut < len; cut++)
        run(parse, img, cut);
    uint8_t *buf = malloc(len + 8);
    assert_non_null(buf);
    tu_rng r = {seed};
    int ok = 0;
    for (int i = 0; i < MUTANTS; i++) {
        size_t n = mutate(&r, img, len, buf, st_lengths);
        ok += run(parse, buf, n);
    }
    print_message("%d of %d mutants parsed, %zu truncations rejected or parsed\n", ok, MUTANTS,
                  len);
    /* Some mutants (in padding or data bytes) stay valid, most do not: both paths ran. */
    assert_true(ok > 0 && ok < MUTANTS);
    free(buf);
}

/* ---- JSON ---- */

static double walk_json(const sp_json *v, int depth) {
    assert_true(depth <= SP_JSON_MAX_DEPTH + 1);
    double acc = 0;
    size_t len;
    switch (sp_json_type_of(v)) {
        case SP_JSON_NUMBER:
            acc += isfinite(sp_json_number(v)) ? 1 : 0;
            break;
        case SP_JSON_STRING: {
            const char *s = sp_json_string(v, &len);
            assert_int_equal(s[len], '\0');
            acc += (double)len;
            break;
        }
        case SP_JSON_ARRAY:
            for (size_t i = 0; i < sp_json_length(v); i++)
                acc += walk_json(sp_json_at(v, i), depth + 1);
            break;
        case SP_JSON_OBJECT:
            for (size_t i = 0; i < sp_json_length(v); i++) {
                /* A key with an embedded NUL may find another member or none: just look. */
                (void)sp_json_get(v, sp_json_key_at(v, i));
                acc += walk_json(sp_json_value_at(v, i), depth + 1);
            }
            break;
        default:
            break;
    }
    return acc;
}

static sp_status parse_json(const uint8_t *buf, size_t len, sp_error *err) {
    sp_json_doc *doc;
    sp_status st = sp_json_parse((const char *)buf, len, "fuzz.json", &doc, err);
    if (st == SP_OK) {
        walk_json(sp_json_root(doc), 0);
        sp_json_free(doc);
    }
    return st;
}

static void test_fuzz_json_parser(void **state) {
    (void)state;
    char text[4096];
    size_t o = (size_t)snprintf(
        text, sizeof text,
        "{\"model_type\": \"siglip\", \"hidden_size\": 1152, \"eps\": 1e-06,\n"
        " \"ratio\": -0.25, \"flags\": [true, false, null], \"name\": \"caf\\u00e9 "
        "\\ud83d\\ude00\",\n"
        " \"nested\": {\"a\": [[1, 2], [3, {\"b\": \"\xc3\xa9\\n\\t\\\"\"}]], \"empty\": {}},\n"
        " \"vocab\": {");
    for (int i = 0; i < 24; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%s\"t%d\": %d", i ? ", " : "", i, i);
    o += (size_t)snprintf(text + o, sizeof text - o, "}}");
    fuzz(parse_json, (const uint8_t *)text, o, 1, 0);
}

/* ---- npy ---- */

static sp_status parse_npy(const uint8_t *buf, size_t len, sp_error *err) {
    sp_matrix m;
    sp_status st = sp_npy_parse(buf, len, "fuzz.npy", &m, err);
    if (st == SP_OK) {
        assert_true(m.rows >= 1 && m.cols >= 1);
        /* Touch every element so the sanitizers check the whole allocation. */
        size_t finite = 0;
        for (size_t i = 0; i < m.rows * m.cols; i++)
            finite += isfinite(m.data[i]) != 0;
        assert_true(finite <= m.rows * m.cols);
        sp_matrix_free(&m);
    } else {
        assert_null(m.data);
    }
    return st;
}

static void test_fuzz_npy_parser(void **state) {
    (void)state;
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i - 3.5f;
    size_t len;
    uint8_t *img = tu_npy_image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", x,
                                sizeof x, &len);
    fuzz(parse_npy, img, len, 2, 0);
    free(img);
    uint16_t h[12];
    sp_float_to_half_n(x, h, 12);
    img = tu_npy_image(2, "{'shape': (12,), 'descr': '<f2', 'fortran_order': False}", h, sizeof h,
                       &len);
    fuzz(parse_npy, img, len, 3, 0);
    free(img);
}

/* ---- safetensors ---- */

static sp_status parse_st(const uint8_t *buf, size_t len, sp_error *err) {
    sp_st_file *f;
    sp_status st = sp_st_open_buffer(buf, len, "fuzz.safetensors", &f, err);
    if (st != SP_OK) {
        assert_null(f);
        return st;
    }
    for (size_t i = 0; i < sp_st_count(f); i++) {
        const sp_st_tensor *t = sp_st_at(f, i);
        assert_ptr_equal(sp_st_find(f, t->name), t);
        assert_true(t->data >= buf + 8 && t->data + t->nbytes <= buf + len);
        if (i > 0)
            assert_true(sp_st_at(f, i - 1)->data <= t->data);
        float *x;
        size_t n;
        sp_error e2;
        if (sp_st_read_f32(t, &x, &n, &e2) == SP_OK) {
            assert_int_equal(n, t->elements);
            free(x);
        } else {
            check_failure(e2.status, &e2);
        }
    }
    for (size_t i = 0; i < sp_st_metadata_count(f); i++) {
        const char *k, *v;
        sp_st_metadata_at(f, i, &k, &v);
        assert_non_null(k);
        assert_non_null(v);
    }
    sp_st_close(f);
    return SP_OK;
}

static void test_fuzz_safetensors_parser(void **state) {
    (void)state;
    sp_st_writer *w = sp_st_writer_new();
    sp_error err;
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i * 0.5f;
    size_t s34[] = {3, 4}, s2[] = {2}, s0[] = {0, 5};
    const int32_t ints[2] = {-7, 9};
    assert_int_equal(sp_st_writer_add(w, "vision.tokens", SP_DTYPE_F32, 2, s34, x, &err), SP_OK);
    assert_int_equal(sp_st_writer_add_f32_as_f16(w, "half", 2, s34, x, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "ids", SP_DTYPE_I32, 1, s2, ints, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "none", SP_DTYPE_BF16, 2, s0, NULL, &err), SP_OK);
    assert_int_equal(sp_st_writer_metadata(w, "format", "pt", &err), SP_OK);
    assert_int_equal(sp_st_writer_metadata(w, "k\xc3\xa9y", "v\\al\"ue", &err), SP_OK);
    uint8_t *img;
    size_t len;
    assert_int_equal(sp_st_writer_to_buffer(w, &img, &len, &err), SP_OK);
    sp_st_writer_free(w);
    fuzz(parse_st, img, len, 4, 1);
    free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_json_parser),
        cmocka_unit_test(test_fuzz_npy_parser),
        cmocka_unit_test(test_fuzz_safetensors_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
