/* The strict JSON reader, sp_strbuf and the string escaper. Inputs are copied into exact-size heap
 * buffers without a terminator, so the sanitizer build catches any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scriptprune/json.h"
#include "testutil.h"

static sp_status parse_len(const char *text, size_t len, sp_json_doc **doc, sp_error *err) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    sp_error_clear(err);
    sp_status st = sp_json_parse(copy, len, "test.json", doc, err);
    free(copy);
    return st;
}

static sp_status parse(const char *text, sp_json_doc **doc, sp_error *err) {
    return parse_len(text, strlen(text), doc, err);
}

/* Parses text expecting failure with status st and a message containing want. */
static void expect_error(const char *text, size_t len, sp_status st, const char *want) {
    sp_json_doc *doc = (sp_json_doc *)1;
    sp_error err;
    sp_status got = parse_len(text, len, &doc, &err);
    if (got != st)
        print_error("input \"%.*s\": status %d, message \"%s\"\n", (int)len, text, got,
                    err.message);
    assert_int_equal(got, st);
    assert_null(doc);
    assert_true(tu_contains(err.message, "test.json: line "));
    assert_true(tu_contains(err.message, want));
    assert_null(strchr(err.message, '\n'));
}

static void expect_error_s(const char *text, sp_status st, const char *want) {
    expect_error(text, strlen(text), st, want);
}

static void test_json_parses_values_and_nesting(void **state) {
    (void)state;
    sp_json_doc *doc;
    sp_error err;
    const char *text = " {\"n\": null, \"t\": true, \"f\": false, \"x\": -12.5e1,\n"
                       "  \"s\": \"hi\", \"a\": [1, [2, {}], []], \"o\": {\"k\": \"v\"}} ";
    assert_int_equal(parse(text, &doc, &err), SP_OK);
    const sp_json *r = sp_json_root(doc);
    assert_int_equal(sp_json_type_of(r), SP_JSON_OBJECT);
    assert_int_equal(sp_json_length(r), 7);
    assert_int_equal(sp_json_type_of(sp_json_get(r, "n")), SP_JSON_NULL);
    assert_true(sp_json_bool(sp_json_get(r, "t")));
    assert_int_equal(sp_json_type_of(sp_json_get(r, "f")), SP_JSON_BOOL);
    assert_false(sp_json_bool(sp_json_get(r, "f")));
    assert_true(sp_json_number(sp_json_get(r, "x")) == -125.0);
    size_t len;
    assert_string_equal(sp_json_string(sp_json_get(r, "s"), &len), "hi");
    assert_int_equal(len, 2);
    const sp_json *a = sp_json_get(r, "a");
    assert_int_equal(sp_json_length(a), 3);
    assert_true(sp_json_number(sp_json_at(a, 0)) == 1.0);
    assert_int_equal(sp_json_length(sp_json_at(a, 1)), 2);
    assert_int_equal(sp_json_type_of(sp_json_at(sp_json_at(a, 1), 1)), SP_JSON_OBJECT);
    assert_int_equal(sp_json_length(sp_json_at(a, 2)), 0);
    assert_null(sp_json_at(a, 3));
    assert_string_equal(sp_json_string(sp_json_get(sp_json_get(r, "o"), "k"), NULL), "v");
    assert_string_equal(sp_json_key_at(r, 4), "s");
    assert_int_equal(sp_json_type_of(sp_json_value_at(r, 5)), SP_JSON_ARRAY);
    assert_null(sp_json_get(r, "missing"));
    sp_json_free(doc);

    assert_int_equal(parse("\"top\"", &doc, &err), SP_OK);
    assert_string_equal(sp_json_string(sp_json_root(doc), NULL), "top");
    sp_json_free(doc);
}

