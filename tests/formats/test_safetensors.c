/* safetensors reading (every validation rule, one test each) and writing (round trips through
 * memory and files). Hand-made images come from tu_st_image; NumPy-made files are covered by
 * numpy_interop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scriptprune/safetensors.h"
#include "testutil.h"

static const float f6[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};

/* An image and the file opened on it (the buffer must outlive the file). */
typedef struct opened {
    uint8_t *buf;
    sp_st_file *f;
} opened;

static sp_status open_image(const char *header, const void *data, size_t dlen, opened *o,
                            sp_error *err) {
    size_t len;
    o->buf = tu_st_image(header, data, dlen, &len);
    sp_error_clear(err);
    sp_status st = sp_st_open_buffer(o->buf, len, "t.safetensors", &o->f, err);
    if (st) {
        assert_null(o->f);
        free(o->buf);
        o->buf = NULL;
    }
    return st;
}

static void close_image(opened *o) {
    sp_st_close(o->f);
    free(o->buf);
}

static void expect_open(const char *header, const void *data, size_t dlen, opened *o) {
    sp_error err;
    sp_status st = open_image(header, data, dlen, o, &err);
    if (st)
        print_error("%s\n", err.message);
    assert_int_equal(st, SP_OK);
}

static void expect_reject(const char *header, const void *data, size_t dlen, sp_status st,
                          const char *want) {
    opened o;
    sp_error err;
    sp_status got = open_image(header, data, dlen, &o, &err);
    if (got != st)
        print_error("status %d, message \"%s\"\n", got, err.message);
    assert_int_equal(got, st);
    assert_true(tu_contains(err.message, "t.safetensors"));
    assert_true(tu_contains(err.message, want));
    assert_null(strchr(err.message, '\n'));
}

/* Rejects a one-tensor header {"w": <entry>} over the six floats. */
static void expect_entry_reject(const char *entry, sp_status st, const char *want) {
    char header[512];
    snprintf(header, sizeof header, "{\"w\": %s}", entry);
    expect_reject(header, f6, sizeof f6, st, want);
}

