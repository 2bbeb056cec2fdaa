/* Tests of the fused attention kernel (core/encode/attention.c) against the BLAS path of the
 * towers (vit_attention): sequence lengths around and below the row block (1, 5, 6, 7, 13),
 * the towers' lengths (50, 77, 197), head widths that are and are not a multiple of the column
 * block (8, 64, 72), causal and not; each head's columns only are written; and the result does
 * not depend on how the heads are split between calls. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attention.h"
#include "vit.h"

static float rnd(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Fused against BLAS for one shape; the output starts as a sentinel to catch unwritten cells. */
static void compare(size_t T, size_t dh, size_t heads, int causal, float spread, float tol) {
    const size_t H = dh * heads;
    uint32_t seed = (uint32_t)(T * 131 + dh * 7 + heads + (size_t)causal);
    float *qkv = malloc(T * 3 * H * sizeof(float));
    float *want = malloc(T * H * sizeof(float)), *got = malloc(T * H * sizeof(float));
    float *split = malloc(T * H * sizeof(float));
    float *scores = malloc(T * T * sizeof(float)), *inv = malloc(T * sizeof(float));
    float *ws = malloc(va_workspace_floats(T, dh) * sizeof(float));
    assert_true(qkv && want && got && split && scores && inv && ws);
    for (size_t i = 0; i < T * 3 * H; i++)
        qkv[i] = rnd(&seed) * spread;
    vit_attention(qkv, T, (uint32_t)H, (uint32_t)heads, causal, scores, inv, NULL, want);
    for (size_t i = 0; i < T * H; i++)
        got[i] = split[i] = 1e30f;
    float scale = (float)(1.0 / sqrt((double)dh));
    va_heads(qkv, T, H, dh, 0, heads, causal, scale, ws, got);
    for (size_t h = heads; h-- > 0;)
        va_heads(qkv, T, H, dh, h, h + 1, causal, scale, ws, split);
    assert_memory_equal(got, split, T * H * sizeof(float));
    float worst = 0, big = 0;
    for (size_t i = 0; i < T * H; i++) {
        assert_true(got[i] != 1e30f);
        float d = fabsf(got[i] - want[i]);
        worst = d > worst ? d : worst;
        big = fabsf(want[i]) > big ? fabsf(want[i]) : big;
    }
    if (!(worst <= tol * big + 1e-7f))
        fail_msg("T %zu dh %zu heads %zu causal %d: max |fused - blas| %g of max %g", T, dh, heads,
                 causal, (double)worst, (double)big);
    free(qkv);
    free(want);
    free(got);
    free(split);
    free(scores);
    free(inv);
    free(ws);
}

static void test_fused_matches_blas_attention(void **state) {
    (void)state;
    if (!va_available())
        skip();
    const size_t lengths[] = {1, 5, 6, 7, 13, 50, 77, 197};
    const size_t widths[] = {8, 64, 72};
    for (size_t a = 0; a < sizeof lengths / sizeof *lengths; a++)
        for (size_t b = 0; b < sizeof widths / sizeof *widths; b++)
            for (int causal = 0; causal <= 1; causal++)
                compare(lengths[a], widths[b], 3, causal, 1.0f, 2e-6f);
}

/* Large scores (up to a few hundred): the softmax's max subtraction keeps exp in range (rows near
 * one-hot). One float rounding of such a score (an ulp is about 3e-5) changes its weight by as
 * much, whichever order the products are summed in, hence the wider tolerance. */
static void test_fused_matches_blas_on_peaked_scores(void **state) {
    (void)state;
    if (!va_available())
        skip();
    compare(77, 64, 2, 1, 12.0f, 2e-5f);
    compare(50, 72, 2, 0, 12.0f, 2e-5f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_matches_blas_attention),
        cmocka_unit_test(test_fused_matches_blas_on_peaked_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
