/* Interoperability with NumPy, driven by run_numpy_tests.py:
 *   test_formats_numpy_interop DIR files   reads the .npy / safetensors files gen_numpy_files.py
 *                                           wrote (manifest.json says what they hold), and writes
 *                                           DIR/out/ files that the driver then checks with numpy;
 *   test_formats_numpy_interop DIR half     compares the float16 conversions with np.float16.
 * The manifest is read with the library's own JSON reader. */
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

static const char *g_dir;
static sp_json_doc *g_manifest;

static const sp_json *manifest(const char *key) {
    const sp_json *v = sp_json_get(sp_json_root(g_manifest), key);
    assert_non_null(v);
    return v;
}

static const char *str(const sp_json *obj, const char *key) {
    const char *s = sp_json_string(sp_json_get(obj, key), NULL);
    assert_non_null(s);
    return s;
}

static size_t num(const sp_json *obj, const char *key) {
    int64_t v;
    assert_true(sp_json_int64(sp_json_get(obj, key), &v));
    return (size_t)v;
}

/* The contents of DIR/name. */
static uint8_t *load(const char *name, size_t *len) {
    char *p = tu_join(g_dir, name);
    uint8_t *b = tu_read_file(p, len);
    free(p);
    return b;
}

/* Equal bit patterns, or both NaN (NaN payloads are not part of the contract). */
static void assert_floats_equal(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        uint32_t a, b;
        memcpy(&a, &got[i], 4);
        memcpy(&b, &want[i], 4);
        if (a != b && !(isnan(got[i]) && isnan(want[i]))) {
            print_error("%s: element %zu is %a (0x%08x), numpy has %a (0x%08x)\n", what, i,
                        (double)got[i], a, (double)want[i], b);
            fail();
        }
    }
}

static void expect_failure(sp_status st, const sp_error *err, const sp_json *c, const char *path) {
    if (strcmp(sp_status_name(st), str(c, "status")) != 0)
        print_error("%s: status %s, message \"%s\"\n", path, sp_status_name(st), err->message);
    assert_string_equal(sp_status_name(st), str(c, "status"));
    assert_true(tu_contains(err->message, path));
    assert_true(tu_contains(err->message, str(c, "message")));
}

/* ---- files ---- */

static void test_npy_reads_files_numpy_wrote(void **state) {
    (void)state;
    const sp_json *cases = manifest("npy_ok");
    assert_true(sp_json_length(cases) >= 10);
    for (size_t i = 0; i < sp_json_length(cases); i++) {
        const sp_json *c = sp_json_at(cases, i);
        char *p = tu_join(g_dir, str(c, "file"));
        sp_matrix m;
        sp_error err;
        sp_status st = sp_npy_read(p, &m, &err);
        if (st)
            print_error("%s\n", err.message);
        assert_int_equal(st, SP_OK);
        assert_int_equal(m.rows, num(c, "rows"));
        assert_int_equal(m.cols, num(c, "cols"));
        size_t len;
        uint8_t *want = load(str(c, "f32"), &len);
        assert_int_equal(len, m.rows * m.cols * sizeof(float));
        assert_floats_equal(m.data, (const float *)want, m.rows * m.cols, p);
        free(want);
        sp_matrix_free(&m);
        free(p);
    }
}

static void test_npy_rejects_files_numpy_wrote_that_are_unsupported(void **state) {
    (void)state;
    const sp_json *cases = manifest("npy_bad");
    assert_true(sp_json_length(cases) >= 10);
    for (size_t i = 0; i < sp_json_length(cases); i++) {
        const sp_json *c = sp_json_at(cases, i);
        char *p = tu_join(g_dir, str(c, "file"));
        sp_matrix m;
        sp_error err;
        expect_failure(sp_npy_read(p, &m, &err), &err, c, p);
        assert_null(m.data);
        free(p);
    }
}