static void test_st_lists_tensors_in_offset_order_and_finds_by_name(void **state) {
    (void)state;
    opened o;
    expect_open("{\"zeta\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]},"
                " \"alpha\": {\"shape\": [1, 2], \"data_offsets\": [0, 8], \"dtype\": \"F32\"}}",
                f6, sizeof f6, &o);
    assert_int_equal(sp_st_count(o.f), 2);
    const sp_st_tensor *t0 = sp_st_at(o.f, 0), *t1 = sp_st_at(o.f, 1);
    assert_string_equal(t0->name, "alpha");
    assert_string_equal(t1->name, "zeta");
    assert_null(sp_st_at(o.f, 2));
    assert_int_equal(t0->ndim, 2);
    assert_int_equal(t0->shape[0], 1);
    assert_int_equal(t0->shape[1], 2);
    assert_int_equal(t0->elements, 2);
    assert_int_equal(t0->nbytes, 8);
    assert_int_equal(t1->dtype, SP_DTYPE_F32);
    assert_ptr_equal(t1->data, t0->data + 8);
    assert_ptr_equal(sp_st_find(o.f, "zeta"), t1);
    assert_ptr_equal(sp_st_find(o.f, "alpha"), t0);
    assert_null(sp_st_find(o.f, "alph"));
    const sp_st_tensor *t;
    sp_error err;
    assert_int_equal(sp_st_get(o.f, "zeta", &t, &err), SP_OK);
    assert_ptr_equal(t, t1);
    float *x;
    size_t n;
    assert_int_equal(sp_st_read_f32(t1, &x, &n, &err), SP_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(x, f6 + 2, 4 * sizeof(float));
    free(x);
    assert_int_equal(sp_st_metadata_count(o.f), 0);
    assert_null(sp_st_metadata(o.f, "format"));
    close_image(&o);
}

static void test_st_get_reports_a_missing_tensor(void **state) {
    (void)state;
    opened o;
    expect_open("{\"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}}", f6,
                sizeof f6, &o);
    const sp_st_tensor *t = (const sp_st_tensor *)1;
    sp_error err;
    assert_int_equal(sp_st_get(o.f, "b\n", &t, &err), SP_ERR_NOT_FOUND);
    assert_null(t);
    assert_string_equal(err.message, "t.safetensors: no tensor named 'b\\n' (the file has 1)");
    close_image(&o);
}

static void test_st_reads_metadata(void **state) {
    (void)state;
    opened o;
    expect_open("{\"__metadata__\": {\"format\": \"pt\", \"note\": \"a\\nb \\u00e9\"},"
                " \"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}}",
                f6, sizeof f6, &o);
    assert_int_equal(sp_st_count(o.f), 1);
    assert_null(sp_st_find(o.f, "__metadata__"));
    assert_int_equal(sp_st_metadata_count(o.f), 2);
    assert_string_equal(sp_st_metadata(o.f, "format"), "pt");
    assert_string_equal(sp_st_metadata(o.f, "note"), "a\nb \xc3\xa9");
    assert_null(sp_st_metadata(o.f, "absent"));
    const char *k, *v;
    sp_st_metadata_at(o.f, 1, &k, &v);
    assert_string_equal(k, "note");
    sp_st_metadata_at(o.f, 2, &k, &v);
    assert_null(k);
    assert_null(v);
    close_image(&o);
}

static void test_st_read_f32_converts_float_dtypes(void **state) {
    (void)state;
    uint8_t data[2 + 2 + 8 + 4 + 8];
    size_t o = 0;
    memcpy(data + o, "\x00\xc1", 2); /* F16 -2.5 */
    o += 2;
    memcpy(data + o, "\x20\xc0", 2); /* BF16 -2.5 */
    o += 2;
    memcpy(data + o, "\x00\x00\x00\x00\x00\x00\x04\xc0", 8); /* F64 -2.5 */
    o += 8;
    memcpy(data + o, "\x00\x00\x20\xc0", 4); /* F32 -2.5 */
    o += 4;
    memcpy(data + o, "\xfb\xff\xff\xff\xff\xff\xff\xff", 8); /* I64 -5 */
    opened img;
    expect_open("{\"h\": {\"dtype\": \"F16\", \"shape\": [], \"data_offsets\": [0, 2]},"
                " \"b\": {\"dtype\": \"BF16\", \"shape\": [1], \"data_offsets\": [2, 4]},"
                " \"d\": {\"dtype\": \"F64\", \"shape\": [1, 1], \"data_offsets\": [4, 12]},"
                " \"f\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [12, 16]},"
                " \"i\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [16, 24]}}",
                data, sizeof data, &img);
    const char *names[] = {"h", "b", "d", "f"};
    for (int i = 0; i < 4; i++) {
        float *x;
        size_t n;
        sp_error err;
        assert_int_equal(sp_st_read_f32(sp_st_find(img.f, names[i]), &x, &n, &err), SP_OK);
        assert_int_equal(n, 1);
        assert_true(x[0] == -2.5f);
        free(x);
    }
    assert_int_equal(sp_st_find(img.f, "h")->ndim, 0); /* a scalar */
    float *x = (float *)1;
    sp_error err;
    assert_int_equal(sp_st_read_f32(sp_st_find(img.f, "i"), &x, NULL, &err), SP_ERR_UNSUPPORTED);
    assert_null(x);
    assert_true(tu_contains(err.message, "tensor 'i' has dtype I64"));
    close_image(&img);
}

static void test_st_accepts_empty_tensors_gaps_and_padding(void **state) {
    (void)state;
    opened o;
    /* Header padded with spaces; an empty tensor inside another's range; a gap at [8, 12). */
    expect_open("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                " \"e\": {\"dtype\": \"F16\", \"shape\": [0, 3], \"data_offsets\": [4, 4]},"
                " \"b\": {\"dtype\": \"U8\", \"shape\": [12], \"data_offsets\": [12, 24]}}      ",
                f6, sizeof f6, &o);
    assert_int_equal(sp_st_count(o.f), 3);
    assert_string_equal(sp_st_at(o.f, 0)->name, "a");
    assert_string_equal(sp_st_at(o.f, 1)->name, "e");
    assert_string_equal(sp_st_at(o.f, 2)->name, "b");
    const sp_st_tensor *e = sp_st_find(o.f, "e");
    assert_int_equal(e->elements, 0);
    assert_int_equal(e->nbytes, 0);
    float *x;
    size_t n = 9;
    sp_error err;
    assert_int_equal(sp_st_read_f32(e, &x, &n, &err), SP_OK);
    assert_int_equal(n, 0);
    free(x);
    close_image(&o);
    /* No tensors at all, and trailing bytes after the last tensor. */
    expect_open("{}", f6, sizeof f6, &o);
    assert_int_equal(sp_st_count(o.f), 0);
    close_image(&o);
}

static void test_st_rejects_files_too_short_for_the_length(void **state) {
    (void)state;
    for (size_t len = 0; len < 8; len++) {
        uint8_t *b = malloc(len + 1);
        memset(b, 0, len + 1);
        sp_st_file *f = (sp_st_file *)1;
        sp_error err;
        assert_int_equal(sp_st_open_buffer(b, len, "t.safetensors", &f, &err), SP_ERR_FORMAT);
        assert_null(f);
        char want[96];
        snprintf(want, sizeof want,
                 "t.safetensors: file is %zu bytes, too short for the 8-byte header length", len);
        assert_string_equal(err.message, want);
        free(b);
    }
}

static void test_st_rejects_header_length_past_the_end(void **state) {
    (void)state;
    size_t len;
    uint8_t *b = tu_st_image("{}", NULL, 0, &len);
    b[0] = 3;
    sp_st_file *f;
    sp_error err;
    assert_int_equal(sp_st_open_buffer(b, len, "t.safetensors", &f, &err), SP_ERR_FORMAT);
    assert_string_equal(err.message, "t.safetensors: header length 3 at byte 0 runs past the end "
                                     "of the file (10 bytes)");
    b[7] = 0x80; /* 2^63 + 3: must not overflow the check */
    assert_int_equal(sp_st_open_buffer(b, len, "t.safetensors", &f, &err), SP_ERR_FORMAT);
    assert_true(tu_contains(err.message, "exceeds the 100 MiB limit"));
    free(b);
}

static void test_st_rejects_headers_over_100_mib(void **state) {
    (void)state;
    size_t len;
    uint8_t *b = tu_st_image("{}", NULL, 0, &len);
    uint64_t big = 100u * 1024u * 1024u + 1u;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(big >> (8 * i));
    sp_st_file *f;
    sp_error err;
    assert_int_equal(sp_st_open_buffer(b, len, "t.safetensors", &f, &err), SP_ERR_FORMAT);
    assert_string_equal(err.message,
                        "t.safetensors: header length 104857601 at byte 0 exceeds the 100 MiB "
                        "limit");
    free(b);
}

static void test_st_rejects_invalid_json_headers(void **state) {
    (void)state;
    expect_reject("{\"a\": }", NULL, 0, SP_ERR_FORMAT,
                  "t.safetensors header: line 1 column 7 (byte 6): expected a value, found '}'");
    expect_reject("{\"a\": 1, \"a\": 2}", NULL, 0, SP_ERR_FORMAT, "duplicate object key \"a\"");
    expect_reject("", NULL, 0, SP_ERR_FORMAT, "the document is empty");
    /* Padding must be spaces: NULs inside the header length are garbage. */
    size_t len;
    uint8_t *b = tu_st_image("{}  ", NULL, 0, &len);
    b[10] = b[11] = 0;
    sp_st_file *f;
    sp_error err;
    assert_int_equal(sp_st_open_buffer(b, len, "t.safetensors", &f, &err), SP_ERR_FORMAT);
    assert_true(tu_contains(err.message, "(byte 2): unexpected byte 0x00 after the end"));
    free(b);
    expect_reject("[]", NULL, 0, SP_ERR_FORMAT,
                  "t.safetensors: header is a JSON array, not an object");
    expect_reject("\"x\"", NULL, 0, SP_ERR_FORMAT, "header is a JSON string");
}

static void test_st_rejects_malformed_entries(void **state) {
    (void)state;
    expect_entry_reject("[1]", SP_ERR_FORMAT, "t.safetensors: tensor 'w': entry is a JSON array");
    expect_entry_reject("{\"shape\": [6], \"data_offsets\": [0, 24]}", SP_ERR_FORMAT,
                        "tensor 'w': the entry has no 'dtype'");
    expect_entry_reject("{\"dtype\": \"F32\", \"data_offsets\": [0, 24]}", SP_ERR_FORMAT,
                        "the entry has no 'shape'");
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [6]}", SP_ERR_FORMAT,
                        "the entry has no 'data_offsets'");
    expect_entry_reject(
        "{\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24], \"extra\": 1}",
        SP_ERR_FORMAT,
        "tensor 'w': unexpected key 'extra' (an entry has exactly dtype, shape and data_offsets)");
    expect_entry_reject(
        "{\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24], \"dtype\\u0000\": 1}",
        SP_ERR_FORMAT, "unexpected key 'dtype\\x00'");
    expect_entry_reject("{\"dtype\": 32, \"shape\": [6], \"data_offsets\": [0, 24]}", SP_ERR_FORMAT,
                        "tensor 'w': 'dtype' is not a string");
    expect_entry_reject("{\"dtype\": \"F32\\u0000\", \"shape\": [6], \"data_offsets\": [0, 24]}",
                        SP_ERR_FORMAT, "'dtype' contains a NUL");
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": 6, \"data_offsets\": [0, 24]}",
                        SP_ERR_FORMAT, "tensor 'w': 'shape' is not an array");
    const char *bad_dims[] = {"[-6]",  "[6.0]",  "[\"6\"]",
                              "[6e0]", "[null]", "[18446744073709551616]"};
    for (size_t i = 0; i < sizeof bad_dims / sizeof bad_dims[0]; i++) {
        char entry[160];
        snprintf(entry, sizeof entry,
                 "{\"dtype\": \"F32\", \"shape\": %s, \"data_offsets\": [0, 24]}", bad_dims[i]);
        expect_entry_reject(entry, SP_ERR_FORMAT,
                            "tensor 'w': shape[0] is not a non-negative integer");
    }
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,6], \"data_offsets\": "
                        "[0, 24]}",
                        SP_ERR_UNSUPPORTED, "shape has 9 dimensions; at most 8 are supported");
    const char *bad_offsets[] = {"[0]",
                                 "[0, 24, 24]",
                                 "[-1, 24]",
                                 "[0, 24.0]",
                                 "{}",
                                 "[0, \"24\"]",
                                 "[0, 18446744073709551615]"};
    for (size_t i = 0; i < sizeof bad_offsets / sizeof bad_offsets[0]; i++) {
        char entry[160];
        snprintf(entry, sizeof entry, "{\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": %s}",
                 bad_offsets[i]);
        expect_entry_reject(entry, SP_ERR_FORMAT,
                            "'data_offsets' is not an array of two non-negative integers");
    }
}

