/* Element types and the float16 / bfloat16 conversions. The half tests are exhaustive over all
 * 65536 encodings and over every rounding boundary between adjacent finite halves, checked
 * against the definitions rather than against another implementation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scriptprune/tensor.h"
#include "testutil.h"

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void test_dtype_sizes_and_names(void **state) {
    (void)state;
    static const struct {
        sp_dtype t;
        size_t size;
        const char *name;
    } want[] = {{SP_DTYPE_F32, 4, "F32"}, {SP_DTYPE_F16, 2, "F16"}, {SP_DTYPE_BF16, 2, "BF16"},
                {SP_DTYPE_F64, 8, "F64"}, {SP_DTYPE_I64, 8, "I64"}, {SP_DTYPE_I32, 4, "I32"},
                {SP_DTYPE_I16, 2, "I16"}, {SP_DTYPE_U8, 1, "U8"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(sp_dtype_size(want[i].t), want[i].size);
        assert_string_equal(sp_dtype_name(want[i].t), want[i].name);
        sp_dtype back;
        sp_error err;
        assert_int_equal(sp_dtype_from_name(want[i].name, &back, &err), SP_OK);
        assert_int_equal(back, want[i].t);
    }
    assert_int_equal(sp_dtype_size(SP_DTYPE_COUNT), 0);
    assert_non_null(sp_dtype_name(SP_DTYPE_COUNT));
}

static void test_dtype_from_name_rejects_unknown_naming_it(void **state) {
    (void)state;
    const char *bad[] = {"BOOL", "F8_E4M3", "f32", "", "U16", "F32 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp_dtype t;
        sp_error err;
        sp_error_clear(&err);
        assert_int_equal(sp_dtype_from_name(bad[i], &t, &err), SP_ERR_UNSUPPORTED);
        assert_int_equal(err.status, SP_ERR_UNSUPPORTED);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        assert_true(tu_contains(err.message, quoted));
    }
}

static void test_shape_elements_products_and_scalars(void **state) {
    (void)state;
    sp_error err;
    size_t n = 99;
    assert_int_equal(sp_shape_elements(NULL, 0, &n, &err), SP_OK);
    assert_int_equal(n, 1);
    size_t s[] = {3, 4, 5};
    assert_int_equal(sp_shape_elements(s, 3, &n, &err), SP_OK);
    assert_int_equal(n, 60);
    size_t z[] = {3, 0, (size_t)1 << 40};
    assert_int_equal(sp_shape_elements(z, 3, &n, &err), SP_OK);
    assert_int_equal(n, 0);
}

static void test_shape_elements_rejects_overflow(void **state) {
    (void)state;
    sp_error err;
    size_t n = 7;
    size_t s[] = {(size_t)1 << 33, (size_t)1 << 33};
    assert_int_equal(sp_shape_elements(s, 2, &n, &err), SP_ERR_OVERFLOW);
    assert_int_equal(n, 7);
    assert_true(tu_contains(err.message, "overflow"));
}

/* The value of a binary16 encoding by its definition, computed in double. */
static double half_definition(uint16_t h) {
    int sign = h >> 15;
    int exp = (h >> 10) & 31;
    int mant = h & 1023;
    double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return sign ? -v : v;
}

static void test_half_to_float_matches_definition_for_all_65536(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sp_half_to_float((uint16_t)h);
        int exp = (h >> 10) & 31;
        if (exp == 31) {
            if (h & 1023) {
                assert_true(isnan(f));
            } else {
                assert_true(isinf(f));
            }
            assert_int_equal(signbit(f) != 0, (h >> 15) != 0);
            continue;
        }
        assert_true((double)f == half_definition((uint16_t)h));
        assert_int_equal(signbit(f) != 0, (h >> 15) != 0); /* -0 stays -0 */
    }
}

static void test_half_roundtrips_through_float_for_all_65536(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t back = sp_float_to_half(sp_half_to_float((uint16_t)h));
        if (((h >> 10) & 31) == 31 && (h & 1023)) {
            /* NaN stays NaN with its sign and payload; it comes back quiet. */
            assert_int_equal(back, h | 0x200);
        } else {
            assert_int_equal(back, h);
        }
    }
}

/* Every midpoint between adjacent finite halves (subnormal, normal, and the one above 65504)
 * rounds to the even neighbour, and the floats next to it round to the nearer neighbour. */
static void test_float_to_half_rounds_midpoints_to_even(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float lo = sp_half_to_float((uint16_t)h);
        float hi = h + 1 == 0x7c00 ? 65536.0f : sp_half_to_float((uint16_t)(h + 1));
        float mid = (lo + hi) / 2; /* exact: 12 significant bits */
        assert_true((double)mid * 2 == (double)lo + (double)hi);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        for (int s = 0; s < 2; s++) {
            float sg = s ? -1.0f : 1.0f;
            uint16_t sb = s ? 0x8000 : 0;
            assert_int_equal(sp_float_to_half(sg * mid), sb | even);
            assert_int_equal(sp_float_to_half(sg * nextafterf(mid, 0)), sb | h);
            assert_int_equal(sp_float_to_half(sg * nextafterf(mid, INFINITY)), sb | (h + 1));
            assert_int_equal(sp_float_to_half(sg * lo), sb | h);
        }
    }
}

