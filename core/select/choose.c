/* The tolerant choice of docs/algorithm.md: the largest value wins, but values within 1e-4 of it
 * (relative to max(1, |max|)) count as equal and the smallest index among them is taken. Float32
 * products differ in the last bits for identical rows, so exact comparison would make duplicated
 * tokens pick an arbitrary twin. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "choose.h"
#include "workspace.h"

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

/* Descending values, NaN last, ties by ascending index: a total order, so the sort is the same on
 * every run. */
typedef struct ranked {
    double v;
    uint32_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    bool xn = isnan(x->v), yn = isnan(y->v);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

void *sp_rank_scratch(sp_workspace *ws, size_t n) {
    return sp_ws_array(ws, SP_WS_RANK, n ? n : 1, sizeof(ranked));
}

void sp_rank_first(const double *v, uint8_t *excluded, size_t n, size_t r, uint32_t *order,
                   void *scratch) {
    /* r choices by sp_choose cost two passes over v each (0.19 ms of GSP's rounds at 576
     * tokens). Sorted once, the maximum is the first remaining entry and the entries within the
     * tolerance of it are a prefix from there: each choice scans only that prefix. */
    ranked *sorted = scratch;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!excluded[i])
            sorted[m++] = (ranked){v[i], (uint32_t)i};
    qsort(sorted, m, sizeof *sorted, cmp_ranked);
    size_t top = 0;
    for (size_t t = 0; t < r; t++) {
        while (top < m && excluded[sorted[top].i])
            top++;
        if (top == m)
            return;
        double best = sorted[top].v;
        double threshold = best - SP_TIE_TOL * fmax(1.0, fabs(best));
        size_t j = SIZE_MAX;
        for (size_t u = top; u < m && sorted[u].v >= threshold; u++)
            if (!excluded[sorted[u].i] && sorted[u].i < j)
                j = sorted[u].i;
        if (j == SIZE_MAX) {
            /* Only NaN (or -inf against NaN) left: sp_choose takes the lowest index. */
            j = sp_choose(v, excluded, n);
        }
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
