/* .npy reading and writing. Images are hand-built with tu_npy_image so every header variant and
 * every rejection can be pinned; files written by NumPy itself are covered by numpy_interop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scriptprune/npy.h"
#include "testutil.h"

static const float six[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};

/* Parses an exact-size heap copy (so the sanitizers see any over-read). */
static sp_status parse_image(const uint8_t *img, size_t len, sp_matrix *m, sp_error *err) {
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, img, len);
    sp_error_clear(err);
    sp_status st = sp_npy_parse(copy, len, "t.npy", m, err);
    free(copy);
    return st;
}

static void expect_reject_image(const uint8_t *img, size_t len, sp_status st, const char *want) {
    sp_matrix m = {(float *)1, 7, 7, 7};
    sp_error err;
    sp_status got = parse_image(img, len, &m, &err);
    if (got != st)
        print_error("status %d, message \"%s\"\n", got, err.message);
    assert_int_equal(got, st);
    assert_null(m.data);
    assert_int_equal(m.rows, 0);
    assert_int_equal(m.cols, 0);
    assert_true(tu_contains(err.message, "t.npy: "));
    assert_true(tu_contains(err.message, want));
}

/* Builds a v1 image from a dict and dlen bytes of the six floats, expects rejection. */
static void expect_reject(const char *dict, size_t dlen, sp_status st, const char *want) {
    size_t len;
    uint8_t *img = tu_npy_image(1, dict, six, dlen, &len);
    expect_reject_image(img, len, st, want);
    free(img);
}

static void expect_matrix(const char *dict, int major, const void *data, size_t dlen, size_t rows,
                          size_t cols, const float *want) {
    size_t len;
    uint8_t *img = tu_npy_image(major, dict, data, dlen, &len);
    sp_matrix m;
    sp_error err;
    sp_status st = parse_image(img, len, &m, &err);
    if (st)
        print_error("%s\n", err.message);
    assert_int_equal(st, SP_OK);
    assert_int_equal(m.rows, rows);
    assert_int_equal(m.cols, cols);
    assert_memory_equal(m.data, want, rows * cols * sizeof(float));
    sp_matrix_free(&m);
    assert_null(m.data);
    free(img);
}

static void test_npy_parses_f32_2d(void **state) {
    (void)state;
    expect_matrix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, six, sizeof six,
                  2, 3, six);
    expect_matrix("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 1), }", 1, six, sizeof six,
                  6, 1, six);
}

static void test_npy_reads_1d_as_one_row(void **state) {
    (void)state;
    expect_matrix("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 1, six, sizeof six,
                  1, 6, six);
}

static void test_npy_converts_f16(void **state) {
    (void)state;
    const uint8_t h[] = {0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00, 0xff, 0x7b};
    const float want[] = {1.0f, -2.5f, 5.9604645e-8f, 65504.0f};
    expect_matrix("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }", 1, h, sizeof h, 2,
                  2, want);
}

static void test_npy_parses_versions_2_and_3(void **state) {
    (void)state;
    expect_matrix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 2, six, sizeof six,
                  3, 2, six);
    expect_matrix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 3, six, sizeof six,
                  3, 2, six);
}

static void test_npy_accepts_header_variants(void **state) {
    (void)state;
    const char *dicts[] = {
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
        "{ 'descr' :'<f4' ,'fortran_order':False,'shape':( 2 ,3 , ) , }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
        "{'descr': '<f4',\n\t'fortran_order': False,\n\t'shape': (2, 3)}",
    };
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++)
        expect_matrix(dicts[i], 1, six, sizeof six, 2, 3, six);

    /* A header without the padding or the final newline some writers omit. */
    const char dict[] = "{'descr':'<f4','fortran_order':False,'shape':(6,)}";
    uint8_t img[128];
    size_t hl = sizeof dict - 1;
    memcpy(img, "\x93NUMPY\x01\x00", 8);
    img[8] = (uint8_t)hl;
    img[9] = 0;
    memcpy(img + 10, dict, hl);
    memcpy(img + 10 + hl, six, sizeof six);
    sp_matrix m;
    sp_error err;
    assert_int_equal(parse_image(img, 10 + hl + sizeof six, &m, &err), SP_OK);
    assert_int_equal(m.cols, 6);
    sp_matrix_free(&m);
}

static void test_npy_rejects_big_endian(void **state) {
    (void)state;
    expect_reject("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", sizeof six,
                  SP_ERR_UNSUPPORTED,
                  "dtype '>f4': big-endian data is not supported; save with dtype '<f4' or '<f2'");
    expect_reject("{'descr': '>f2', 'fortran_order': False, 'shape': (3,), }", 6,
                  SP_ERR_UNSUPPORTED, "dtype '>f2': big-endian");
}

