/* Tests of vm_pair, the helper thread that splits a tower's elementwise kernels across two cores:
 * both halves of a job run, and a transformer layer gives the same bits with and without it
 * (the halves take disjoint rows of the same kernels), also for causal attention, and agrees with
 * the unsplit kernels to float rounding (so the halves together cover every row). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>

#include "alloc.h"
#include "pair.h"
#include "vit.h"

typedef struct count_job {
    int ran[2];
} count_job;

static void count_half(void *arg, int half) {
    count_job *j = arg;
    j->ran[half]++;
}

static void test_pair_runs_both_halves_once(void **state) {
    (void)state;
    vm_pair *p = NULL;
    assert_int_equal(vm_pair_new(&p, NULL), SP_OK);
    for (int threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        for (int k = 0; k < 100; k++) {
            count_job j = {{0, 0}};
            vm_pair_run(p, count_half, &j);
            assert_int_equal(j.ran[0], 1);
            assert_int_equal(j.ran[1], 1);
        }
    }
    count_job j = {{0, 0}};
    vm_pair_run(NULL, count_half, &j);
    assert_int_equal(j.ran[0] + j.ran[1], 2);
    vm_pair_free(p);
    vm_pair_free(NULL);
}

static float rnd(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd_array(size_t n, uint32_t *s, float scale) {
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        a[i] = rnd(s) * scale;
    return a;
}

/* The layer from the unsplit kernels (vm_softmax_rows normalising the scores), for the check that
 * the two halves of every job together cover all rows. */
static void ref_layer(const vit_tower *t, const vit_layer *L, float *x, size_t T, int causal) {
    const size_t H = t->hidden, F = t->inter, dh = H / t->heads;
    float *h = malloc(T * H * sizeof(float)), *qkv = malloc(T * 3 * H * sizeof(float));
    float *att = malloc(T * H * sizeof(float)), *sc = malloc(T * T * sizeof(float));
    float *mlp = malloc(T * F * sizeof(float));
    assert_true(h && qkv && att && sc && mlp);
    vm_layernorm(x, h, T, H, L->ln1_w, L->ln1_b, t->eps);
    vit_linear(h, T, H, L->qkv_w, NULL, 3 * H, qkv, 0.0f);
    vm_add_bias(qkv, T, 3 * H, L->qkv_b);
    for (size_t hd = 0; hd < t->heads; hd++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dh,
                    1.0f / sqrtf((float)dh), qkv + hd * dh, (int)(3 * H), qkv + H + hd * dh,
                    (int)(3 * H), 0.0f, sc, (int)T);
        vm_softmax_rows(sc, T, T, T, causal);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dh, (int)T, 1.0f, sc,
                    (int)T, qkv + 2 * H + hd * dh, (int)(3 * H), 0.0f, att + hd * dh, (int)H);
    }
    vit_linear(att, T, H, L->o_w, NULL, H, x, 1.0f);
    vm_add_bias(x, T, H, L->o_b);
    vm_layernorm(x, h, T, H, L->ln2_w, L->ln2_b, t->eps);
    vit_linear(h, T, H, L->fc1_w, NULL, F, mlp, 0.0f);
    vm_add_bias(mlp, T, F, L->fc1_b);
    vm_activate(t->act, mlp, T * F);
    vit_linear(mlp, T, F, L->fc2_w, NULL, H, x, 1.0f);
    vm_add_bias(x, T, H, L->fc2_b);
    free(h);
    free(qkv);
    free(att);
    free(sc);
    free(mlp);
}

/* One layer of a small tower (hidden 64, 4 heads, 37 tokens: odd, so the halves differ in size)
 * with and without the pair. */
static void layer_same_with_pair(int causal, vm_act act) {
    const uint32_t H = 64, F = 256;
    const size_t T = 37, B = 2;
    uint32_t seed = 12345;
    vit_layer L = {
        .ln1_w = rnd_array(H, &seed, 1),
        .ln1_b = rnd_array(H, &seed, 0.1f),
        .qkv_w = rnd_array(3 * H * H, &seed, 0.2f),
        .qkv_b = rnd_array(3 * H, &seed, 0.1f),
        .o_w = rnd_array(H * H, &seed, 0.2f),
        .o_b = rnd_array(H, &seed, 0.1f),
        .ln2_w = rnd_array(H, &seed, 1),
        .ln2_b = rnd_array(H, &seed, 0.1f),
        .fc1_w = rnd_array(F * H, &seed, 0.2f),
        .fc1_b = rnd_array(F, &seed, 0.1f),
        .fc2_w = rnd_array(H * F, &seed, 0.1f),
        .fc2_b = rnd_array(H, &seed, 0.1f),
    };
    vit_tower t = {
        .hidden = H, .heads = 4, .inter = F, .layers = 1, .eps = 1e-5f, .act = act, .layer = &L};
    float *x0 = rnd_array(B * T * H, &seed, 2), *x1 = malloc(B * T * H * sizeof(float));
    float *block0 = malloc(vit_scratch_floats(&t, T, B) * sizeof(float));
    float *block1 = malloc(vit_scratch_floats(&t, T, B) * sizeof(float));
    assert_true(x1 && block0 && block1);
    memcpy(x1, x0, B * T * H * sizeof(float));
    float *in = malloc(B * T * H * sizeof(float));
    assert_non_null(in);
    memcpy(in, x0, B * T * H * sizeof(float));
    vit_scratch s0, s1;
    vit_scratch_bind(&t, T, B, block0, &s0);
    vit_scratch_bind(&t, T, B, block1, &s1);
    assert_null(s0.pair);
    assert_int_equal(vm_pair_new(&s1.pair, NULL), SP_OK);
    openblas_set_num_threads(2);
    vit_layer_forward_batch(&t, &L, x0, T, B, causal, &s0);
    vit_layer_forward_batch(&t, &L, x1, T, B, causal, &s1);
    assert_memory_equal(x0, x1, B * T * H * sizeof(float));
    /* the layer changed the stream (so that the comparison above means something) */
    assert_true(memcmp(x0, in, B * T * H * sizeof(float)) != 0);
    for (size_t b = 0; b < B; b++)
        ref_layer(&t, &L, in + b * T * H, T, causal);
    float worst = 0, big = 0;
    for (size_t i = 0; i < B * T * H; i++) {
        float d = fabsf(in[i] - x1[i]);
        worst = d > worst ? d : worst;
        big = fabsf(in[i]) > big ? fabsf(in[i]) : big;
    }
    assert_true(worst <= 1e-5f * big);
    free(in);
    vm_pair_free(s1.pair);
    float **w = (float **)&L;
    for (size_t k = 0; k < sizeof L / sizeof(float *); k++)
        free(w[k]);
    free(x0);
    free(x1);
    free(block0);
    free(block1);
}

static void test_layer_same_bits_with_pair(void **state) {
    (void)state;
    layer_same_with_pair(0, VM_ACT_QUICK_GELU);
    layer_same_with_pair(0, VM_ACT_GELU_ERF);
}

static void test_causal_layer_same_bits_with_pair(void **state) {
    (void)state;
    layer_same_with_pair(1, VM_ACT_QUICK_GELU);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_runs_both_halves_once),
        cmocka_unit_test(test_layer_same_bits_with_pair),
        cmocka_unit_test(test_causal_layer_same_bits_with_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
