/* The towers' activations against their definitions evaluated in double with libm: quick GELU
 * (x sigmoid(1.702 x)), GELU's tanh form and GELU with erf, over [-12, 12] in steps of 1/1024
 * (and the tail of a length that is not a multiple of the vector width). The bound is absolute
 * error <= 4e-7 max(1, |x|): float rounding of the formulas, far inside the towers' 1e-4
 * tolerance against PyTorch. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vmath.h"

static double reference(vm_act act, double x) {
    switch (act) {
        case VM_ACT_QUICK_GELU:
            return x / (1.0 + exp(-1.702 * x));
        case VM_ACT_GELU_TANH:
            return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        default:
            return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    }
}

static void check(vm_act act) {
    const size_t n = 24 * 1024 + 3; /* a tail of three values after the four-wide part */
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = -12.0f + (float)i / 1024.0f;
    vm_activate(act, x, n);
    for (size_t i = 0; i < n; i++) {
        double in = -12.0 + (double)i / 1024.0, want = reference(act, in);
        double bound = 4e-7 * (fabs(in) > 1 ? fabs(in) : 1);
        if (!(fabs((double)x[i] - want) <= bound))
            fail_msg("activation %d at x = %g: %.9g, want %.9g", (int)act, in, (double)x[i], want);
    }
    free(x);
}

static void test_quick_gelu_matches_definition(void **state) {
    (void)state;
    check(VM_ACT_QUICK_GELU);
}

static void test_gelu_tanh_matches_definition(void **state) {
    (void)state;
    check(VM_ACT_GELU_TANH);
}

static void test_gelu_erf_matches_definition(void **state) {
    (void)state;
    check(VM_ACT_GELU_ERF);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_gelu_matches_definition),
        cmocka_unit_test(test_gelu_tanh_matches_definition),
        cmocka_unit_test(test_gelu_erf_matches_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