static void check_st_tensor(const sp_st_file *f, const sp_json *t, const char *path) {
    const sp_st_tensor *x;
    sp_error err;
    assert_int_equal(sp_st_get(f, str(t, "name"), &x, &err), SP_OK);
    assert_string_equal(sp_dtype_name(x->dtype), str(t, "dtype"));
    const sp_json *shape = sp_json_get(t, "shape");
    assert_int_equal(x->ndim, sp_json_length(shape));
    for (size_t d = 0; d < x->ndim; d++) {
        int64_t v;
        assert_true(sp_json_int64(sp_json_at(shape, d), &v));
        assert_int_equal(x->shape[d], (size_t)v);
    }
    size_t len;
    uint8_t *raw = load(str(t, "raw"), &len);
    assert_int_equal(x->nbytes, len);
    if (len)
        assert_memory_equal(x->data, raw, len);
    free(raw);
    if (sp_json_get(t, "f32")) {
        float *got;
        size_t n;
        assert_int_equal(sp_st_read_f32(x, &got, &n, &err), SP_OK);
        float *want = (float *)load(str(t, "f32"), &len);
        assert_int_equal(len, n * sizeof(float));
        assert_floats_equal(got, want, n, path);
        free(want);
        free(got);
    }
}

static void test_safetensors_reads_files_python_wrote(void **state) {
    (void)state;
    const sp_json *cases = manifest("st_ok");
    for (size_t i = 0; i < sp_json_length(cases); i++) {
        const sp_json *c = sp_json_at(cases, i);
        char *p = tu_join(g_dir, str(c, "file"));
        sp_st_file *f;
        sp_error err;
        sp_status st = sp_st_open(p, &f, &err);
        if (st)
            print_error("%s\n", err.message);
        assert_int_equal(st, SP_OK);
        assert_int_equal(sp_st_count(f), num(c, "count"));
        for (size_t k = 1; k < sp_st_count(f); k++)
            assert_true(sp_st_at(f, k - 1)->data + sp_st_at(f, k - 1)->nbytes <=
                        sp_st_at(f, k)->data);
        const sp_json *meta = sp_json_get(c, "metadata");
        assert_int_equal(sp_st_metadata_count(f), sp_json_length(meta));
        for (size_t k = 0; k < sp_json_length(meta); k++) {
            const char *v = sp_st_metadata(f, sp_json_key_at(meta, k));
            assert_non_null(v);
            assert_string_equal(v, sp_json_string(sp_json_value_at(meta, k), NULL));
        }
        const sp_json *tensors = sp_json_get(c, "tensors");
        for (size_t k = 0; k < sp_json_length(tensors); k++)
            check_st_tensor(f, sp_json_at(tensors, k), p);
        sp_st_close(f);
        free(p);
    }
}

static void test_safetensors_rejects_invalid_files(void **state) {
    (void)state;
    const sp_json *cases = manifest("st_bad");
    assert_true(sp_json_length(cases) >= 5);
    for (size_t i = 0; i < sp_json_length(cases); i++) {
        const sp_json *c = sp_json_at(cases, i);
        char *p = tu_join(g_dir, str(c, "file"));
        sp_st_file *f;
        sp_error err;
        expect_failure(sp_st_open(p, &f, &err), &err, c, p);
        assert_null(f);
        free(p);
    }
}

/* Values the driver recomputes in numpy: (i - 17) * 12345 / 1024, exact in float32 (so no
 * compiler contraction or folding can change them) but needing rounding in float16. */