static void test_st_rejects_unsupported_dtypes_naming_them(void **state) {
    (void)state;
    const char *names[] = {"BOOL", "I8", "U16", "F8_E4M3", "f32", "C64"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char entry[160], want[96];
        snprintf(entry, sizeof entry,
                 "{\"dtype\": \"%s\", \"shape\": [6], \"data_offsets\": [0, 6]}", names[i]);
        snprintf(want, sizeof want, "t.safetensors: tensor 'w': unsupported dtype '%s'", names[i]);
        expect_entry_reject(entry, SP_ERR_UNSUPPORTED, want);
    }
}

static void test_st_rejects_size_mismatch(void **state) {
    (void)state;
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}",
                        SP_ERR_FORMAT,
                        "tensor 'w': 6 elements of F32 take 24 bytes but data_offsets [0, 20] "
                        "span 20");
    expect_entry_reject("{\"dtype\": \"F16\", \"shape\": [6], \"data_offsets\": [0, 24]}",
                        SP_ERR_FORMAT, "6 elements of F16 take 12 bytes");
}

static void test_st_rejects_offsets_outside_the_data(void **state) {
    (void)state;
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [7], \"data_offsets\": [0, 28]}",
                        SP_ERR_FORMAT,
                        "tensor 'w': data_offsets [0, 28] run past the end of the data section "
                        "(24 bytes from file byte 70)");
    expect_entry_reject(
        "{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [9223372036854775800, "
        "9223372036854775804]}",
        SP_ERR_FORMAT, "run past the end of the data section");
}

