/* Element types: sizes, names, shape products, and conversions to float32, including IEEE
 * binary16 and bfloat16 done in integer arithmetic so that results are identical on every host. */
#include "scriptprune/tensor.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "bytes_le.h"
#include "cpu_features.h"
#include "float_store.h"
#include "quote.h"

static const struct {
    const char *name;
    size_t size;
} dtype_info[SP_DTYPE_COUNT] = {
    [SP_DTYPE_F32] = {"F32", 4}, [SP_DTYPE_F16] = {"F16", 2}, [SP_DTYPE_BF16] = {"BF16", 2},
    [SP_DTYPE_F64] = {"F64", 8}, [SP_DTYPE_I64] = {"I64", 8}, [SP_DTYPE_I32] = {"I32", 4},
    [SP_DTYPE_I16] = {"I16", 2}, [SP_DTYPE_U8] = {"U8", 1},
};

size_t sp_dtype_size(sp_dtype t) {
    return (unsigned)t < SP_DTYPE_COUNT ? dtype_info[t].size : 0;
}

const char *sp_dtype_name(sp_dtype t) {
    return (unsigned)t < SP_DTYPE_COUNT ? dtype_info[t].name : "invalid";
}

sp_status sp_dtype_from_name(const char *name, sp_dtype *out, sp_error *err) {
    if (!name || !out)
        return sp_error_set(err, SP_ERR_INVALID, "dtype name or output is NULL");
    for (int t = 0; t < SP_DTYPE_COUNT; t++) {
        if (strcmp(name, dtype_info[t].name) == 0) {
            *out = (sp_dtype)t;
            return SP_OK;
        }
    }
    char q[SP_QUOTE_MAX];
    return sp_error_set(
        err, SP_ERR_UNSUPPORTED,
        "unsupported dtype '%s' (supported: F32, F16, BF16, F64, I64, I32, I16, U8)",
        sp_quote(q, sizeof q, name, strlen(name)));
}

