#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "rng.h"

double bench_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double gauss(sp_rng *r) {
    double u = sp_rng_unit(r), v = sp_rng_unit(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

float *bench_tokens(size_t n, size_t d, size_t clusters, uint64_t seed) {
    float *x = malloc(n * d * sizeof(float));
    float *c = malloc(clusters * d * sizeof(float));
    if (!x || !c) {
        free(x);
        free(c);
        return NULL;
    }
    sp_rng r;
    sp_rng_seed(&r, seed);
    for (size_t i = 0; i < clusters * d; i++)
        c[i] = (float)gauss(&r);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)sp_rng_below(&r, clusters);
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = c[k * d + j] + 0.6f * (float)gauss(&r);
    }
    free(c);
    return x;
}