static void test_st_rejects_begin_after_end(void **state) {
    (void)state;
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]}",
                        SP_ERR_FORMAT, "tensor 'w': data_offsets [8, 4] begin after they end");
}

static void test_st_rejects_overlapping_tensors(void **state) {
    (void)state;
    expect_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
                  " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}",
                  f6, sizeof f6, SP_ERR_FORMAT,
                  "t.safetensors: tensors 'a' [0, 16] and 'b' [8, 24] overlap");
    /* Listed in the other order, nested, identical, or reaching back past a short neighbour. */
    expect_reject("{\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]},"
                  " \"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}}",
                  f6, sizeof f6, SP_ERR_FORMAT, "tensors 'a' [0, 24] and 'b' [8, 16] overlap");
    expect_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                  " \"b\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]}}",
                  f6, sizeof f6, SP_ERR_FORMAT, "overlap");
    expect_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]},"
                  " \"b\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [4, 5]},"
                  " \"c\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [20, 21]}}",
                  f6, sizeof f6, SP_ERR_FORMAT, "tensors 'a' [0, 24] and 'b' [4, 5] overlap");
}

static void test_st_rejects_shape_overflow(void **state) {
    (void)state;
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], "
                        "\"data_offsets\": [0, 24]}",
                        SP_ERR_OVERFLOW,
                        "tensor 'w': the element count of its shape overflows size_t");
    expect_entry_reject("{\"dtype\": \"F32\", \"shape\": [2305843009213693952, 4], "
                        "\"data_offsets\": [0, 24]}",
                        SP_ERR_OVERFLOW, "elements of F32 overflow size_t in bytes");
}