static void test_json_accessors_on_wrong_types_are_neutral(void **state) {
    (void)state;
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(parse("[\"s\"]", &doc, &err), SP_OK);
    const sp_json *r = sp_json_root(doc);
    assert_null(sp_json_get(r, "s"));
    assert_null(sp_json_key_at(r, 0));
    assert_null(sp_json_value_at(r, 0));
    size_t len = 5;
    assert_null(sp_json_string(r, &len));
    assert_int_equal(len, 0);
    assert_true(sp_json_number(sp_json_at(r, 0)) == 0.0);
    assert_false(sp_json_bool(sp_json_at(r, 0)));
    int64_t i;
    assert_false(sp_json_int64(sp_json_at(r, 0), &i));
    assert_int_equal(sp_json_length(sp_json_at(r, 0)), 0);
    assert_null(sp_json_at(sp_json_at(r, 0), 0));
    assert_int_equal(sp_json_type_of(NULL), SP_JSON_NULL);
    assert_null(sp_json_get(NULL, "x"));
    assert_string_equal(sp_json_type_name(SP_JSON_OBJECT), "object");
    sp_json_free(doc);
    sp_json_free(NULL);
}

static void test_json_int64_is_exact_only_for_plain_integers(void **state) {
    (void)state;
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(parse("[0, -0, 42, 9223372036854775807, -9223372036854775808, "
                           "9223372036854775808, 1e3, 1.5, 1180591620717411303424, 1.0]",
                           &doc, &err),
                     SP_OK);
    const sp_json *r = sp_json_root(doc);
    int64_t v;
    assert_true(sp_json_int64(sp_json_at(r, 0), &v));
    assert_int_equal(v, 0);
    assert_true(sp_json_int64(sp_json_at(r, 1), &v));
    assert_int_equal(v, 0);
    assert_true(signbit(sp_json_number(sp_json_at(r, 1)))); /* -0 is still negative zero */
    assert_true(sp_json_int64(sp_json_at(r, 2), &v));
    assert_int_equal(v, 42);
    assert_true(sp_json_int64(sp_json_at(r, 3), &v));
    assert_true(v == INT64_MAX);
    assert_true(sp_json_int64(sp_json_at(r, 4), &v));
    assert_true(v == INT64_MIN);
    assert_false(sp_json_int64(sp_json_at(r, 5), &v)); /* 2^63 */
    assert_true(sp_json_number(sp_json_at(r, 5)) == 9223372036854775808.0);
    assert_false(sp_json_int64(sp_json_at(r, 6), &v));
    assert_true(sp_json_number(sp_json_at(r, 6)) == 1000.0);
    assert_false(sp_json_int64(sp_json_at(r, 7), &v));
    assert_false(sp_json_int64(sp_json_at(r, 8), &v)); /* 2^70 */
    assert_true(sp_json_number(sp_json_at(r, 8)) == ldexp(1, 70));
    assert_false(sp_json_int64(sp_json_at(r, 9), &v));
    sp_json_free(doc);
}

static void test_json_numbers_convert_like_strtod(void **state) {
    (void)state;
    const char *nums[] = {"0.1",
                          "-2.5E+3",
                          "1e-310",
                          "123456789012345678901234567890",
                          "5e-324",
                          "1.7976931348623157e308",
                          "0.30000000000000004",
                          "-0.0",
                          "9007199254740993",
                          "2.2250738585072011e-308"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        sp_json_doc *doc;
        sp_error err;
        assert_int_equal(parse(nums[i], &doc, &err), SP_OK);
        double want = strtod(nums[i], NULL);
        double got = sp_json_number(sp_json_root(doc));
        assert_memory_equal(&got, &want, sizeof got);
        sp_json_free(doc);
    }
}

/* strtod follows LC_NUMERIC; the reader must not (GStreamer applications call setlocale). */
static void test_json_numbers_ignore_a_comma_locale(void **state) {
    (void)state;
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE"};
    const char *set = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !set; i++)
        set = setlocale(LC_NUMERIC, names[i]);
    char *dir = NULL;
    if (!set) {
        /* None installed: compile one from the glibc locale sources into a temporary LOCPATH. */
        dir = tu_tmpdir();
        char cmd[512];
        snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1",
                 dir);
        if (system(cmd) == 0 && setenv("LOCPATH", dir, 1) == 0)
            set = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    }
    if (!set || strcmp(localeconv()->decimal_point, ",") != 0) {
        setlocale(LC_NUMERIC, "C");
        tu_rmtree(dir);
        skip(); /* no locale with a decimal comma can be had here */
        return;
    }
    assert_true(strtod("1.5", NULL) == 1.0); /* the trap the reader must avoid */
    sp_json_doc *doc;
    sp_error err;
    sp_status st = parse("[1.5, 2.25e1]", &doc, &err);
    setlocale(LC_NUMERIC, "C");
    unsetenv("LOCPATH");
    tu_rmtree(dir);
    assert_int_equal(st, SP_OK);
    assert_true(sp_json_number(sp_json_at(sp_json_root(doc), 0)) == 1.5);
    assert_true(sp_json_number(sp_json_at(sp_json_root(doc), 1)) == 22.5);
    sp_json_free(doc);
}

