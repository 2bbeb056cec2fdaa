/* Helpers shared by the benchmark programs: monotonic time, medians, synthetic token data. */
#ifndef SP_BENCH_UTIL_H
#define SP_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

double bench_now_ms(void);
/* Median of n values (sorts v in place). */
double bench_median(double *v, size_t n);
/* n x d tokens shaped like ViT patch tokens: `clusters` centres plus noise, so that pruning has
 * redundancy to find; deterministic for a seed. Returns NULL when out of memory. */
float *bench_tokens(size_t n, size_t d, size_t clusters, uint64_t seed);

#endif