static void test_st_rejects_bad_metadata(void **state) {
    (void)state;
    expect_reject("{\"__metadata__\": [\"pt\"]}", NULL, 0, SP_ERR_FORMAT,
                  "t.safetensors: __metadata__ is a JSON array; it must be an object of strings");
    expect_reject("{\"__metadata__\": {\"format\": 1}}", NULL, 0, SP_ERR_FORMAT,
                  "__metadata__ key 'format' has a number value; values must be strings");
    expect_reject("{\"__metadata__\": {\"format\": \"p\\u0000t\"}}", NULL, 0, SP_ERR_FORMAT,
                  "__metadata__ value of key 'format' contains a NUL");
    expect_reject("{\"__metadata__\": {\"for\\u0000mat\": \"pt\"}}", NULL, 0, SP_ERR_FORMAT,
                  "__metadata__ key 'for\\x00mat' contains a NUL");
}

static void test_st_rejects_tensor_names_with_nul(void **state) {
    (void)state;
    expect_reject(
        "{\"a\\u0000b\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}}", f6,
        sizeof f6, SP_ERR_FORMAT, "tensor name 'a\\x00b' contains a NUL");
}

static void test_st_open_maps_files_and_names_errors(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "m.safetensors");
    size_t len;
    uint8_t *img =
        tu_st_image("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}",
                    f6, sizeof f6, &len);
    tu_write_file(p, img, len);
    sp_st_file *f;
    sp_error err;
    assert_int_equal(sp_st_open(p, &f, &err), SP_OK);
    float *x;
    size_t n;
    assert_int_equal(sp_st_read_f32(sp_st_find(f, "a"), &x, &n, &err), SP_OK);
    assert_memory_equal(x, f6, sizeof f6);
    free(x);
    sp_st_close(f);

    tu_write_file(p, img, len - 1); /* truncated */
    assert_int_equal(sp_st_open(p, &f, &err), SP_ERR_FORMAT);
    assert_null(f);
    assert_true(tu_contains(err.message, p));
    assert_true(tu_contains(err.message, "run past the end of the data section (23 bytes"));
    tu_write_file(p, "", 0);
    assert_int_equal(sp_st_open(p, &f, &err), SP_ERR_FORMAT);
    assert_true(tu_contains(err.message, "file is 0 bytes"));
    free(p);
    p = tu_join(dir, "absent.safetensors");
    assert_int_equal(sp_st_open(p, &f, &err), SP_ERR_NOT_FOUND);
    assert_true(tu_contains(err.message, p));
    assert_int_equal(sp_st_open(NULL, &f, &err), SP_ERR_INVALID);
    assert_null(f);
    free(p);
    free(img);
    tu_rmtree(dir);
}