static void test_npy_rejects_fortran_order(void **state) {
    (void)state;
    expect_reject("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", sizeof six,
                  SP_ERR_UNSUPPORTED, "Fortran-order (column-major) arrays are not supported");
}

static void test_npy_rejects_other_dtypes(void **state) {
    (void)state;
    const char *descrs[] = {"<f8", "<i4", "|u1", "<c8", "|O", "<f4 ", "", "float32"};
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++) {
        char dict[128], want[64];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (6,), }",
                 descrs[i]);
        snprintf(want, sizeof want, "dtype '%s': only float32 '<f4' and float16 '<f2'", descrs[i]);
        expect_reject(dict, sizeof six, SP_ERR_UNSUPPORTED, want);
    }
    expect_reject("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", sizeof six,
                  SP_ERR_UNSUPPORTED, "structured dtypes");
}

static void test_npy_rejects_0d_and_3d(void **state) {
    (void)state;
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, SP_ERR_UNSUPPORTED,
                  "shape () has 0 dimensions; only 1-D and 2-D arrays are supported");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", sizeof six,
                  SP_ERR_UNSUPPORTED, "shape (1, 2, 3) has 3 dimensions");
}

static void test_npy_reads_zero_rows_as_an_empty_matrix(void **state) {
    (void)state;
    static const char hdr[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }";
    size_t len;
    uint8_t *img = tu_npy_image(1, hdr, NULL, 0, &len);
    sp_matrix m;
    sp_error err;
    assert_int_equal(sp_npy_parse(img, len, "empty.npy", &m, &err), SP_OK);
    assert_int_equal(m.rows, 0);
    assert_int_equal(m.cols, 4);
    assert_int_equal(m.ndim, 2);
    assert_null(m.data);
    sp_matrix_free(&m);
    free(img);
}

static void test_npy_rejects_empty_shapes(void **state) {
    (void)state;
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0), }", 0,
                  SP_ERR_UNSUPPORTED, "shape (4, 0) has zero-width rows");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 0,
                  SP_ERR_UNSUPPORTED, "shape (0,) has zero-width rows");
}

static void test_npy_rejects_header_syntax_errors(void **state) {
    (void)state;
    static const struct {
        const char *dict;
        const char *want;
    } cases[] = {
        {"'descr': '<f4'", "header byte 10: expected '{' opening the header dict, found '''"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}",
         "header byte 27: expected ',' or '}' in the header dict, found 'f'"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}", "expected ':' after the key"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}",
         "expected ',' or '}' in the header dict, found '''"},
        {"{descr: '<f4', 'fortran_order': False, 'shape': (6,)}",
         "expected a quoted string, found 'd'"},
        {"{'descr': '<f4', 'fortran_order': False}", "the header dict has no 'shape' key"},
        {"{'fortran_order': False, 'shape': (6,)}", "the header dict has no 'descr' key"},
        {"{'descr': '<f4', 'shape': (6,)}", "the header dict has no 'fortran_order' key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
         "duplicate key 'descr'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}",
         "unexpected key 'extra'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",
         "'shape' is a parenthesised integer, not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [6]}",
         "expected a tuple such as (rows, cols) for 'shape', found '['"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}",
         "shape dimensions must not be negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (06,)}", "leading zero"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6 2)}", "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,",
         "expected a non-negative integer"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}",
         "expected True or False for 'fortran_order', found 'f'"},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (6,)}",
         "escape sequences in header strings are not supported"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x",
         "unexpected bytes after the header dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", "found the end of the header"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,),, }",
         "expected a quoted string, found ','"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_reject(cases[i].dict, sizeof six, SP_ERR_FORMAT, cases[i].want);
}

