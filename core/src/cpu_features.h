/* What the x86-64 CPU we run on can do, read with CPUID (and XGETBV for the AVX register state)
 * on every call: no state of ours. GCC's and clang's __builtin_cpu_supports do not agree on the
 * feature names (clang 14 has no "f16c"), so the bits are read directly. Elsewhere: false. */
#ifndef SP_CPU_FEATURES_H
#define SP_CPU_FEATURES_H

#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

/* CPUID leaf 1, ECX bits. */
enum {
    SP_CPUID1_PCLMUL = 1u << 1,
    SP_CPUID1_FMA = 1u << 12,
    SP_CPUID1_SSE41 = 1u << 19,
    SP_CPUID1_OSXSAVE = 1u << 27,
    SP_CPUID1_AVX = 1u << 28,
    SP_CPUID1_F16C = 1u << 29,
};

static inline unsigned sp_cpuid1_ecx(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) ? c : 0;
}

/* PCLMULQDQ and SSE4.1 (the folded CRC). */
static inline bool sp_cpu_has_pclmul(void) {
    unsigned c = sp_cpuid1_ecx();
    return (c & SP_CPUID1_PCLMUL) && (c & SP_CPUID1_SSE41);
}

/* AVX usable: the CPU has it and the OS saves the YMM registers. */
static inline bool sp_cpu_avx_usable(unsigned ecx1) {
    if (!(ecx1 & SP_CPUID1_AVX) || !(ecx1 & SP_CPUID1_OSXSAVE))
        return false;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6u) == 6u; /* XMM and YMM state enabled */
}

/* F16C with AVX usable. */
static inline bool sp_cpu_has_f16c(void) {
    unsigned c = sp_cpuid1_ecx();
    return (c & SP_CPUID1_F16C) && sp_cpu_avx_usable(c);
}

/* AVX2 and FMA with AVX usable (CPUID leaf 1's FMA bit, leaf 7's AVX2 bit). */
static inline bool sp_cpu_has_avx2_fma(void) {
    unsigned ecx1 = sp_cpuid1_ecx();
    if (!(ecx1 & SP_CPUID1_FMA) || !sp_cpu_avx_usable(ecx1))
        return false;
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 5)); /* EBX bit 5: AVX2 */
}

#else

static inline bool sp_cpu_has_pclmul(void) {
    return false;
}

static inline bool sp_cpu_has_f16c(void) {
    return false;
}

static inline bool sp_cpu_has_avx2_fma(void) {
    return false;
}

#endif
#endif