static void test_writes_files_numpy_reads(void **state) {
    (void)state;
    float v[35];
    for (int i = 0; i < 35; i++)
        v[i] = (float)((i - 17) * 12345) / 1024.0f;
    char *out = tu_join(g_dir, "out");
    char *p;
    sp_error err;
    p = tu_join(out, "c_f32_2d.npy");
    assert_int_equal(sp_npy_write(p, v, 5, 7, 2, SP_DTYPE_F32, &err), SP_OK);
    free(p);
    p = tu_join(out, "c_f16_2d.npy");
    assert_int_equal(sp_npy_write(p, v, 5, 7, 2, SP_DTYPE_F16, &err), SP_OK);
    free(p);
    p = tu_join(out, "c_f32_1d.npy");
    assert_int_equal(sp_npy_write(p, v, 1, 7, 1, SP_DTYPE_F32, &err), SP_OK);
    free(p);

    sp_st_writer *w = sp_st_writer_new();
    size_t s57[] = {5, 7}, s35[] = {35}, s3[] = {3};
    const int64_t ids[3] = {-1, 0, (int64_t)1 << 40};
    const uint8_t u = 7;
    assert_int_equal(sp_st_writer_add(w, "a", SP_DTYPE_F32, 2, s57, v, &err), SP_OK);
    assert_int_equal(sp_st_writer_add_f32_as_f16(w, "h", 1, s35, v, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "ids", SP_DTYPE_I64, 1, s3, ids, &err), SP_OK);
    assert_int_equal(sp_st_writer_add(w, "s", SP_DTYPE_U8, 0, NULL, &u, &err), SP_OK);
    assert_int_equal(sp_st_writer_metadata(w, "format", "pt", &err), SP_OK);
    assert_int_equal(
        sp_st_writer_metadata(w, "unicode", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", &err), SP_OK);
    p = tu_join(out, "c.safetensors");
    assert_int_equal(sp_st_writer_write_file(w, p, &err), SP_OK);
    free(p);
    sp_st_writer_free(w);
    free(out);
}

/* ---- half ---- */

static uint8_t *load_half(const char *key, size_t *len) {
    return load(str(manifest("half"), key), len);
}

static void test_float_to_half_matches_numpy(void **state) {
    (void)state;
    size_t nin, nout;
    uint32_t *in = (uint32_t *)load_half("inputs", &nin);
    uint16_t *want = (uint16_t *)load_half("expected", &nout);
    size_t n = nin / 4;
    assert_int_equal(nout / 2, n);
    assert_true(n > 1000000);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, &in[i], 4);
        uint16_t got = sp_float_to_half(f);
        int ok;
        if (isnan(f)) /* NaN stays NaN with its sign; numpy keeps payloads differently */
            ok = (got & 0x7c00) == 0x7c00 && (got & 0x3ff) && (got >> 15) == (in[i] >> 31);
        else
            ok = got == want[i];
        if (!ok && bad++ < 10)
            print_error("float 0x%08x (%a): half 0x%04x, numpy 0x%04x\n", in[i], (double)f, got,
                        want[i]);
    }
    print_message("%zu float32 -> float16 conversions compared with numpy\n", n);
    assert_int_equal(bad, 0);
    free(in);
    free(want);
}

static void test_half_to_float_matches_numpy(void **state) {
    (void)state;
    size_t nh, nf;
    uint16_t *h = (uint16_t *)load_half("halves", &nh);
    float *want = (float *)load_half("floats", &nf);
    assert_int_equal(nh / 2, 65536);
    assert_int_equal(nf / 4, 65536);
    float *got = malloc(65536 * sizeof *got);
    assert_non_null(got);
    sp_half_to_float_n(h, got, 65536);
    assert_floats_equal(got, want, 65536, "half -> float");
    free(got);
    free(h);
    free(want);
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "files") != 0 && strcmp(argv[2], "half") != 0)) {
        fprintf(stderr, "usage: %s DIR files|half (run by run_numpy_tests.py)\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    size_t len;
    uint8_t *text = load("manifest.json", &len);
    sp_error err;
    if (sp_json_parse((const char *)text, len, "manifest.json", &g_manifest, &err) != SP_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    free(text);
    const struct CMUnitTest files[] = {
        cmocka_unit_test(test_npy_reads_files_numpy_wrote),
        cmocka_unit_test(test_npy_rejects_files_numpy_wrote_that_are_unsupported),
        cmocka_unit_test(test_safetensors_reads_files_python_wrote),
        cmocka_unit_test(test_safetensors_rejects_invalid_files),
        cmocka_unit_test(test_writes_files_numpy_reads),
    };
    const struct CMUnitTest half[] = {
        cmocka_unit_test(test_float_to_half_matches_numpy),
        cmocka_unit_test(test_half_to_float_matches_numpy),
    };
    int rc = strcmp(argv[2], "files") == 0 ? cmocka_run_group_tests(files, NULL, NULL)
                                           : cmocka_run_group_tests(half, NULL, NULL);
    sp_json_free(g_manifest);
    return rc;
}