static void test_npy_rejects_bad_magic_versions_and_lengths(void **state) {
    (void)state;
    expect_reject_image((const uint8_t *)"\x93NUM", 4, SP_ERR_FORMAT,
                        "file is 4 bytes, too short for a .npy preamble");
    expect_reject_image((const uint8_t *)"", 0, SP_ERR_FORMAT, "file is 0 bytes");
    static const char zip[] = "PK\x03\x04zipfile....";
    expect_reject_image((const uint8_t *)zip, sizeof zip - 1, SP_ERR_FORMAT,
                        "not a .npy file (bytes 0-5 are not the \\x93NUMPY magic)");
    size_t len;
    uint8_t *img = tu_npy_image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six,
                                sizeof six, &len);
    img[6] = 4;
    expect_reject_image(img, len, SP_ERR_UNSUPPORTED,
                        ".npy format version 4.0 at byte 6 is not supported");
    img[6] = 1;
    img[7] = 1;
    expect_reject_image(img, len, SP_ERR_UNSUPPORTED, "version 1.1");
    img[7] = 0;
    img[8] = 0xff;
    img[9] = 0xff;
    expect_reject_image(img, len, SP_ERR_FORMAT,
                        "header of 65535 bytes at byte 10 runs past the end of the file");
    expect_reject_image(img, 11, SP_ERR_FORMAT, "runs past the end of the file (11 bytes)");
    img[6] = 2;
    expect_reject_image(img, 11, SP_ERR_FORMAT, "too short for the version 2.0 header length");
    free(img);
}

static void test_npy_rejects_truncated_data(void **state) {
    (void)state;
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", sizeof six - 1,
                  SP_ERR_FORMAT,
                  "data is truncated: shape (2, 3) of <f4 needs 24 bytes from byte 128, only 23 "
                  "are present");
    expect_reject("{'descr': '<f2', 'fortran_order': False, 'shape': (7,), }", 12, SP_ERR_FORMAT,
                  "needs 14 bytes");
}

static void test_npy_rejects_data_size_mismatch(void **state) {
    (void)state;
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", sizeof six,
                  SP_ERR_FORMAT,
                  "data size mismatch: shape (5,) of <f4 needs 20 bytes from byte "
                  "128, but 24 follow the header");
}

static void test_npy_rejects_shape_overflow(void **state) {
    (void)state;
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }",
                  sizeof six, SP_ERR_OVERFLOW, "is too large to address");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4611686018427387904), }",
                  sizeof six, SP_ERR_OVERFLOW, "is too large to address");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, "
                  "1), }",
                  sizeof six, SP_ERR_OVERFLOW, "shape dimension does not fit in size_t");
}

static void read_back(const char *path, size_t rows, size_t cols, const float *want) {
    sp_matrix m;
    sp_error err;
    sp_status st = sp_npy_read(path, &m, &err);
    if (st)
        print_error("%s\n", err.message);
    assert_int_equal(st, SP_OK);
    assert_int_equal(m.rows, rows);
    assert_int_equal(m.cols, cols);
    assert_memory_equal(m.data, want, rows * cols * sizeof(float));
    sp_matrix_free(&m);
}

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

static void test_npy_write_read_roundtrip(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "a.npy");
    sp_error err;
    assert_int_equal(sp_npy_write(p, six, 2, 3, 2, SP_DTYPE_F32, &err), SP_OK);
    read_back(p, 2, 3, six);
    size_t len;
    uint8_t *raw = tu_read_file(p, &len);
    assert_int_equal(len, 128 + sizeof six); /* data starts at a multiple of 64 */
    assert_memory_equal(raw,
                        "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (2, 3), }",
                        69);
    assert_int_equal(raw[127], '\n');
    free(raw);

    assert_int_equal(sp_npy_write(p, six, 1, 6, 1, SP_DTYPE_F32, &err), SP_OK);
    read_back(p, 1, 6, six);
    raw = tu_read_file(p, &len);
    assert_true(tu_contains((const char *)raw + 10, "'shape': (6,), }"));
    free(raw);

    /* F16 output holds the values rounded to half precision. */
    assert_int_equal(sp_npy_write(p, six, 3, 2, 2, SP_DTYPE_F16, &err), SP_OK);
    float rounded[6];
    for (int i = 0; i < 6; i++)
        rounded[i] = sp_half_to_float(sp_float_to_half(six[i]));
    read_back(p, 3, 2, rounded);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left behind */
    free(p);
    tu_rmtree(dir);
}

static void test_npy_write_handles_large_arrays_in_chunks(void **state) {
    (void)state;
    size_t rows = 577, cols = 1031; /* not a multiple of the internal chunk */
    float *x = malloc(rows * cols * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < rows * cols; i++)
        x[i] = (float)sin((double)i) * 100.0f;
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "big.npy");
    sp_error err;
    assert_int_equal(sp_npy_write(p, x, rows, cols, 2, SP_DTYPE_F32, &err), SP_OK);
    read_back(p, rows, cols, x);
    assert_int_equal(sp_npy_write(p, x, rows, cols, 2, SP_DTYPE_F16, &err), SP_OK);
    for (size_t i = 0; i < rows * cols; i++)
        x[i] = sp_half_to_float(sp_float_to_half(x[i]));
    read_back(p, rows, cols, x);
    free(p);
    tu_rmtree(dir);
    free(x);
}