static void test_json_rejects_bad_number_grammar(void **state) {
    (void)state;
    expect_error_s("01", SP_ERR_FORMAT, "leading zeros");
    expect_error_s("-01", SP_ERR_FORMAT, "leading zeros");
    expect_error_s("-", SP_ERR_FORMAT, "expected a digit after '-', found end of input");
    expect_error_s("-x", SP_ERR_FORMAT, "expected a digit after '-', found 'x'");
    expect_error_s("1.", SP_ERR_FORMAT, "a digit after the decimal point");
    expect_error_s("[1.e5]", SP_ERR_FORMAT, "a digit after the decimal point");
    expect_error_s(".5", SP_ERR_FORMAT, "expected a value, found '.'");
    expect_error_s("+1", SP_ERR_FORMAT, "expected a value, found '+'");
    expect_error_s("1e", SP_ERR_FORMAT, "a digit in the exponent");
    expect_error_s("1e+", SP_ERR_FORMAT, "a digit in the exponent");
    expect_error_s("0x10", SP_ERR_FORMAT, "unexpected 'x' after the end of the document");
    expect_error_s("NaN", SP_ERR_FORMAT, "expected a value");
    expect_error_s("[Infinity]", SP_ERR_FORMAT, "expected a value");
    expect_error_s("1e400", SP_ERR_FORMAT, "out of the range of a double");
    expect_error_s("-1e400", SP_ERR_FORMAT, "out of the range of a double");
}

static void test_json_decodes_escapes_and_surrogate_pairs(void **state) {
    (void)state;
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(
        parse("\"a\\u00e9\\u20AC\\ud83d\\ude00\\n\\t\\/\\\\\\\"\\b\\f\\r\\u0000z\"", &doc, &err),
        SP_OK);
    size_t len;
    const char *s = sp_json_string(sp_json_root(doc), &len);
    const char want[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n\t/\\\"\b\f\r\0z";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(s, want, sizeof want); /* includes the terminator */
    sp_json_free(doc);
}

static void test_json_rejects_lone_surrogates_and_bad_escapes(void **state) {
    (void)state;
    expect_error_s("\"\\ud800\"", SP_ERR_FORMAT, "high surrogate \\uD800 is not followed");
    expect_error_s("\"\\ud800\\u0041\"", SP_ERR_FORMAT, "high surrogate");
    expect_error_s("\"\\ud800x\"", SP_ERR_FORMAT, "high surrogate");
    expect_error_s("\"\\ud800\\ud800\"", SP_ERR_FORMAT, "high surrogate");
    expect_error_s("\"\\udc00\"", SP_ERR_FORMAT, "lone low surrogate \\uDC00");
    expect_error_s("\"\\u12\"", SP_ERR_FORMAT, "four hex digits");
    expect_error_s("\"\\u12g4\"", SP_ERR_FORMAT, "four hex digits");
    expect_error_s("\"\\x\"", SP_ERR_FORMAT, "invalid escape");
    expect_error_s("\"\\'\"", SP_ERR_FORMAT, "invalid escape");
    expect_error_s("\"abc", SP_ERR_FORMAT, "not terminated");
    expect_error_s("\"abc\\", SP_ERR_FORMAT, "not terminated");
    expect_error_s("\"a\nb\"", SP_ERR_FORMAT, "control character U+000A");
    expect_error_s("\"a\tb\"", SP_ERR_FORMAT, "control character U+0009");
    expect_error("\"a\0b\"", 5, SP_ERR_FORMAT, "control character U+0000");
}

static void test_json_rejects_invalid_utf8(void **state) {
    (void)state;
    const char *bad[] = {
        "\"\xc0\x80\"",         /* overlong NUL */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\x80\"",     /* overlong 3-byte */
        "\"\xed\xa0\x80\"",     /* encoded surrogate */
        "\"\xf0\x80\x80\x80\"", /* overlong 4-byte */
        "\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xf5\x80\x80\x80\"", /* invalid lead */
        "\"\xff\"",             /* invalid byte */
        "\"\x80\"",             /* lone continuation */
        "\"\xe2\x82\"",         /* truncated sequence */
        "\"\xe2\x82x\"",        /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error_s(bad[i], SP_ERR_FORMAT, "invalid UTF-8 byte");
    expect_error_s("\xc3\xa9", SP_ERR_FORMAT, "expected a value, found byte 0xc3");
    /* Valid boundaries pass. */
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(parse("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80"
                           "\xf4\x8f\xbf\xbf\"",
                           &doc, &err),
                     SP_OK);
    sp_json_free(doc);
}

static void test_json_rejects_duplicate_keys(void **state) {
    (void)state;
    expect_error_s("{\"a\": 1, \"b\": 2, \"a\": 3}", SP_ERR_FORMAT,
                   "line 1 column 18 (byte 17): duplicate object key \"a\" (first at line 1 "
                   "column 2)");
    expect_error_s("{\"a\\u0062\": 1, \"ab\": 2}", SP_ERR_FORMAT, "duplicate object key \"ab\"");
    /* A large object takes the sorted-index path. */
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big, "{");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "\"k%d\": %d,\n", i, i);
    snprintf(big + o, sizeof big - o, "\"k42\": 0}");
    expect_error_s(big, SP_ERR_FORMAT, "line 101 column 1 (byte");
    expect_error_s(big, SP_ERR_FORMAT, "duplicate object key \"k42\" (first at line 43 column 1)");
    /* Keys differing only after an embedded NUL are different keys. */
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(parse("{\"a\\u0000b\": 1, \"a\\u0000c\": 2, \"a\": 3}", &doc, &err), SP_OK);
    assert_true(sp_json_number(sp_json_get(sp_json_root(doc), "a")) == 3.0);
    sp_json_free(doc);
}