/* ---- writer ---- */

static void test_st_writer_roundtrips_through_buffer_and_file(void **state) {
    (void)state;
    sp_st_writer *w = sp_st_writer_new();
    assert_non_null(w);
    sp_error err;
    size_t s23[] = {2, 3}, s6[] = {6}, s3[] = {3}, s0[] = {0};
    const int64_t ints[3] = {-1, 0, INT64_MAX};
    const uint16_t bf[3] = {0x3f80, 0xc020, 0x7f80};
    const uint8_t u8 = 200;
    assert_int_equal(sp_st_writer_add(w, "tokens", SP_DTYPE_F32, 2, s23, f6, &err), SP_OK);
    assert_int_equal(sp_st_writer_add_f32_as_f16(w, "tokens.f16", 1, s6, f6, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "u", SP_DTYPE_U8, 0, NULL, &u8, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "bf", SP_DTYPE_BF16, 1, s3, bf, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "ids", SP_DTYPE_I64, 1, s3, ints, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "empty", SP_DTYPE_F32, 1, s0, NULL, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "n\xc3\xa4me \"q\"", SP_DTYPE_U8, 0, NULL, &u8, &err),
                     SP_OK);
    assert_int_equal(sp_st_writer_metadata(w, "format", "pt", &err), SP_OK);
    assert_int_equal(sp_st_writer_metadata(w, "note", "line\nquote\" \xe2\x82\xac", &err), SP_OK);

    uint8_t *buf;
    size_t len;
    assert_int_equal(sp_st_writer_to_buffer(w, &buf, &len, &err), SP_OK);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)buf[i] << (8 * i);
    assert_int_equal((8 + hlen) % 8, 0); /* data section aligned */
    assert_int_equal(buf[8], '{');
    assert_int_equal(len, 8 + hlen + 24 + 12 + 1 + 6 + 24 + 0 + 1);

    sp_st_file *f;
    assert_int_equal(sp_st_open_buffer(buf, len, "mem", &f, &err), SP_OK);
    const char *order[] = {"tokens", "tokens.f16", "u", "bf", "ids", "empty", "n\xc3\xa4me \"q\""};
    assert_int_equal(sp_st_count(f), 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(sp_st_at(f, i)->name, order[i]); /* insertion order = data order */
    const sp_st_tensor *t = sp_st_find(f, "tokens");
    assert_int_equal(t->ndim, 2);
    assert_memory_equal(t->data, f6, sizeof f6);
    float *x;
    size_t n;
    assert_int_equal(sp_st_read_f32(sp_st_find(f, "tokens.f16"), &x, &n, &err), SP_OK);
    for (int i = 0; i < 6; i++)
        assert_true(x[i] == sp_half_to_float(sp_float_to_half(f6[i])));
    free(x);
    assert_int_equal(sp_st_find(f, "u")->ndim, 0);
    assert_int_equal(sp_st_find(f, "u")->data[0], 200);
    assert_memory_equal(sp_st_find(f, "ids")->data, ints, sizeof ints);
    assert_memory_equal(sp_st_find(f, "bf")->data, bf, sizeof bf);
    assert_int_equal(sp_st_find(f, "empty")->nbytes, 0);
    assert_string_equal(sp_st_metadata(f, "note"), "line\nquote\" \xe2\x82\xac");
    assert_string_equal(sp_st_metadata(f, "format"), "pt");
    sp_st_close(f);

    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "w.safetensors");
    assert_int_equal(sp_st_writer_write_file(w, p, &err), SP_OK);
    size_t flen;
    uint8_t *file = tu_read_file(p, &flen);
    assert_int_equal(flen, len);
    assert_memory_equal(file, buf, len);
    free(file);
    assert_int_equal(sp_st_open(p, &f, &err), SP_OK);
    assert_int_equal(sp_st_count(f), 7);
    sp_st_close(f);

    char *bad = tu_join(dir, "missing/w.safetensors");
    assert_int_equal(sp_st_writer_write_file(w, bad, &err), SP_ERR_IO);
    assert_true(tu_contains(err.message, bad));
    free(bad);
    free(p);
    tu_rmtree(dir);
    free(buf);
    sp_st_writer_free(w);
}

