/* The tolerant choice of docs/algorithm.md: the largest value wins, but values within 1e-4 of it
 * (relative to max(1, |max|)) count as equal and the smallest index among them is taken. Float32
 * products differ in the last bits for identical rows, so exact comparison would make duplicated
 * tokens pick an arbitrary twin. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

size_t sp_choose(const double *v, const uint8_t *excluded, size_t n) {
    double m = -INFINITY;
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (excluded && excluded[i])
            continue;
        if (first == SIZE_MAX)
            first = i;
        if (v[i] > m)
            m = v[i];
    }
    if (first == SIZE_MAX)
        return SIZE_MAX;
    if (m == -INFINITY)
        return first;
    double threshold = m - SP_TIE_TOL * fmax(1.0, fabs(m));
    for (size_t i = first; i < n; i++) {
        if (excluded && excluded[i])
            continue;
        if (v[i] >= threshold)
            return i;
    }
    return first; /* unreachable: the maximum itself passes the threshold */
}

void sp_rank_first(const double *v, uint8_t *excluded, size_t n, size_t r, uint32_t *order) {
    for (size_t t = 0; t < r; t++) {
        size_t j = sp_choose(v, excluded, n);
        if (j == SIZE_MAX)
            return;
        order[t] = (uint32_t)j;
        excluded[j] = 1;
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void sp_sort_u32(uint32_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u32);
}