static void test_json_rejects_trailing_commas_comments_and_garbage(void **state) {
    (void)state;
    expect_error_s("[1,]", SP_ERR_FORMAT, "trailing comma before ']'");
    expect_error_s("{\"a\": 1,}", SP_ERR_FORMAT, "trailing comma before '}'");
    expect_error_s("[1] // c", SP_ERR_FORMAT, "unexpected '/' after the end of the document");
    expect_error_s("/* c */ [1]", SP_ERR_FORMAT, "expected a value, found '/'");
    expect_error_s("[1 2]", SP_ERR_FORMAT,
                   "expected ',' or ']' in the array opened at line 1 column 1, found '2'");
    expect_error_s("{\"a\" 1}", SP_ERR_FORMAT, "expected ':' after the object key, found '1'");
    expect_error_s("{a: 1}", SP_ERR_FORMAT, "expected a string key, found 'a'");
    expect_error_s("{\"a\": 1 \"b\": 2}", SP_ERR_FORMAT, "expected ',' or '}' in the object");
    expect_error_s("['x']", SP_ERR_FORMAT, "expected a value, found '''");
    expect_error_s("[", SP_ERR_FORMAT, "expected a value, found end of input");
    expect_error_s("[1", SP_ERR_FORMAT, "found end of input");
    expect_error_s("{\"a\":", SP_ERR_FORMAT, "expected a value, found end of input");
    expect_error_s("{} x", SP_ERR_FORMAT, "unexpected 'x' after the end of the document");
    expect_error_s("[1]]", SP_ERR_FORMAT, "unexpected ']' after the end");
    expect_error_s("1 2", SP_ERR_FORMAT, "unexpected '2'");
    expect_error_s("tru", SP_ERR_FORMAT, "expected a value, found 't'");
    expect_error_s("nul", SP_ERR_FORMAT, "expected a value");
    expect_error_s("True", SP_ERR_FORMAT, "expected a value, found 'T'");
    expect_error("[1]\0", 4, SP_ERR_FORMAT, "unexpected byte 0x00 after the end");
}

