/* A stable merge sort of pointer arrays with a caller-supplied scratch array: O(n log n) in the
 * worst case whatever the input (qsort gives no such promise, and sorted indexes here are built
 * from untrusted files), and no allocation of its own. */
#ifndef SP_SORT_H
#define SP_SORT_H

#include <stddef.h>

typedef int (*sp_ptr_cmp)(const void *a, const void *b);

/* Sorts a[0..n) in place, keeping equal elements in their original order; tmp holds n pointers. */
void sp_sort_ptrs(const void **a, const void **tmp, size_t n, sp_ptr_cmp cmp);

#endif