static void test_npy_write_rejects_bad_arguments(void **state) {
    (void)state;
    sp_error err;
    assert_int_equal(sp_npy_write("/nonexistent/x.npy", six, 2, 3, 3, SP_DTYPE_F32, &err),
                     SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "ndim must be 1 or 2, not 3"));
    assert_int_equal(sp_npy_write("x.npy", six, 2, 3, 1, SP_DTYPE_F32, &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "x.npy: a 1-D array needs rows == 1, not 2"));
    assert_int_equal(sp_npy_write("x.npy", six, 0, 3, 2, SP_DTYPE_F32, &err), SP_ERR_INVALID);
    assert_true(tu_contains(err.message, "cannot write an empty 0 x 3 array"));
    assert_int_equal(sp_npy_write("x.npy", six, 2, 0, 2, SP_DTYPE_F32, &err), SP_ERR_INVALID);
    assert_int_equal(sp_npy_write("x.npy", six, 2, 3, 2, SP_DTYPE_F64, &err), SP_ERR_UNSUPPORTED);
    assert_true(tu_contains(err.message, "dtype F64 is not supported"));
    assert_int_equal(sp_npy_write("x.npy", NULL, 2, 3, 2, SP_DTYPE_F32, &err), SP_ERR_INVALID);
    assert_int_equal(sp_npy_write(NULL, six, 2, 3, 2, SP_DTYPE_F32, &err), SP_ERR_INVALID);
    assert_int_equal(sp_npy_write("x.npy", six, SIZE_MAX / 2, 3, 2, SP_DTYPE_F32, &err),
                     SP_ERR_OVERFLOW);
}

static void test_npy_write_to_missing_directory_names_the_path(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "missing/a.npy");
    sp_error err;
    assert_int_equal(sp_npy_write(p, six, 2, 3, 2, SP_DTYPE_F32, &err), SP_ERR_IO);
    assert_true(tu_contains(err.message, p));
    assert_true(tu_contains(err.message, "cannot create temporary file"));
    assert_true(tu_contains(err.message, "No such file or directory"));
    assert_int_equal(dir_entries(dir), 0);
    free(p);
    tu_rmtree(dir);
}

static void test_npy_read_reports_missing_and_non_regular_files(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *p = tu_join(dir, "absent.npy");
    sp_matrix m;
    sp_error err;
    assert_int_equal(sp_npy_read(p, &m, &err), SP_ERR_NOT_FOUND);
    assert_true(tu_contains(err.message, p));
    assert_true(tu_contains(err.message, "cannot open for reading: No such file or directory"));
    assert_int_equal(sp_npy_read(dir, &m, &err), SP_ERR_IO);
    assert_true(tu_contains(err.message, "not a regular file"));
    tu_write_file(p, "", 0);
    assert_int_equal(sp_npy_read(p, &m, &err), SP_ERR_FORMAT);
    assert_true(tu_contains(err.message, "file is 0 bytes"));
    assert_null(m.data);
    free(p);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_parses_f32_2d),
        cmocka_unit_test(test_npy_reads_1d_as_one_row),
        cmocka_unit_test(test_npy_converts_f16),
        cmocka_unit_test(test_npy_parses_versions_2_and_3),
        cmocka_unit_test(test_npy_accepts_header_variants),
        cmocka_unit_test(test_npy_rejects_big_endian),
        cmocka_unit_test(test_npy_rejects_fortran_order),
        cmocka_unit_test(test_npy_rejects_other_dtypes),
        cmocka_unit_test(test_npy_rejects_0d_and_3d),
        cmocka_unit_test(test_npy_reads_zero_rows_as_an_empty_matrix),
        cmocka_unit_test(test_npy_rejects_empty_shapes),
        cmocka_unit_test(test_npy_rejects_header_syntax_errors),
        cmocka_unit_test(test_npy_rejects_bad_magic_versions_and_lengths),
        cmocka_unit_test(test_npy_rejects_truncated_data),
        cmocka_unit_test(test_npy_rejects_data_size_mismatch),
        cmocka_unit_test(test_npy_rejects_shape_overflow),
        cmocka_unit_test(test_npy_write_read_roundtrip),
        cmocka_unit_test(test_npy_write_handles_large_arrays_in_chunks),
        cmocka_unit_test(test_npy_write_rejects_bad_arguments),
        cmocka_unit_test(test_npy_write_to_missing_directory_names_the_path),
        cmocka_unit_test(test_npy_read_reports_missing_and_non_regular_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