static void test_json_rejects_empty_input_and_bom(void **state) {
    (void)state;
    expect_error_s("", SP_ERR_FORMAT, "the document is empty");
    expect_error_s(" \n\t\r ", SP_ERR_FORMAT, "line 2 column 4 (byte 5): the document is empty");
    expect_error_s("\xef\xbb\xbf{}", SP_ERR_FORMAT, "byte order mark");
    sp_json_doc *doc = (sp_json_doc *)1;
    sp_error err;
    assert_int_equal(sp_json_parse(NULL, 0, NULL, &doc, &err), SP_ERR_FORMAT);
    assert_null(doc);
    assert_true(tu_contains(err.message, "JSON: line 1 column 1"));
    assert_int_equal(sp_json_parse(NULL, 3, "x", &doc, &err), SP_ERR_INVALID);
    assert_int_equal(sp_json_parse("{}", 2, "x", NULL, &err), SP_ERR_INVALID);
}

static void test_json_enforces_the_depth_limit(void **state) {
    (void)state;
    char text[2 * (SP_JSON_MAX_DEPTH + 1)];
    for (int depth = SP_JSON_MAX_DEPTH; depth <= SP_JSON_MAX_DEPTH + 1; depth++) {
        memset(text, '[', (size_t)depth);
        memset(text + depth, ']', (size_t)depth);
        sp_json_doc *doc;
        sp_error err;
        sp_status st = parse_len(text, 2 * (size_t)depth, &doc, &err);
        if (depth <= SP_JSON_MAX_DEPTH) {
            assert_int_equal(st, SP_OK);
            sp_json_free(doc);
        } else {
            assert_int_equal(st, SP_ERR_FORMAT);
            assert_true(tu_contains(err.message, "byte 64): nesting is deeper than 64 levels"));
        }
    }
    /* Objects count too. */
    char obj[1024];
    size_t o = 0;
    for (int i = 0; i < SP_JSON_MAX_DEPTH + 1; i++)
        o += (size_t)snprintf(obj + o, sizeof obj - o, "{\"k\":");
    obj[o++] = '1';
    for (int i = 0; i < SP_JSON_MAX_DEPTH + 1; i++)
        obj[o++] = '}';
    obj[o] = '\0';
    expect_error_s(obj, SP_ERR_FORMAT, "nesting is deeper than 64 levels");
}

static void test_json_error_reports_line_and_column(void **state) {
    (void)state;
    expect_error_s("{\n  \"a\": 1,\n  \"b\": tru\n}", SP_ERR_FORMAT,
                   "test.json: line 3 column 8 (byte 19): expected a value, found 't'");
    /* Columns count characters, not bytes. */
    expect_error_s("[\"\xc3\xa9\xe2\x82\xac\", x]", SP_ERR_FORMAT,
                   "line 1 column 8 (byte 10): expected a value, found 'x'");
}