/* The bulk converter (vectorised on CPUs with F16C) gives exactly what the scalar one gives: on
 * every midpoint between halves and its neighbours, every half value itself, NaNs with any
 * payload, and a spread of floats over the whole bit space, at every position of a vector. */
static void test_bulk_float_to_half_equals_scalar(void **state) {
    (void)state;
    enum { N = 4 * 65536 * 2 + 64 };
    float *f = malloc(N * sizeof *f);
    uint16_t *bulk = malloc(N * sizeof *bulk);
    assert_non_null(f);
    assert_non_null(bulk);
    size_t n = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float lo = sp_half_to_float((uint16_t)h);
        float hi = h + 1 == 0x7c00 ? 65536.0f : sp_half_to_float((uint16_t)(h + 1));
        float mid = (lo + hi) / 2;
        float v[4] = {lo, mid, nextafterf(mid, 0), nextafterf(mid, INFINITY)};
        for (int k = 0; k < 4; k++) {
            f[n++] = v[k];
            f[n++] = -v[k];
        }
    }
    const uint32_t odd[] = {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7f801000u,
                            0x7f800000u, 0xff800000u, 0x00000001u, 0x80000001u, 0x7f7fffffu};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        f[n++] = bits_f(odd[i]);
    assert_true(n <= N);
    /* Every offset: the vector body and the scalar tail both see every value. */
    for (size_t off = 0; off < 8; off++) {
        sp_float_to_half_n(f + off, bulk, n - off);
        for (size_t i = 0; i < n - off; i++)
            if (bulk[i] != sp_float_to_half(f[off + i]))
                fail_msg("float bits 0x%08x: bulk 0x%04x, scalar 0x%04x",
                         (unsigned)f_bits(f[off + i]), bulk[i], sp_float_to_half(f[off + i]));
    }
    /* A spread over the whole bit space (every 7919th pattern), in slices. */
    for (uint64_t x = 0; x < ((uint64_t)1 << 32);) {
        size_t m = 0;
        for (; m < N && x < ((uint64_t)1 << 32); m++, x += 7919)
            f[m] = bits_f((uint32_t)x);
        sp_float_to_half_n(f, bulk, m);
        for (size_t i = 0; i < m; i++)
            if (bulk[i] != sp_float_to_half(f[i]))
                fail_msg("float bits 0x%08x: bulk 0x%04x, scalar 0x%04x", (unsigned)f_bits(f[i]),
                         bulk[i], sp_float_to_half(f[i]));
    }
    free(f);
    free(bulk);
}

static void test_float_to_half_special_values(void **state) {
    (void)state;
    assert_int_equal(sp_float_to_half(0.0f), 0x0000);
    assert_int_equal(sp_float_to_half(-0.0f), 0x8000);
    assert_int_equal(sp_float_to_half(1.0f), 0x3c00);
    assert_int_equal(sp_float_to_half(65504.0f), 0x7bff);
    assert_int_equal(sp_float_to_half(nextafterf(65520.0f, 0)), 0x7bff);
    assert_int_equal(sp_float_to_half(65520.0f), 0x7c00); /* overflow boundary: ties to inf */
    assert_int_equal(sp_float_to_half(1e10f), 0x7c00);
    assert_int_equal(sp_float_to_half(-1e10f), 0xfc00);
    assert_int_equal(sp_float_to_half(INFINITY), 0x7c00);
    assert_int_equal(sp_float_to_half(-INFINITY), 0xfc00);
    assert_int_equal(sp_float_to_half(ldexpf(1, -24)), 0x0001);    /* smallest subnormal */
    assert_int_equal(sp_float_to_half(ldexpf(1, -25)), 0x0000);    /* tie to even: zero */
    assert_int_equal(sp_float_to_half(ldexpf(1.5f, -25)), 0x0001); /* above the tie */
    assert_int_equal(sp_float_to_half(-ldexpf(1, -26)), 0x8000);   /* underflow keeps the sign */
    assert_int_equal(sp_float_to_half(ldexpf(1, -14)), 0x0400);    /* smallest normal */
    assert_int_equal(sp_float_to_half(bits_f(1)), 0x0000);         /* float subnormal */
    assert_int_equal(sp_float_to_half(FLT_MAX), 0x7c00);
    /* NaNs stay NaN, whatever their payload (a payload only in low bits must not become inf). */
    const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7f801000u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t h = sp_float_to_half(bits_f(nans[i]));
        assert_int_equal(h & 0x7c00, 0x7c00);
        assert_true(h & 0x3ff);
        assert_int_equal(h >> 15, nans[i] >> 31);
    }
}

