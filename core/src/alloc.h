/* Internal allocation wrappers for every allocation in core. In test builds compiled with
 * SP_FAULT_INJECTION, sp_fault_fail_after(n) makes the n-th next allocation on this thread fail, so
 * tests can walk every out-of-memory path (SQLite-style). Normal builds are plain malloc/free. */
#ifndef SP_ALLOC_H
#define SP_ALLOC_H

#include <stddef.h>

void *sp_malloc(size_t size);
void *sp_calloc(size_t count, size_t size);
void *sp_realloc(void *ptr, size_t size);
/* 64-byte aligned block (for BLAS operands), released with sp_free. */
void *sp_aligned_alloc(size_t size);
void sp_free(void *ptr);

/* count * size with overflow check: returns 0 (false) on overflow and leaves *out untouched. */
static inline int sp_mul_size(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return 0;
    *out = r;
    return 1;
}

/* Three-factor variant for n * d * sizeof(T). */
static inline int sp_mul3_size(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return sp_mul_size(a, b, &ab) && sp_mul_size(ab, c, out);
}

/* Allocates count elements of elem bytes, failing cleanly on overflow. */
void *sp_alloc_array(size_t count, size_t elem);

#ifdef SP_FAULT_INJECTION
/* Fail the allocation after `n` more succeed (n = 0: the next one fails); n < 0 disables.
 * Thread-local. */
void sp_fault_fail_after(long n);
/* Number of allocations failed by injection on this thread since the last sp_fault_fail_after. */
long sp_fault_injected(void);
#endif

#endif