static void test_st_writer_rejects_bad_tensors(void **state) {
    (void)state;
    sp_st_writer *w = sp_st_writer_new();
    sp_error err;
    size_t s6[] = {6};
    assert_int_equal(sp_st_writer_add(w, "a", SP_DTYPE_F32, 1, s6, f6, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "a", SP_DTYPE_F32, 1, s6, f6, &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "tensor 'a' was already added"));
    assert_int_equal(sp_st_writer_add_f32_as_f16(w, "a", 1, s6, f6, &err), SP_ERR_INVALID);
    assert_int_equal(sp_st_writer_add(w, "__metadata__", SP_DTYPE_F32, 1, s6, f6, &err),
                     SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "'__metadata__' is reserved"));
    assert_int_equal(sp_st_writer_add(w, "bad\xff", SP_DTYPE_F32, 1, s6, f6, &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "is not valid UTF-8"));
    assert_int_equal(sp_st_writer_add(w, "d", SP_DTYPE_COUNT, 1, s6, f6, &err), SP_ERR_INVALID);
    size_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 6};
    assert_int_equal(sp_st_writer_add(w, "d", SP_DTYPE_F32, 9, s9, f6, &err), SP_ERR_UNSUPPORTED);
    size_t huge[] = {SIZE_MAX / 2, 3};
    assert_int_equal(sp_st_writer_add(w, "d", SP_DTYPE_F32, 2, huge, f6, &err), SP_ERR_OVERFLOW);
    assert_true(tu_contains(err.message, "tensor 'd'"));
    size_t big[] = {SIZE_MAX / 8};
    assert_int_equal(sp_st_writer_add(w, "d", SP_DTYPE_F64, 1, big, f6, &err), SP_ERR_OVERFLOW);
    assert_int_equal(sp_st_writer_add(w, "d", SP_DTYPE_F32, 1, s6, NULL, &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "tensor 'd' has no data"));
    assert_int_equal(sp_st_writer_add(w, NULL, SP_DTYPE_F32, 1, s6, f6, &err), SP_ERR_INVALID);
    assert_int_equal(sp_st_writer_add(NULL, "x", SP_DTYPE_F32, 1, s6, f6, &err), SP_ERR_INVALID);
    /* The failures left the writer as it was. */
    uint8_t *buf;
    size_t len;
    assert_int_equal(sp_st_writer_to_buffer(w, &buf, &len, &err), SP_OK);
    sp_st_file *f;
    assert_int_equal(sp_st_open_buffer(buf, len, "mem", &f, &err), SP_OK);
    assert_int_equal(sp_st_count(f), 1);
    sp_st_close(f);
    free(buf);
    sp_st_writer_free(w);
    sp_st_writer_free(NULL);
}