/* A tokenizer-vocabulary-sized object: every key is found, in parse time far from quadratic. */
static void test_json_get_is_fast_on_a_vocab_sized_object(void **state) {
    (void)state;
    enum { N = 100000 };
    size_t cap = (size_t)N * 40 + 16;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t o = (size_t)snprintf(text, cap, "{");
    for (int i = 0; i < N; i++)
        o += (size_t)snprintf(text + o, cap - o, "%s\"\\u0120tok%d_%x\": %d", i ? ",\n" : "", i,
                              (unsigned)(i * 2654435761u), i);
    o += (size_t)snprintf(text + o, cap - o, "}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(sp_json_parse(text, o, "vocab.json", &doc, &err), SP_OK);
    const sp_json *r = sp_json_root(doc);
    assert_int_equal(sp_json_length(r), N);
    char key[64];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "\xc4\xa0tok%d_%x", i, (unsigned)(i * 2654435761u));
        int64_t v;
        assert_true(sp_json_int64(sp_json_get(r, key), &v));
        assert_int_equal(v, i);
        if (i % 1000 == 0) {
            assert_string_equal(sp_json_key_at(r, (size_t)i), key); /* document order kept */
            snprintf(key, sizeof key, "\xc4\xa0tok%d_", i);
            assert_null(sp_json_get(r, key));
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* About 0.1 s here; a quadratic scan would take minutes. Generous for sanitizer builds. */
    assert_true(secs < 10.0);
    sp_json_free(doc);
    free(text);
}

static void test_strbuf_appends_and_formats(void **state) {
    (void)state;
    sp_strbuf b;
    sp_strbuf_init(&b);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(sp_strbuf_append(&b, "abc", 3), SP_OK);
    assert_int_equal(sp_strbuf_append(&b, NULL, 0), SP_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sp_strbuf_printf(&b, "-%d", i), SP_OK);
    assert_int_equal(strncmp(b.data, "abc-0-1-2", 9), 0);
    assert_int_equal(strlen(b.data), b.len);
    assert_true(b.len < b.cap);
    assert_int_equal(sp_strbuf_append(&b, NULL, 1), SP_ERR_INVALID);
    sp_strbuf_free(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    sp_strbuf_free(&b); /* idempotent */
}

static void test_json_append_string_escapes_and_roundtrips(void **state) {
    (void)state;
    char src[160];
    size_t n = 0;
    for (int c = 0; c < 128; c++)
        src[n++] = (char)c; /* every ASCII byte, NUL included */
    memcpy(src + n, "\xc3\xa9\xf0\x9f\x98\x80", 6);
    n += 6;
    sp_strbuf b;
    sp_strbuf_init(&b);
    assert_int_equal(sp_strbuf_append(&b, "[", 1), SP_OK);
    assert_int_equal(sp_json_append_string(&b, src, n), SP_OK);
    assert_int_equal(sp_strbuf_append(&b, "]", 1), SP_OK);
    assert_true(tu_contains(b.data, "\\u0000\\u0001"));
    assert_true(tu_contains(b.data, "\\b\\t\\n\\u000b\\f\\r"));
    assert_true(tu_contains(b.data, " !\\\"#"));
    assert_true(tu_contains(b.data, "[\\\\]"));
    sp_json_doc *doc;
    sp_error err;
    assert_int_equal(sp_json_parse(b.data, b.len, "escaped", &doc, &err), SP_OK);
    size_t len;
    const char *back = sp_json_string(sp_json_at(sp_json_root(doc), 0), &len);
    assert_int_equal(len, n);
    assert_memory_equal(back, src, n);
    sp_json_free(doc);
    sp_strbuf_free(&b);
}

static void test_json_append_string_rejects_invalid_utf8(void **state) {
    (void)state;
    sp_strbuf b;
    sp_strbuf_init(&b);
    assert_int_equal(sp_json_append_string(&b, "ok", 2), SP_OK);
    assert_int_equal(sp_json_append_string(&b, "a\xff", 2), SP_ERR_INVALID);
    assert_int_equal(sp_json_append_string(&b, "\xed\xa0\x80", 3), SP_ERR_INVALID);
    assert_string_equal(b.data, "\"ok\""); /* unchanged by the failures */
    assert_int_equal(sp_json_append_string(&b, NULL, 0), SP_OK);
    assert_string_equal(b.data, "\"ok\"\"\"");
    sp_strbuf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parses_values_and_nesting),
        cmocka_unit_test(test_json_accessors_on_wrong_types_are_neutral),
        cmocka_unit_test(test_json_int64_is_exact_only_for_plain_integers),
        cmocka_unit_test(test_json_numbers_convert_like_strtod),
        cmocka_unit_test(test_json_numbers_ignore_a_comma_locale),
        cmocka_unit_test(test_json_rejects_bad_number_grammar),
        cmocka_unit_test(test_json_decodes_escapes_and_surrogate_pairs),
        cmocka_unit_test(test_json_rejects_lone_surrogates_and_bad_escapes),
        cmocka_unit_test(test_json_rejects_invalid_utf8),
        cmocka_unit_test(test_json_rejects_duplicate_keys),
        cmocka_unit_test(test_json_rejects_trailing_commas_comments_and_garbage),
        cmocka_unit_test(test_json_rejects_empty_input_and_bom),
        cmocka_unit_test(test_json_enforces_the_depth_limit),
        cmocka_unit_test(test_json_error_reports_line_and_column),
        cmocka_unit_test(test_json_get_is_fast_on_a_vocab_sized_object),
        cmocka_unit_test(test_strbuf_appends_and_formats),
        cmocka_unit_test(test_json_append_string_escapes_and_roundtrips),
        cmocka_unit_test(test_json_append_string_rejects_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
