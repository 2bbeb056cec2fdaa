/* CRC-32 of the wire format by folding with carry-less multiplication (wire_internal.h).
 *
 * The tables of wire_crc.c take about a nanosecond a byte: for a 256 KiB packet of float32 tokens
 * that is most of what writing it costs. PCLMULQDQ multiplies 64-bit polynomials over GF(2), so
 * the running remainder can be carried forward over 64 bytes a step in four independent 128-bit
 * lanes (x^k mod P for the lane distances are the constants below), then the lanes are folded
 * into one, reduced to 64 bits and Barrett-reduced to the 32-bit CRC ("Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ Instruction", Intel, 2009, for the reflected polynomial
 * 0xEDB88320). Short inputs and CPUs without the instructions use the tables. */
#include "wire_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* x^k mod P (bit-reflected, shifted left by one) for the fold distances: 4 x 128 + 32 and
 * 4 x 128 - 32 bits (four lanes), 128 + 32 and 128 - 32 (one lane), 64 (128 -> 64 bits); then
 * P itself and floor(x^64 / P) for the Barrett reduction. */
#define K1 0x154442bd4ull
#define K2 0x1c6e41596ull
#define K3 0x1751997d0ull
#define K4 0x0ccaa009eull
#define K5 0x163cd6124ull
#define P_X 0x1db710641ull
#define MU 0x1f7011641ull

/* Folds len bytes (>= 64, a multiple of 16) into crc, which is in its inverted (running) form. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t fold(uint32_t crc, const uint8_t *p,
                                                              size_t len) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + 0));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)crc));
    p += 64;
    len -= 64;
    __m128i k = _mm_set_epi64x((long long)K2, (long long)K1);
    while (len >= 64) {
        __m128i a0 = _mm_clmulepi64_si128(a, k, 0x00), b0 = _mm_clmulepi64_si128(b, k, 0x00);
        __m128i c0 = _mm_clmulepi64_si128(c, k, 0x00), d0 = _mm_clmulepi64_si128(d, k, 0x00);
        a = _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x11), a0);
        b = _mm_xor_si128(_mm_clmulepi64_si128(b, k, 0x11), b0);
        c = _mm_xor_si128(_mm_clmulepi64_si128(c, k, 0x11), c0);
        d = _mm_xor_si128(_mm_clmulepi64_si128(d, k, 0x11), d0);
        a = _mm_xor_si128(a, _mm_loadu_si128((const __m128i *)(const void *)(p + 0)));
        b = _mm_xor_si128(b, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        c = _mm_xor_si128(c, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        d = _mm_xor_si128(d, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
        p += 64;
        len -= 64;
    }
    /* Four lanes into one, then the remaining 16-byte blocks. */
    k = _mm_set_epi64x((long long)K4, (long long)K3);
    __m128i next[3] = {b, c, d};
    for (int i = 0; i < 3; i++) {
        __m128i lo = _mm_clmulepi64_si128(a, k, 0x00);
        a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x11), lo), next[i]);
    }
    while (len >= 16) {
        __m128i lo = _mm_clmulepi64_si128(a, k, 0x00);
        a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x11), lo),
                          _mm_loadu_si128((const __m128i *)(const void *)p));
        p += 16;
        len -= 16;
    }
    /* 128 -> 64 bits. */
    const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
    __m128i t = _mm_clmulepi64_si128(a, k, 0x10);
    a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
    __m128i k5 = _mm_set_epi64x(0, (long long)K5);
    t = _mm_srli_si128(a, 4);
    a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), t);
    /* Barrett reduction to 32 bits. */
    __m128i pmu = _mm_set_epi64x((long long)MU, (long long)P_X);
    t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), pmu, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), pmu, 0x00);
    a = _mm_xor_si128(a, t);
    return (uint32_t)_mm_extract_epi32(a, 1);
}

uint32_t sp_crc32_update(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    /* The CPU's abilities are read (not kept) on each call: no state of ours. */
    if (len < 64 || !__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.1"))
        return sp_crc32_update_tables(crc, data, len);
    size_t bulk = len & ~(size_t)15;
    crc = ~fold(~crc, p, bulk);
    return sp_crc32_update_tables(crc, p + bulk, len - bulk);
}

#else

uint32_t sp_crc32_update(uint32_t crc, const void *data, size_t len) {
    return sp_crc32_update_tables(crc, data, len);
}

#endif