sp_status sp_shape_elements(const size_t *shape, size_t ndim, size_t *out, sp_error *err) {
    if (ndim > 0 && !shape)
        return sp_error_set(err, SP_ERR_INVALID, "shape of %zu dims is NULL", ndim);
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (__builtin_mul_overflow(n, shape[i], &n)) {
            return sp_error_set(err, SP_ERR_OVERFLOW,
                                "element count of the shape overflows size_t at dim %zu (%zu)", i,
                                shape[i]);
        }
    }
    *out = n;
    return SP_OK;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float sp_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) /* inf, or NaN with its payload kept in the top mantissa bits */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp != 0)
        return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0)
        return f32_from_bits(sign);
    /* Subnormal: mant * 2^-24; shift the leading one into the implicit bit position. */
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return f32_from_bits(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

/* Rounds q + rem / 2^shift to nearest, ties to even. */
static uint32_t round_shift(uint32_t v, unsigned shift) {
    uint32_t q = v >> shift;
    uint32_t rem = v & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

uint16_t sp_float_to_half(float f) {
    uint32_t x = bits_from_f32(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN: keep the top payload bits and make it quiet, so it stays NaN */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    if (x >= 0x477ff000u) /* >= 65520 (the midpoint above the largest half) and inf */
        return (uint16_t)(sign | 0x7c00u);
    if (x >= 0x38800000u) /* normal half: rebias the exponent, round away 13 mantissa bits */
        return (uint16_t)(sign | round_shift(x - 0x38000000u, 13));
    uint32_t e = x >> 23;
    if (e < 102) /* below 2^-25: rounds to zero */
        return sign;
    /* Subnormal half: value / 2^-24 = m * 2^(e - 126) with the implicit bit in m; a carry into
     * 0x400 yields the smallest normal, which is the correct encoding. */
    uint32_t m = (x & 0x7fffffu) | 0x800000u;
    return (uint16_t)(sign | round_shift(m, 126 - e));
}

float sp_bf16_to_float(uint16_t b) {
    return f32_from_bits((uint32_t)b << 16);
}

uint16_t sp_float_to_bf16(float f) {
    uint32_t x = bits_from_f32(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could clear the payload, so quiet it */
        return (uint16_t)((x >> 16) | 0x40u);
    /* Ties to even; a carry out of the mantissa correctly rounds up the exponent (to inf). */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

void sp_half_to_float_n(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = sp_half_to_float(src[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SP_HAVE_F16C_PATH 1
/* The F16C instruction converts 8 floats at once with the same rounding (to nearest, ties to
 * even), the same overflow to infinity, the same subnormals and the same quieted NaN payloads as
 * sp_float_to_half (tests/formats/test_tensor.c checks them against each other); writing
 * float16 token streams is otherwise dominated by this conversion. */
__attribute__((target("avx,f16c"))) static void float_to_half_f16c(const float *src, uint16_t *dst,
                                                                   size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), h);
    }
    for (; i < n; i++)
        dst[i] = sp_float_to_half(src[i]);
}
#endif

void sp_float_to_half_n(const float *src, uint16_t *dst, size_t n) {
#ifdef SP_HAVE_F16C_PATH
    if (sp_cpu_has_f16c()) {
        float_to_half_f16c(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = sp_float_to_half(src[i]);
}

uint8_t *sp_store_floats_le(uint8_t *dst, const float *src, size_t n, sp_dtype dtype) {
    /* A chunk at a time through the bulk converter (vectorised where the CPU allows): token
     * values are most of what the writers write. */
    enum { CHUNK = 1024 };
    uint16_t h[CHUNK];
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK;
        if (dtype == SP_DTYPE_F16) {
            sp_float_to_half_n(src + at, h, m);
            for (size_t i = 0; i < m; i++, dst += 2)
                sp_store_le16(dst, h[i]);
        } else {
            for (size_t i = 0; i < m; i++, dst += 4) {
                uint32_t bits;
                memcpy(&bits, &src[at + i], 4);
                sp_store_le32(dst, bits);
            }
        }
    }
    return dst;
}

void sp_convert_to_f32(sp_dtype t, const void *src, float *dst, size_t n) {
    const uint8_t *p = src;
    if (n == 0) /* src and dst may be NULL for empty tensors; memcpy must not see NULL */
        return;
    switch (t) {
        case SP_DTYPE_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            memcpy(dst, p, n * sizeof(float));
#else
            for (size_t i = 0; i < n; i++)
                dst[i] = f32_from_bits(sp_load_le32(p + 4 * i));
#endif
            break;
        case SP_DTYPE_F16:
            for (size_t i = 0; i < n; i++)
                dst[i] = sp_half_to_float(sp_load_le16(p + 2 * i));
            break;
        case SP_DTYPE_BF16:
            for (size_t i = 0; i < n; i++)
                dst[i] = sp_bf16_to_float(sp_load_le16(p + 2 * i));
            break;
        case SP_DTYPE_F64:
            for (size_t i = 0; i < n; i++) {
                uint64_t u = sp_load_le64(p + 8 * i);
                double d;
                memcpy(&d, &u, sizeof d);
                /* IEC 60559 (C11 Annex F) conversion: rounds, and overflows to infinity. */
                dst[i] = (float)d;
            }
            break;
        case SP_DTYPE_I64:
            for (size_t i = 0; i < n; i++)
                dst[i] = (float)(int64_t)sp_load_le64(p + 8 * i);
            break;
        case SP_DTYPE_I32:
            for (size_t i = 0; i < n; i++)
                dst[i] = (float)(int32_t)sp_load_le32(p + 4 * i);
            break;
        case SP_DTYPE_I16:
            for (size_t i = 0; i < n; i++)
                dst[i] = (float)(int16_t)sp_load_le16(p + 2 * i);
            break;
        case SP_DTYPE_U8:
            for (size_t i = 0; i < n; i++)
                dst[i] = (float)p[i];
            break;
        default:
            /* No error channel in this signature: an invalid dtype yields NaNs, never garbage. */
            for (size_t i = 0; i < n; i++)
                dst[i] = f32_from_bits(0x7fc00000u);
            break;
    }
}