static void test_bf16_roundtrips_all_65536(void **state) {
    (void)state;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = sp_bf16_to_float((uint16_t)b);
        assert_int_equal(f_bits(f), b << 16);
        uint16_t back = sp_float_to_bf16(f);
        if (((b >> 7) & 0xff) == 0xff && (b & 0x7f))
            assert_int_equal(back, b | 0x40); /* NaN: comes back quiet */
        else
            assert_int_equal(back, b);
    }
}

static void test_float_to_bf16_rounds_midpoints_to_even(void **state) {
    (void)state;
    for (uint32_t b = 0; b < 0x7f80; b++) {
        /* The midpoint between b and b + 1 is b's bits with 0x8000 below: exact in float. */
        uint32_t mid = (b << 16) | 0x8000u;
        uint16_t even = (b & 1) ? (uint16_t)(b + 1) : (uint16_t)b;
        for (uint32_t s = 0; s < 2; s++) {
            uint32_t sb = s << 31;
            assert_int_equal(sp_float_to_bf16(bits_f(sb | mid)), (sb >> 16) | even);
            assert_int_equal(sp_float_to_bf16(bits_f(sb | (mid - 1))), (sb >> 16) | b);
            assert_int_equal(sp_float_to_bf16(bits_f(sb | (mid + 1))), (sb >> 16) | (b + 1));
        }
    }
    assert_int_equal(sp_float_to_bf16(FLT_MAX), 0x7f80); /* rounds up to inf */
    uint16_t n = sp_float_to_bf16(bits_f(0x7f800001u));  /* payload only in the dropped bits */
    assert_int_equal(n & 0x7f80, 0x7f80);
    assert_true(n & 0x7f);
}

static void test_half_array_conversions(void **state) {
    (void)state;
    float src[5] = {0.5f, -2.0f, 65504.0f, 1e-8f, 3.14159f};
    uint16_t h[5];
    float back[5];
    sp_float_to_half_n(src, h, 5);
    sp_half_to_float_n(h, back, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(h[i], sp_float_to_half(src[i]));
        assert_true(back[i] == sp_half_to_float(h[i]));
    }
    assert_true(back[4] == 3.140625f);
}

/* Each dtype converts from little-endian bytes at an odd address. */
static void test_convert_to_f32_reads_every_dtype_unaligned(void **state) {
    (void)state;
    uint8_t raw[1 + 3 * 8];
    float out[3];
    struct {
        sp_dtype t;
        uint8_t bytes[24];
        float want[3];
    } cases[] = {
        {SP_DTYPE_F32,
         {0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0x80, 0x7f},
         {1.5f, -2.0f, INFINITY}},
        {SP_DTYPE_F16, {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}, {1.0f, -2.0f, 5.9604645e-8f}},
        {SP_DTYPE_BF16, {0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40}, {1.0f, -2.0f, 3.140625f}},
        {SP_DTYPE_F64,
         {0,    0,    0,    0,    0,    0,    0xf8, 0x3f, 0x9a, 0x99, 0x99, 0x99,
          0x99, 0x99, 0xb9, 0x3f, 0x3c, 0xe4, 0x37, 0x7e, 0xdd, 0x9a, 0x52, 0x7e},
         {1.5f, 0.1f, INFINITY}},
        {SP_DTYPE_I64,
         {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
          0,    1,    0,    0,    1,    0,    0,    0,    0, 0, 0, 0x80},
         {-5.0f, 1099511627776.0f, -9223372036854775808.0f}},
        {SP_DTYPE_I32,
         {0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0x80},
         {-1, 16, -2147483648.0f}},
        {SP_DTYPE_I16, {0, 0x80, 0xff, 0x7f, 0xfe, 0xff}, {-32768, 32767, -2}},
        {SP_DTYPE_U8, {0, 255, 7}, {0, 255, 7}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(raw + 1, cases[c].bytes, 3 * sp_dtype_size(cases[c].t));
        sp_convert_to_f32(cases[c].t, raw + 1, out, 3);
        for (int i = 0; i < 3; i++) {
            assert_true(out[i] == cases[c].want[i]);
        }
    }
    sp_convert_to_f32(SP_DTYPE_F32, NULL, NULL, 0); /* empty tensors have no data */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_sizes_and_names),
        cmocka_unit_test(test_dtype_from_name_rejects_unknown_naming_it),
        cmocka_unit_test(test_shape_elements_products_and_scalars),
        cmocka_unit_test(test_shape_elements_rejects_overflow),
        cmocka_unit_test(test_half_to_float_matches_definition_for_all_65536),
        cmocka_unit_test(test_half_roundtrips_through_float_for_all_65536),
        cmocka_unit_test(test_float_to_half_rounds_midpoints_to_even),
        cmocka_unit_test(test_float_to_half_special_values),
        cmocka_unit_test(test_bulk_float_to_half_equals_scalar),
        cmocka_unit_test(test_bf16_roundtrips_all_65536),
        cmocka_unit_test(test_float_to_bf16_rounds_midpoints_to_even),
        cmocka_unit_test(test_half_array_conversions),
        cmocka_unit_test(test_convert_to_f32_reads_every_dtype_unaligned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