static void test_st_writer_rejects_bad_metadata(void **state) {
    (void)state;
    sp_st_writer *w = sp_st_writer_new();
    sp_error err;
    assert_int_equal(sp_st_writer_metadata(w, "k", "v", &err), SP_OK);
    assert_int_equal(sp_st_writer_metadata(w, "k", "v2", &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "metadata key 'k' was already set"));
    assert_int_equal(sp_st_writer_metadata(w, "k2", "\xc0\x80", &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "not valid UTF-8"));
    assert_int_equal(sp_st_writer_metadata(w, NULL, "v", &err), SP_ERR_INVALID);
    assert_int_equal(sp_st_writer_metadata(w, "k3", NULL, &err), SP_ERR_INVALID);
    sp_st_writer_free(w);
}

static void test_st_writer_with_nothing_writes_a_valid_file(void **state) {
    (void)state;
    sp_st_writer *w = sp_st_writer_new();
    sp_error err;
    uint8_t *buf;
    size_t len;
    assert_int_equal(sp_st_writer_to_buffer(w, &buf, &len, &err), SP_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(buf, "\x08\0\0\0\0\0\0\0{}      ", 16);
    sp_st_file *f;
    assert_int_equal(sp_st_open_buffer(buf, len, "mem", &f, &err), SP_OK);
    assert_int_equal(sp_st_count(f), 0);
    sp_st_close(f);
    free(buf);
    sp_st_writer_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_lists_tensors_in_offset_order_and_finds_by_name),
        cmocka_unit_test(test_st_get_reports_a_missing_tensor),
        cmocka_unit_test(test_st_reads_metadata),
        cmocka_unit_test(test_st_read_f32_converts_float_dtypes),
        cmocka_unit_test(test_st_accepts_empty_tensors_gaps_and_padding),
        cmocka_unit_test(test_st_rejects_files_too_short_for_the_length),
        cmocka_unit_test(test_st_rejects_header_length_past_the_end),
        cmocka_unit_test(test_st_rejects_headers_over_100_mib),
        cmocka_unit_test(test_st_rejects_invalid_json_headers),
        cmocka_unit_test(test_st_rejects_malformed_entries),
        cmocka_unit_test(test_st_rejects_unsupported_dtypes_naming_them),
        cmocka_unit_test(test_st_rejects_size_mismatch),
        cmocka_unit_test(test_st_rejects_offsets_outside_the_data),
        cmocka_unit_test(test_st_rejects_begin_after_end),
        cmocka_unit_test(test_st_rejects_overlapping_tensors),
        cmocka_unit_test(test_st_rejects_shape_overflow),
        cmocka_unit_test(test_st_rejects_bad_metadata),
        cmocka_unit_test(test_st_rejects_tensor_names_with_nul),
        cmocka_unit_test(test_st_open_maps_files_and_names_errors),
        cmocka_unit_test(test_st_writer_roundtrips_through_buffer_and_file),
        cmocka_unit_test(test_st_writer_rejects_bad_tensors),
        cmocka_unit_test(test_st_writer_rejects_bad_metadata),
        cmocka_unit_test(test_st_writer_with_nothing_writes_a_valid_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
